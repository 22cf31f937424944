"""Every sentence the assistant writes itself, per language, in one place.

Rules and guards pick ``WORDS[language]`` and fill a template; adding a language is adding one
:class:`Words`. (The words the assistant *reads* in questions — "¿tienen…?", "cheapest" — live
next to the patterns that use them in :mod:`rag.filters` and :mod:`rag.direct`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Words:
    language_name: str  # for the prompt's "Answer in …"
    open_quote: str
    close_quote: str
    refusal: str
    unverified: str  # the number check withheld the answer
    row_lacks: str  # the named product exists, its row does not answer
    missing_field: str  # {what}{subject}
    missing_subject: str  # {name}
    tags: dict[str, str] = field(default_factory=dict)
    allergens: dict[str, str] = field(default_factory=dict)  # canonical allergen -> how staff say it
    with_: str = "with"
    without: str = "without"
    price_word: str = "price"
    in_stock: str = "in stock"
    stock_left: str = ""
    stock_out: str = ""
    is_tag: str = ""
    is_not_tag: str = ""
    description: str = "Description"
    allergen_list_head: str = ""
    options_head: str = ""
    more: str = ""
    cheapest: str = ""
    most_expensive: str = ""
    sorted_best: str = ""  # {adj} {section} {name} {price}
    exists: str = ""
    portions: str = ""
    option_costs: str = ""  # {name} {option} {price}
    option_missing: str = ""  # {name} {option} {listed}
    costs: str = ""
    same_price: str = ""
    and_: str = " and "
    cheaper: str = ""
    dearer: str = ""
    compared: str = ""
    total: str = ""
    yes_listed: str = ""
    listed: str = ""
    recommend_head: str = ""
    recommend_other_language: str = ""
    evidence_head: str = ""  # {name}: the product whose descriptions are quoted
    code_is: str = ""
    contains_allergen: str = ""
    lacks_allergen: str = ""
    allergen_list: str = ""
    none_: str = "none"
    costs_and_colours: str = ""
    comes_in_asked: str = ""
    comes_in: str = ""
    closed: str = ""  # {day}
    closed_yes_no: str = ""
    opens: str = ""  # {day} {open} {close}
    opens_yes_no: str = ""

    def quote(self, name: object) -> str:
        return f"{self.open_quote}{name}{self.close_quote}"


WORDS: dict[str, Words] = {
    "en": Words(
        language_name="English", open_quote="“", close_quote="”",
        refusal="Sorry, that is not in the catalog.",
        unverified="I could not check that answer against the catalog, so here are the rows it should come from.",
        row_lacks="“{name}” is in the catalog, but its entry does not answer that.",
        missing_field="The catalog does not list {what}{subject}.", missing_subject=" for “{name}”",
        tags={"vegetarian": "vegetarian", "vegan": "vegan", "gluten-free": "gluten-free"},
        allergens={"egg": "egg", "dairy": "dairy", "gluten": "gluten", "nuts": "nuts", "peanuts": "peanuts",
                   "shellfish": "shellfish", "fish": "fish", "soy": "soy", "celery": "celery", "mustard": "mustard",
                   "sesame": "sesame", "sulphites": "sulphites"},
        stock_left="Yes, {stock} units of “{name}” are in stock.", stock_out="No, “{name}” is out of stock (0 units).",
        is_tag="Yes, “{name}” is {tag} according to the catalog.", is_not_tag="No, “{name}” is not {tag} according to the catalog.",
        allergen_list_head="By their allergen lists, these contain {listed}:", options_head="From the catalog",
        more="\n… and {n} more.", cheapest="cheapest", most_expensive="most expensive",
        sorted_best="The {adj} in {section} is “{name}” at {price}.",
        exists="Yes, “{name}” is in the catalog{at}.", portions="“{name}”: {listed}.",
        option_costs="“{name}”, {option}: {price}.",
        option_missing="“{name}” is not served as {option}; it comes as: {listed}.", costs="“{name}” costs {price}.",
        same_price="They cost the same: {names}, {price}.", cheaper="cheaper", dearer="more expensive",
        compared="“{name}” is {adj}: {price}, against {rest}.", total="Together: {total} — {parts}.",
        yes_listed="Yes, in the catalog:", listed="In the catalog:", recommend_head="From the catalog, for that:",
        recommend_other_language="From the catalog, these rows' descriptions mention it:",
        evidence_head="What the catalog says about “{name}”:", code_is="{code} is “{name}”{at}.",
        contains_allergen="Yes, “{name}” contains {allergen}",
        lacks_allergen="Not listed: the allergens of “{name}” do not include {allergen}",
        allergen_list=" (allergens: {listed}).",
        costs_and_colours="“{name}” costs {price} and comes in: {listed}.",
        comes_in_asked="Yes, “{name}” comes in {colour}. Colours: {listed}.", comes_in="“{name}” comes in: {listed}.",
        closed="We are closed on {day}s.", closed_yes_no="No, we are closed on {day}s.",
        opens="On {day}s we open at {open} and close at {close}.",
        opens_yes_no="Yes, on {day}s we open at {open} and close at {close}.",
    ),
    "es": Words(
        language_name="Spanish", open_quote="«", close_quote="»",
        refusal="Lo siento, eso no está en el catálogo.",
        unverified="No pude comprobar esa respuesta con el catálogo; estas son las fichas de donde debería salir.",
        row_lacks="«{name}» está en el catálogo, pero su ficha no responde a eso.",
        missing_field="El catálogo no indica {what}{subject}.", missing_subject=" de «{name}»",
        tags={"vegetarian": "vegetariano", "vegan": "vegano", "gluten-free": "sin gluten"},
        allergens={"egg": "huevo", "dairy": "lácteos", "gluten": "gluten", "nuts": "frutos secos", "peanuts": "cacahuete",
                   "shellfish": "marisco", "fish": "pescado", "soy": "soja", "celery": "apio", "mustard": "mostaza",
                   "sesame": "sésamo", "sulphites": "sulfitos"},
        with_="con", without="sin", price_word="precio", in_stock="en stock", description="Descripción",
        stock_left="Sí, quedan {stock} unidades de «{name}».", stock_out="No, «{name}» está agotado (0 en stock).",
        is_tag="Sí, «{name}» es {tag} según el catálogo.", is_not_tag="No, «{name}» no es {tag} según el catálogo.",
        allergen_list_head="Según su lista de alérgenos, llevan {listed}:", options_head="Opciones del catálogo",
        more="\n… y {n} más.", cheapest="más barato", most_expensive="más caro",
        sorted_best="El producto {adj} de {section} es «{name}», a {price}.",
        exists="Sí, «{name}» está en el catálogo{at}.", portions="«{name}»: {listed}.",
        option_costs="«{name}», {option}: {price}.",
        option_missing="«{name}» no se sirve en {option}; se sirve en: {listed}.", costs="«{name}» cuesta {price}.",
        same_price="Cuestan lo mismo: {names}, {price}.", and_=" y ", cheaper="más barato", dearer="más caro",
        compared="«{name}» es {adj}: {price}, frente a {rest}.", total="En total: {total} — {parts}.",
        yes_listed="Sí, en el catálogo:", listed="En el catálogo:", recommend_head="Según el catálogo, para eso:",
        recommend_other_language="Según el catálogo, la ficha de estos lo menciona:",
        evidence_head="Lo que dice el catálogo de «{name}»:", code_is="{code} es «{name}»{at}.",
        contains_allergen="Sí, «{name}» lleva {allergen}",
        lacks_allergen="No figura: la lista de alérgenos de «{name}» no lo incluye",
        allergen_list=" (alérgenos: {listed}).", none_="ninguno",
        costs_and_colours="«{name}» cuesta {price} y viene en: {listed}.",
        comes_in_asked="Sí, «{name}» viene en {colour}. Colores: {listed}.", comes_in="«{name}» viene en: {listed}.",
        closed="Los {day} cerramos.", closed_yes_no="No, los {day} cerramos.",
        opens="Los {day} abrimos a las {open} y cerramos a las {close}.",
        opens_yes_no="Sí, los {day} abrimos a las {open} y cerramos a las {close}.",
    ),
}
