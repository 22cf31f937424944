"""Structured filters read from the question and applied on row metadata, not left to the LLM.

"vegetarian pasta", "laptops under $1,000", "¿platos sin gluten?", "in stock" become hard
filters over the store's rows; a category named in the question ("pizzas", "laptops") only
boosts, because "a sleeve for my laptop" is not a question about the Laptops category.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.documents import Document

from rag.text import normalise, phrase, tokenize

# canonical tag -> (question patterns, row evidence)
DIETARY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "vegan": ((r"\bvegan", r"\bvegano", r"\bvegana"), ("vegan",)),
    "vegetarian": ((r"\bvegetarian", r"\bvegetarian[oa]s?\b", r"\bveggie"), ("vegetarian", "vegetariano", "vegetariana")),
    "gluten-free": ((r"\bgluten[- ]free\b", r"\bsin gluten\b", r"\bceliac", r"\bcelíac", r"\bceliac[oa]s?\b", r"\bno gluten\b"),
                    ("gluten-free", "gluten free", "sin gluten")),
}

# canonical allergen -> words staff use for it (EN/ES, accent-free)
ALLERGENS: dict[str, tuple[str, ...]] = {
    "egg": ("egg", "eggs", "huevo", "huevos"),
    "dairy": ("dairy", "milk", "lactose", "lacteos", "lacteo", "leche", "lactosa"),
    "gluten": ("gluten", "wheat", "trigo"),
    "nuts": ("nuts", "nut", "frutos secos", "nueces", "almendras", "tree nuts"),
    "peanuts": ("peanut", "peanuts", "cacahuete", "cacahuetes", "mani"),
    "shellfish": ("shellfish", "seafood", "marisco", "mariscos"),
    "fish": ("fish", "pescado"),
    "soy": ("soy", "soya", "soja"),
    "celery": ("celery", "apio"),
    "mustard": ("mustard", "mostaza"),
    "sesame": ("sesame", "sesamo"),
    "sulphites": ("sulphites", "sulfites", "sulfitos"),
}
_ALLERGEN_WORD = {a: r"\b(" + "|".join(re.escape(w) for w in words) + r")\b" for a, words in ALLERGENS.items()}
# "platos sin huevo", "nut-free desserts", "dishes without dairy": rows whose allergen list lacks it
_ALLERGEN_FREE = r"\b(sin|without|no|libres? de|free of)\s+(\w+\s+)?{w}|{w}[- ]free\b"
# "Tengo alergia a los frutos secos, ¿qué platos debo evitar?": rows whose allergen list has it
ALLERGY = re.compile(r"\b(alergi\w*|allerg\w*|intoleran\w*|evitar|avoid|cuales llevan|que platos llevan|which dishes (contain|have))\b")


def is_row(doc: Document) -> bool:
    """A product row, as opposed to a policy/info section (``kind`` metadata set by ingest)."""
    return doc.metadata.get("kind", "row") == "row"


def product_key(doc: Document) -> str:
    """Which product a row is: rows with the same name (a dish per portion, a product's Q&A snippets) are one."""
    return phrase(str(doc.metadata.get("name", doc.id)))


def section_values(doc: Document, keys: tuple[str, ...] = ()) -> list[str]:
    """The row's section at every level (category, family, sub-category...: ``keys`` from ingest)."""
    return [str(doc.metadata[k]) for k in (keys or ("category",)) if doc.metadata.get(k)]


def in_sections(doc: Document, sections: tuple[str, ...], keys: tuple[str, ...] = ()) -> bool:
    """Is the row in one of the named sections, at any level?"""
    return bool(sections) and any(v in sections for v in section_values(doc, keys))


def of_kind(doc: Document, sections: tuple[str, ...], keys: tuple[str, ...] = ()) -> bool:
    """In one of the named sections, or named as one: stock exports file the same fryers under "Freidora",
    "HOGAR" and "Stock", but every one of them is called "Freidora …". The name must *start* with the
    section's word: a "tomtoc Protective Laptop Sleeve" is not a laptop."""
    if in_sections(doc, sections, keys):
        return True
    first = _stems(" ".join(re.findall(r"[a-z0-9]+", normalise(str(doc.metadata.get("name", ""))))[:1]))
    return bool(first) and any(_stems(section) == first for section in sections)


def allergen_field(doc: Document) -> str | None:
    """The metadata key of the row's allergen list (the ``allergens`` role, set at ingest), if it has one."""
    return "allergens" if "allergens" in doc.metadata else None


def _allergens(question: str, tags: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(allergens rows must contain, allergens rows must not contain) asked for in ``question``."""
    q = normalise(question)
    asked = [a for a, pat in _ALLERGEN_WORD.items() if re.search(pat, q)]
    if "gluten-free" in tags and "gluten" in asked:
        asked.remove("gluten")  # "sin gluten" is the dietary tag
    free = tuple(a for a in asked if re.search(_ALLERGEN_FREE.format(w=_ALLERGEN_WORD[a]), q))
    has = tuple(a for a in asked if a not in free) if ALLERGY.search(q) else ()
    return has, free


# Words that state a constraint rather than name a product ("Pasta sin Gluten" is not named by "gluten-free pizzas").
FILTER_TOKENS = frozenset({"vegan", "veget", "veggi", "glute", "free", "celia", "sin"}
                          | {t for words in ALLERGENS.values() for w in words for t in tokenize(w)})

_NUM = r"\$?\s*(\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d{1,2})?)\s*(?:\$|usd|dolares|dollars|euros?|€)?"
MAX_PRICE = re.compile(
    r"\b(?:under|below|less than|cheaper than|up to|at most|max(?:imum)?|no more than|menos de|por debajo de|"
    r"hasta|como maximo|maximo|inferior a|mas barat[oa]s? que)\s*" + _NUM
)
MIN_PRICE = re.compile(r"\b(?:over|above|more than|at least|mas de|por encima de|minimo|como minimo|superior a)\s*" + _NUM)
CHEAPEST = re.compile(r"\b(cheapest|least expensive|lowest price|mas barat[oa]s?|menos car[oa]s?|mas economic[oa]s?)\b")
PRICIEST = re.compile(r"\b(most expensive|priciest|highest price|mas car[oa]s?)\b")
# "Do you have X?" / "¿Tienen X?": an existence question (answered or refused from the rows).
EXISTS = re.compile(r"^\W*(do you (have|sell|carry|stock)|have you got|is there|tienen|teneis|venden|vendeis|hay)\b")
# "Which laptop would you recommend for video editing?": several candidate rows, judged by their descriptions.
RECOMMEND = re.compile(
    r"\b(recommend|suggest|best for|good for|ideal for|recomiend\w*|recomend\w*|sugier\w*|suger\w*|ideal para|"
    r"buen[oa] para|mejor para)\b"
)
IN_STOCK = re.compile(r"\b(in stock|available now|en stock|disponibles|hay existencias)\b")
LIST_WORDS = re.compile(
    r"\b(options|which|what (?:\w+ )?do you have|list|all|any|opciones|cuales|que (?:\w+ )?(?:tienen|hay)|"
    r"tienen .*s\b|hay .*s\b|platos|dishes)\b"
)


def _amount(raw: str) -> float:
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw):
        return float(re.sub(r"[.,]", "", raw))
    return float(raw.replace(",", "."))


@dataclass(frozen=True)
class QueryFilter:
    """Constraints understood from one question."""

    tags: tuple[str, ...] = ()
    allergens_in: tuple[str, ...] = ()  # canonical allergens (see ALLERGENS) the row's allergen list must include
    allergens_out: tuple[str, ...] = ()  # ... and must not include
    max_price: float | None = None
    min_price: float | None = None
    in_stock: bool = False
    categories: tuple[str, ...] = ()  # soft: used to boost, never to exclude (except to rank by price)
    wants_list: bool = False
    sort: str | None = None  # "asc" for cheapest, "desc" for most expensive

    @property
    def hard(self) -> bool:
        return bool(self.tags or self.allergens_in or self.allergens_out or self.max_price is not None
                    or self.min_price is not None or self.in_stock)

    def describe(self) -> str:
        parts = list(self.tags) + [f"with {a}" for a in self.allergens_in] + [f"without {a}" for a in self.allergens_out]
        if self.max_price is not None:
            parts.append(f"price <= {self.max_price:g}")
        if self.min_price is not None:
            parts.append(f"price >= {self.min_price:g}")
        if self.in_stock:
            parts.append("in stock")
        return ", ".join(parts)


def _stem(word: str) -> str:
    """A section word's comparable form: plural cut, then 5 letters ("vinos"/"vino", "quesos"/"queso", "pizzas"/"pizza")."""
    for end in ("es", "s"):
        if word.endswith(end) and len(word) - len(end) >= 4:
            word = word[: -len(end)]
            break
    return word[:5]


def named_sections(question: str, sections) -> tuple[str, ...]:
    """The sections (at any level) a question names, by their words; when several match, those whose
    words the question covers best ("freidora de aire": "Freidora", not "Aire acondicionado")."""
    q_words = set(_stems(question))
    coverage = {s: c for s in sections if (c := _coverage(q_words, s)) > 0}
    best = max(coverage.values(), default=0)
    return tuple(sorted(s for s, c in coverage.items() if c == best))


def _stems(text: str) -> list[str]:
    """The comparable forms of a text's words of four letters or more (see :func:`_stem`)."""
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", normalise(text)) if len(w) >= 4]


def _coverage(q_words: set[str], section: str) -> float:
    words = _stems(section)
    return sum(w in q_words for w in words) / len(words) if words else 0.0


def section_coverage(question: str, section: str) -> float:
    """The share of a section name's words the question says ("freidora de aire": 1.0 of "Freidora", 0.5 of
    "Aire acondicionado")."""
    return _coverage(set(_stems(question)), section)


def has_tag(text: str, tag: str) -> bool:
    """Does ``text`` say the dietary tag ("Cup4Cup Gluten Free Flour" says gluten-free)?"""
    return any(re.search(p, normalise(text)) for p in DIETARY[tag][0])


def without_tags(question: str, tags: Sequence[str]) -> str:
    """The question with the words of these dietary tags blanked out."""
    q = normalise(question)
    for tag in tags:
        for p in DIETARY[tag][0]:
            q = re.sub(p + r"\w*", " ", q)
    return q


def parse_filters(question: str, categories: set[str] | frozenset[str] = frozenset()) -> QueryFilter:
    q = normalise(question)
    tags = [t for t, (pats, _) in DIETARY.items() if any(re.search(p, q) for p in pats)]
    if "vegan" in tags and "vegetarian" in tags and not re.search(r"\bvegetarian", q):
        tags.remove("vegetarian")  # "vegano" matched both spellings; vegan implies vegetarian anyway
    allergens_in, allergens_out = _allergens(question, tags)
    mx = MAX_PRICE.search(q)
    mn = MIN_PRICE.search(q)
    cats = named_sections(q, categories)
    return QueryFilter(
        tags=tuple(tags),
        allergens_in=allergens_in,
        allergens_out=allergens_out,
        max_price=_amount(mx.group(1)) if mx else None,
        min_price=_amount(mn.group(1)) if mn else None,
        in_stock=bool(IN_STOCK.search(q)),
        categories=cats,
        wants_list=bool(tags or allergens_in or allergens_out) or bool(mx or mn) or bool(LIST_WORDS.search(q)) or bool(RECOMMEND.search(q)),
        sort="asc" if CHEAPEST.search(q) and not mx else "desc" if PRICIEST.search(q) else None,
    )


def matches(doc: Document, f: QueryFilter) -> bool:
    """Does this row satisfy every hard constraint? Rows without a price never match a price bound."""
    meta = doc.metadata
    if f.tags:
        text = normalise(" ".join([str(meta.get("tags", "")), doc.page_content]))
        if not all(any(e in text for e in DIETARY[t][1]) for t in f.tags):
            return False
    if f.allergens_in or f.allergens_out:
        field = allergen_field(doc)
        if field is None:
            return False
        listed = normalise(str(meta[field]))
        if not all(re.search(_ALLERGEN_WORD[a], listed) for a in f.allergens_in):
            return False
        if any(re.search(_ALLERGEN_WORD[a], listed) for a in f.allergens_out):
            return False
    price = meta.get("price")
    if f.max_price is not None and not (isinstance(price, (int, float)) and price <= f.max_price):
        return False
    if f.min_price is not None and not (isinstance(price, (int, float)) and price >= f.min_price):
        return False
    if f.in_stock:
        stock = meta.get("stock")
        if not (isinstance(stock, (int, float)) and stock > 0):
            return False
    return True

