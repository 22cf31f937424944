"""Exact answers for questions the metadata settles, without asking the LLM.

A 1.5B model will happily say the carbonara is vegetarian or list a $1,899 laptop as
"under $1,000". When the question is a structured one — a dietary yes/no about a named
dish, a filtered list, the cheapest/most expensive of a category — the rows already hold
the exact answer, so we write it from them: correct, cited and instant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from langchain_core.documents import Document

from rag.filters import (ALLERGENS, EXISTS, RECOMMEND, QueryFilter, allergen_field, in_sections, is_row, matches, of_kind,
                         product_key)
from rag.lexicon import WORDS
from rag.money import Money
from rag.query import Query
from rag.hours import asked_day, hours_sentence, parse_hours
from rag.prompts import asked_row, asked_rows, detect_language, measure_words, names_match, shared_words
from rag.text import normalise, tokenize

MAX_LISTED = 12


@dataclass(frozen=True)
class DirectAnswer:
    text: str
    cited: tuple[str, ...]
    rule: str = ""  # the name of the rule that wrote it (see RULES)


def _distinct(rows: Sequence[Document]) -> list[Document]:
    """One row per product: rows with the same name (a product's Q&A snippets) are listed once."""
    seen: set[str] = set()
    out = []
    for d in rows:
        key = product_key(d)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _row_line(doc: Document, money: Money) -> str:
    price = doc.metadata.get("price")
    name = doc.metadata.get("name", doc.id)
    return f"- {name} — {money(price)}" if isinstance(price, (int, float)) else f"- {name}"


def _describe(f: QueryFilter, language: str, money: Money) -> str:
    w = WORDS[language]
    parts = [w.tags[t] for t in f.tags] + list(f.categories)
    parts += [f"{w.with_} {w.allergens[a]}" for a in f.allergens_in]
    parts += [f"{w.without} {w.allergens[a]}" for a in f.allergens_out]
    if f.max_price is not None:
        parts.append(f"{w.price_word} ≤ {money(f.max_price)}")
    if f.min_price is not None:
        parts.append(f"{w.price_word} ≥ {money(f.min_price)}")
    if f.in_stock:
        parts.append(w.in_stock)
    return ", ".join(parts)


@dataclass(frozen=True)
class Rule:
    """One exact-answer rule: a name (recorded as the answer's ``method``) and a function of the query."""

    name: str
    answer: Callable[[Query], DirectAnswer | None]


def direct_answer(q: Query) -> DirectAnswer | None:
    """The exact answer of the first rule of :data:`RULES` that settles the question, else None."""
    if q.meaning is None or not q.docs:
        return None
    for rule in RULES:
        found = rule.answer(q)
        if found is not None:
            return replace(found, rule=rule.name)
    return None


def _named_first(q: Query) -> Document | None:
    return next((d for i in q.meaning.named_ids[:1] for d in q.docs if d.id == i), None)


# "¿Cuántas unidades quedan del X?", "how many are left?" (not "how many units come in the box")
STOCK_ASK = re.compile(r"\b(cuant[oa]s\b.*\b(hay|quedan?|tienen|tenes|teneis)\b|"
                       r"(hay|tienen|queda) stock|how many (units )?(are |do you have )?(left|in stock)|how many do you have)\b"
                       r"(?!.*\b(box|pack|caja|paquete|bolsa)\b)")


def _stock_answer(q: Query) -> DirectAnswer | None:
    """'¿Hay stock del Pixel 8?' / '¿Cuántas unidades quedan del X?' — the asked row's stock count."""
    language = q.language
    if not (q.meaning.filter.in_stock or STOCK_ASK.search(normalise(q.question))) or q.meaning.list_question:
        return None
    doc = asked_row(q.question, q.docs) or _named_first(q)
    if doc is None:
        return None
    name, stock = doc.metadata.get("name", doc.id), doc.metadata.get("stock")
    if not isinstance(stock, (int, float)):
        return None
    w = WORDS[language]
    text = w.stock_left.format(stock=f"{stock:g}", name=name) if stock > 0 else w.stock_out.format(name=name)
    return DirectAnswer(text, (doc.id,))


def _dietary_answer(q: Query) -> DirectAnswer | None:
    """'Is the Margherita vegetarian?' — yes/no from the named row's dietary tags."""
    f, doc, language = q.meaning.filter, _named_first(q), q.language
    if not f.tags or doc is None or q.meaning.list_question:
        return None
    name = doc.metadata.get("name", doc.id)
    has = matches(doc, QueryFilter(tags=f.tags))
    w = WORDS[language]
    tag = " / ".join(w.tags[t] for t in f.tags)
    text = (w.is_tag if has else w.is_not_tag).format(name=name, tag=tag)
    description = str(doc.metadata.get("description", "")).strip()
    if description and _in_language(description, language):  # the ingredients show staff why
        text += f" {w.description}: {description}"
    return DirectAnswer(text, (doc.id,))


def _filtered_list_answer(q: Query) -> DirectAnswer | None:
    """'Vegetarian pasta under $15' — every row meeting the hard filters, cheapest first."""
    f, meaning, language, money = q.meaning.filter, q.meaning, q.language, q.money
    if not (meaning.list_question and f.hard):
        return None
    rows = [d for d in q.docs if matches(d, f) and is_row(d)]
    in_category = [d for d in rows if in_sections(d, f.categories, q.store.keys("category"))]
    if f.categories and not in_category:
        return None  # "gluten-free pizzas" and no pizza is: a policy line may say more ("any pizza on a gluten-free base")
    rows = _distinct(sorted(in_category or rows, key=lambda d: (d.metadata.get("price", float("inf")), str(d.metadata.get("name")))))
    if not rows:
        return None
    shown = rows[:MAX_LISTED]
    w = WORDS[language]
    if f.allergens_in and not replace(f, allergens_in=()).hard:  # "I'm allergic to nuts: what should I avoid?"
        head = w.allergen_list_head.format(listed=", ".join(w.allergens[a] for a in f.allergens_in))
    else:
        head = f"{w.options_head} ({_describe(f, language, money)}):"
    text = f"{head}\n" + "\n".join(_row_line(d, money) for d in shown)
    more = max(meaning.matching, len(rows)) - len(shown)
    if more > 0:
        text += w.more.format(n=more)
    return DirectAnswer(text, tuple(d.id for d in shown))


def _cheapest_answer(q: Query) -> DirectAnswer | None:
    """'The cheapest pizza' / 'el más caro de los quesos' — by price within the named section (any level)."""
    f, language, money = q.meaning.filter, q.language, q.money
    if not f.sort or not f.categories or _named_first(q) is not None:
        return None
    keys = q.store.keys("price_option")
    option = asked_option(q.question, keys)

    def value(d: Document) -> float | None:
        """The price compared: the named size's, else the lowest (cheapest) or highest (dearest) offered."""
        if option is not None:
            v = d.metadata.get(option)
            return v if isinstance(v, (int, float)) else None
        offered = [v for _, v in _options(d, keys)]
        if offered:
            return min(offered) if f.sort == "asc" else max(offered)
        v = d.metadata.get("price")
        return v if isinstance(v, (int, float)) else None

    rows = [d for d in q.docs if of_kind(d, f.categories, q.store.keys("category")) and value(d) is not None]
    if not rows:
        return None
    pick = min if f.sort == "asc" else max
    best = pick(rows, key=value)
    name, price = best.metadata.get("name", best.id), money(value(best))
    if keys and _options(best, keys):  # say which size the price is for
        size = option or next(k for k, v in _options(best, keys) if v == value(best))
        price = f"{price} ({_label(size)})"
    w = WORDS[language]
    adj = w.cheapest if f.sort == "asc" else w.most_expensive
    text = w.sorted_best.format(adj=adj, section=", ".join(f.categories), name=name, price=price)
    return DirectAnswer(text, (best.id,))


def _exists_answer(q: Query) -> DirectAnswer | None:
    """'¿Tienen Spaghetti Carbonara?' when the question names exactly one row in full and asks nothing else."""
    question, docs, meaning, language, money = q.question, q.docs, q.meaning, q.language, q.money
    if not EXISTS.search(normalise(question)) or len(meaning.full_name_ids) != 1 or meaning.filter.hard:
        return None
    doc = next((d for d in docs if d.id == meaning.full_name_ids[0]), None)
    if doc is None:
        return None
    name = str(doc.metadata.get("name", doc.id))
    leftover = set(tokenize(question)) - set(tokenize(name)) - {"tiene", "tenei", "vende", "venden", "sell", "carry", "stock", "got", "there"}
    if leftover:
        return None  # "do you have the iPhone 15 in blue?" asks more: let the model read the row
    price = doc.metadata.get("price")
    at = f", {money(price)}" if isinstance(price, (int, float)) else ""
    text = WORDS[language].exists.format(name=name, at=at)
    return DirectAnswer(text, (doc.id,))


PRICE_ASK = re.compile(r"^\W*(cuanto (cuesta|vale|sale)|que precio tiene|a cuanto esta|how much (is|does|are)|"
                       r"what is the price of|what's the price of|precio del?)\b")
# "¿En qué tamaños se sirve…?", "What sizes does … come in?": the portions or sizes a row is priced in
PORTIONS_ASK = re.compile(r"\b(que|en que|cuales?) (raciones|tamanos|formatos|medidas|porciones)\b|"
                          r"\b(what|which) (sizes|portions|formats)\b")


def asked_option(question: str, keys: Sequence[str]) -> str | None:
    """The portion/size column a question names ("la media tabla de…" -> ``media_tabla``), longest name first."""
    q = f" {' '.join(re.findall(r'[a-z0-9]+', normalise(question)))} "
    for key in sorted(keys, key=len, reverse=True):
        label = " ".join(re.findall(r"[a-z0-9]+", normalise(key)))
        plural = " ".join(rf"{re.escape(w)}(?:s|es)?" for w in label.split())  # "por copas", "dos medias tablas"
        if label and re.search(rf" {plural} ", q):
            return key
    return None


def _options(doc: Document, keys: Sequence[str]) -> list[tuple[str, float]]:
    return [(k, doc.metadata[k]) for k in keys if isinstance(doc.metadata.get(k), (int, float))]


def _label(key: str) -> str:
    return key.replace("_", " ")


def _price_answer(query: Query) -> DirectAnswer | None:
    """'¿Cuánto cuesta la Lasaña de la Casa?' — one named product, price asked and nothing else.

    A row priced per portion or size answers with each offered size, or with the one the question
    names ("¿cuánto cuesta la media tabla de…?"), or says that size is not offered.
    """
    question, docs, meaning, language, money = query.question, query.docs, query.meaning, query.language, query.money
    q = normalise(question)
    wanted = meaning.exact_ids or meaning.full_name_ids
    if not wanted:  # a long name asked by some of its words: the row the question is clearly about, if its names match
        about = asked_row(question, docs)
        wanted = (about.id,) if about is not None and names_match(question, about) else ()
    if not (PRICE_ASK.search(q) or PORTIONS_ASK.search(q)) or len(wanted) != 1 or meaning.list_question or meaning.filter.hard:
        return None
    doc = next((d for d in docs if d.id == wanted[0]), None)
    price = doc.metadata.get("price") if doc is not None else None
    if not isinstance(price, (int, float)):
        return None
    keys = query.store.keys("price_option")
    option = asked_option(question, keys)
    name = str(doc.metadata.get("name", doc.id))
    rest = PORTIONS_ASK.sub(" ", PRICE_ASK.sub(" ", q))
    own = set(tokenize(name)) | set(tokenize(str(doc.metadata.get("id", doc.id))))
    asked = (set(tokenize(rest)) - own - set(tokenize(_label(option or ""))) - measure_words(question, doc)
             - {"cost", "costa", "cuest", "price", "preci", "sirve", "servi", "serve", "come", "vende", "sell", "precio"})
    asked = {t for t in asked if not shared_words({t}, own)}  # the row abbreviates it: "Vent." for "ventilador"
    if asked:
        return None  # "how much is the iPhone 15 with AppleCare?" asks more than the row's price
    w, options = WORDS[language], _options(doc, keys)
    listed = ", ".join(f"{_label(k)} {money(v)}" for k, v in options)
    if option is not None:
        value = doc.metadata.get(option)
        text = (w.option_costs.format(name=name, option=_label(option), price=money(value)) if isinstance(value, (int, float))
                else w.option_missing.format(name=name, option=_label(option), listed=listed))
    elif len(options) > 1 or (options and PORTIONS_ASK.search(q)):  # portions or sizes: each price, as listed
        text = w.portions.format(name=name, listed=listed)
    elif PRICE_ASK.search(q):
        text = w.costs.format(name=name, price=money(price))
    else:
        return None
    return DirectAnswer(text, (doc.id,))


CHEAPER = re.compile(r"\b(cheaper|less expensive|lower price|mas barat[oa]|menos car[oa]|mas economic[oa])\b")
DEARER = re.compile(r"\b(more expensive|pricier|costs? more|higher price|mas car[oa]|cuesta mas)\b")
TOTAL = re.compile(r"\b(total|together|in all|both|sum|juntos|juntas|en total|los dos|las dos|ambos|ambas)\b")


def _named_priced(question: str, docs: Sequence[Document], meaning) -> list[Document] | None:
    """The rows named in full, in question order, when there are two or more and all have a price."""
    wanted = list(dict.fromkeys(meaning.exact_ids + meaning.full_name_ids))
    rows = [d for i in wanted for d in docs if d.id == i]
    if len(rows) < 2 or len(rows) != len(wanted) or meaning.filter.hard:
        return None
    if not all(isinstance(d.metadata.get("price"), (int, float)) for d in rows):
        return None
    q = normalise(question)

    def position(doc: Document) -> int:
        return min((q.find(w) for w in normalise(str(doc.metadata.get("name", ""))).split() if w in q), default=len(q))

    return sorted(rows, key=position)


def _compare_answer(query: Query) -> DirectAnswer | None:
    """'¿Qué es más barato, el iPhone 15 o el Pixel 8?' — two or more named products compared by price."""
    question, docs, meaning, language, money = query.question, query.docs, query.meaning, query.language, query.money
    q = normalise(question)
    cheaper, dearer = CHEAPER.search(q), DEARER.search(q)
    if not (cheaper or dearer) or (cheaper and dearer):
        return None
    rows = _named_priced(question, docs, meaning)
    if rows is None:
        return None
    ranked = sorted(rows, key=lambda d: d.metadata["price"], reverse=bool(dearer))
    best, others = ranked[0], ranked[1:]
    w = WORDS[language]
    if any(o.metadata["price"] == best.metadata["price"] for o in others):
        same = w.and_.join(w.quote(d.metadata["name"]) for d in ranked)
        text = w.same_price.format(names=same, price=money(best.metadata["price"]))
        return DirectAnswer(text, tuple(d.id for d in ranked))
    rest = ", ".join(f"{w.quote(o.metadata['name'])} ({money(o.metadata['price'])})" for o in others)
    text = w.compared.format(name=best.metadata["name"], adj=w.cheaper if cheaper else w.dearer,
                             price=money(best.metadata["price"]), rest=rest)
    return DirectAnswer(text, tuple(d.id for d in ranked))


def _total_answer(query: Query) -> DirectAnswer | None:
    """'How much would an iPhone 15 plus AirPods Pro cost together?' — the sum of named products' prices.

    Only one of each: a question with quantities ("two pizzas") is left to the model.
    """
    question, docs, meaning, language, money = query.question, query.docs, query.meaning, query.language, query.money
    q = normalise(question)
    if not TOTAL.search(q):
        return None
    rows = _named_priced(question, docs, meaning)
    if rows is None:
        return None
    names = " ".join(normalise(str(d.metadata.get("name", ""))) for d in rows)
    if set(re.findall(r"\d+", q)) - set(re.findall(r"\d+", names)) or re.search(r"\b(two|three|dos|tres|cuatro|four)\b", q):
        return None
    total = sum(d.metadata["price"] for d in rows)
    parts = " + ".join(f"{d.metadata['name']} ({money(d.metadata['price'])})" for d in rows)
    text = WORDS[language].total.format(total=money(total), parts=parts)
    return DirectAnswer(text, tuple(d.id for d in rows))


def _kind_answer(q: Query) -> DirectAnswer | None:
    """'¿Tienen monitores 4K?' / 'What smartwatches do you sell?' — the rows of that kind, from their names."""
    question, docs, meaning, language, money = q.question, q.docs, q.meaning, q.language, q.money
    kind = getattr(meaning, "kind_ids", ())
    rows = [d for i in kind for d in docs if d.id == i]
    if not rows:
        return None
    rows = _distinct(sorted(rows, key=lambda d: (d.metadata.get("price", float("inf")), str(d.metadata.get("name")))))
    shown = rows[:MAX_LISTED]
    w = WORDS[language]
    head = w.yes_listed if EXISTS.search(normalise(question)) else w.listed
    text = head + "\n" + "\n".join(_row_line(d, money) for d in shown)
    more = len(kind) - len(shown)
    if more > 0:
        text += w.more.format(n=more)
    return DirectAnswer(text, tuple(d.id for d in shown))


_NOT_A_NEED = {"recom", "sugge", "sugie", "need", "neces", "quier", "want", "busco", "what", "which", "best", "good",
               "ideal", "mejor", "bueno", "buena", "would", "could", "should", "you", "some", "algun", "puede", "can",
               "that", "this", "my"}
MAX_RECOMMENDED = 3


def _recommend_answer(query: Query) -> DirectAnswer | None:
    """'Which laptop would you recommend for video editing?' — the rows whose own description says so.

    Only when at least two words of the need ("video", "editing") appear in a row's description
    or specs: then that text is the recommendation, quoted and priced. Otherwise (a Spanish need
    over English rows, a vague need) the model reads the rows.
    """
    question, docs, meaning, language, money = query.question, query.docs, query.meaning, query.language, query.money
    q = normalise(question)
    if not RECOMMEND.search(q) or meaning.full_name_ids or meaning.exact_ids:
        return None
    # a need is matched in the asker's words: a dictionary's words ("cheap", "battery" for a Spanish question) would
    # recommend whatever row says them, of any kind (a tablet for "un teléfono barato con buena batería")
    need = ({t for t in tokenize(RECOMMEND.sub(" ", q)) if len(t) >= 3} - _NOT_A_NEED
            - set(tokenize(" ".join(query.bridged))))
    scored = []
    for d in docs:
        if not is_row(d):
            continue
        text = f"{d.metadata.get('description', '')} {d.metadata.get('specs', '')}"
        scored.append((len(need & set(tokenize(text))), d))
    best = max((n for n, _ in scored), default=0)
    if best < 2:
        return None
    picks = [d for n, d in scored if n == best][:MAX_RECOMMENDED]
    whys = [str(d.metadata.get("description") or d.metadata.get("specs") or "").strip() for d in picks]
    if all(_in_language(w, language) for w in whys):
        head = WORDS[language].recommend_head
        lines = [_row_line(d, money) + (f": {w}" if w else "") for d, w in zip(picks, whys, strict=True)]
    else:  # descriptions in another language are not quoted into the answer: the rows are shown below it
        head = WORDS[language].recommend_other_language
        lines = [_row_line(d, money) for d in picks]
    return DirectAnswer(head + "\n" + "\n".join(lines), tuple(d.id for d in picks))


def _in_language(text: str, language: str) -> bool:
    """Can this row text be quoted in an answer in ``language``? (Empty text always can.)"""
    return not text or detect_language(text) == language


WHAT_IS = re.compile(r"^\W*(what is|what's|que es|what are)\s+(the |el |la |lo )?(?P<code>[a-z0-9]+(?:[-_][a-z0-9]+)+)\W*$")


def _id_answer(q: Query) -> DirectAnswer | None:
    """'What is TS-ACC-003?' — the row with that id: its name, price and description."""
    question, docs, meaning, language, money = q.question, q.docs, q.meaning, q.language, q.money
    if len(meaning.exact_ids) != 1 or not WHAT_IS.search(normalise(question)):
        return None
    doc = next((d for d in docs if d.id == meaning.exact_ids[0]), None)
    if doc is None:
        return None
    name, price = doc.metadata.get("name", doc.id), doc.metadata.get("price")
    at = f" ({money(price)})" if isinstance(price, (int, float)) else ""
    about = str(doc.metadata.get("description") or doc.metadata.get("category") or "").strip()
    code = doc.metadata.get("id", doc.id)
    text = WORDS[language].code_is.format(code=code, name=name, at=at)
    return DirectAnswer(text + (f" {about}" if about else ""), (doc.id,))


CONTAINS = re.compile(r"\b(lleva|llevan|contiene|contienen|tiene|tienen|has|have|contain|contains|con|with|is there|are there|hay|any)\b")


def _allergen_answer(query: Query) -> DirectAnswer | None:
    """'¿El Tiramisú lleva huevo?' — yes/no from the named dish's allergen list, never from the model.

    Only allergens are answered this way: an ingredient that is not an allergen ("¿lleva
    cebolla?") is not in that list, and its absence there proves nothing.
    """
    question, docs, meaning, language, money = query.question, query.docs, query.meaning, query.language, query.money
    q = normalise(question)
    asked = [a for a, words in ALLERGENS.items() if any(re.search(rf"\b{w}\b", q) for w in words)]
    wanted = meaning.exact_ids or meaning.full_name_ids or meaning.named_ids[:1]
    if len(asked) != 1 or len(wanted) != 1 or not CONTAINS.search(q) or meaning.list_question or meaning.filter.tags:
        return None
    doc = next((d for d in docs if d.id == wanted[0]), None)
    field = allergen_field(doc) if doc is not None else None
    if field is None:
        return None
    listed = str(doc.metadata[field])
    has = any(re.search(rf"\b{w}\b", normalise(listed)) for w in ALLERGENS[asked[0]])
    name = doc.metadata.get("name", doc.id)
    w = WORDS[language]
    text = (w.contains_allergen if has else w.lacks_allergen).format(name=name, allergen=w.allergens[asked[0]])
    text += w.allergen_list.format(listed=listed or w.none_)
    return DirectAnswer(text, (doc.id,))


PRICE_TOO = re.compile(r"\b(cuanto (cuesta|vale|sale)|precio|price|cost|costs|how much)\b")
COLOURS_ASK = re.compile(r"\b(colou?rs?|colores|color|come in|viene en|vienen en)\b")


def _colour_answer(query: Query) -> DirectAnswer | None:
    """'¿Qué colores tiene el Pixel 8?' / 'Does it come in pink?' — the named row's colours, as written."""
    question, docs, meaning, language, money = query.question, query.docs, query.meaning, query.language, query.money
    q = normalise(question)
    wanted = meaning.exact_ids or meaning.full_name_ids
    if not COLOURS_ASK.search(q) or len(wanted) != 1 or meaning.list_question:
        return None
    doc = next((d for d in docs if d.id == wanted[0]), None)
    field = "colours" if doc is not None and "colours" in doc.metadata else None  # the role set at ingest
    if field is None or not str(doc.metadata[field]).strip():
        return None
    colours = [c.strip() for c in re.split(r"[;,/]", str(doc.metadata[field])) if c.strip()]
    name = doc.metadata.get("name", doc.id)
    listed = ", ".join(colours)
    asked = [c for c in colours if re.search(rf"\b{re.escape(normalise(c))}\b", q)]
    price = doc.metadata.get("price")
    if PRICE_TOO.search(q) and isinstance(price, (int, float)):  # "¿Cuánto cuesta el X y de qué colores lo tienen?"
        text = WORDS[language].costs_and_colours.format(name=name, price=money(price), listed=listed)
    elif asked:
        text = WORDS[language].comes_in_asked.format(name=name, colour=asked[0], listed=listed)
    else:
        text = WORDS[language].comes_in.format(name=name, listed=listed)
    return DirectAnswer(text, (doc.id,))


def _hours_answer(q: Query) -> DirectAnswer | None:
    """'¿A qué hora abren los domingos?' / 'Are you open on Monday?' — from a section's weekday hours."""
    question, docs, meaning, language, money = q.question, q.docs, q.meaning, q.language, q.money
    day = asked_day(question)
    if day is None:
        return None
    for doc in docs:
        if is_row(doc):
            continue
        hours = parse_hours(doc.page_content).get(day)
        if hours is not None:
            return DirectAnswer(hours_sentence(question, day, hours, language), (doc.id,))
    return None


# "Does the X come with cleats?", "Is the back panel real wood?", "¿El X incluye el soporte?" (not "do you have X?")
YES_NO = re.compile(r"^\W*(is|are|was|were|do|does|did|can|could|will|would|should|has|have|"
                    r"es|son|esta|estan|lleva|llevan|trae|traen|viene|vienen|incluye|incluyen|sirve|sirven|"
                    r"funciona|funcionan|puedo|puede|se puede|cabe|caben|aguanta)\b")
_NOT_EVIDENCE = {"come", "viene", "vien", "inclu", "work", "funci", "sirve", "puedo", "puede", "will", "would",
                 "could", "does", "tiene", "lleva", "llevan", "trae", "esta", "estan", "this", "that", "these", "them", "they"}
MAX_QUOTED = 2  # rows quoted as evidence
MIN_EVIDENCE = 2  # asked words a quoted description must share with the question (all of them when fewer)
QUOTE_CHARS = 280


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= QUOTE_CHARS:
        return text
    cut = text.rfind(" ", 0, QUOTE_CHARS)  # at a word's end; a text without spaces is cut where it must be
    return text[: cut if cut > 0 else QUOTE_CHARS].rstrip(",;:") + " …"


def _evidence_answer(q: Query) -> DirectAnswer | None:
    """'Do the Shimano SH-M088L shoes come with cleats?' — what the product's own text says, quoted.

    A small model answers yes/no questions "Yes, <the question restated>" whatever its rows say
    ("cleats sold separately"). When the question is a yes/no one about one product and that
    product's descriptions share the asked words, the answer is those descriptions, quoted (at most
    :data:`MAX_QUOTED`, the best-matching first), and staff read the fact, not a guess. A dietary,
    allergen, stock, colour or price question has its own rule; a list question is not about one product.
    """
    question, docs, meaning, language = q.question, q.docs, q.meaning, q.language
    norm = normalise(question)
    if not YES_NO.search(norm) or EXISTS.search(norm) or meaning.list_question or meaning.filter.hard:
        return None
    rows = asked_rows(question, docs)
    if not rows:
        return None
    name = str(rows[0].metadata.get("name", rows[0].id))
    asked = {t for t in tokenize(YES_NO.sub(" ", norm)) if len(t) >= 3 or t.isdigit()}
    asked -= set(tokenize(name)) | _NOT_EVIDENCE
    if not asked:
        return None
    scored = []
    for rank, d in enumerate(rows):
        text = str(d.metadata.get("description", "")).strip()
        if text:
            scored.append((shared_words(asked, set(tokenize(text))), rank, text, d))
    scored.sort(key=lambda x: (-x[0], x[1]))
    if not scored or scored[0][0] < min(MIN_EVIDENCE, len(asked)):
        return None
    quoted = [x for x in scored if x[0] >= 1][:MAX_QUOTED]
    if not all(_in_language(x[2], language) for x in quoted):
        return None  # quotes in another language: the model reads (and translates) the rows
    w = WORDS[language]
    text = w.evidence_head.format(name=name) + "\n" + "\n".join(f"- {w.quote(_quote(x[2]))}" for x in quoted)
    return DirectAnswer(text, tuple(x[3].id for x in quoted))



#: The exact-answer rules, in the order they are tried. Each settles one kind of structured
#: question from row fields and declines (None) otherwise; the first that answers wins.
RULES: tuple[Rule, ...] = (
    Rule("exists", _exists_answer),
    Rule("hours", _hours_answer),
    Rule("id", _id_answer),
    Rule("price", _price_answer),
    Rule("allergen", _allergen_answer),
    Rule("colour", _colour_answer),
    Rule("compare", _compare_answer),
    Rule("total", _total_answer),
    Rule("kind", _kind_answer),
    Rule("recommend", _recommend_answer),
    Rule("stock", _stock_answer),
    Rule("dietary", _dietary_answer),
    Rule("filtered_list", _filtered_list_answer),
    Rule("cheapest", _cheapest_answer),
    Rule("evidence", _evidence_answer),
)
