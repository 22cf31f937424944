"""What a model-written answer claims about a row, checked against the row's *fields* (pure functions).

:func:`rag.prompts.ungrounded_numbers` asks whether a number appears anywhere in a cited row. That is
not enough: a description that says "costs $0" or "the real price is 5.00" holds the number, yet the
product's price is its price field. These checks work on the roles decided at ingest
(:class:`rag.query.StoreFacts`):

- :func:`mispriced`: an amount stated as a price must be a price field (price, a portion or size
  price, a unit price) of the row the sentence is about, or the sum or difference of two of them;
- :func:`false_free`: a product whose price field is above zero is never "free" / "gratis";
- :func:`wrong_language`: the answer is written in the question's language.

Each returns what is wrong (empty when nothing is), so the chain can withhold the answer and say why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import combinations

from langchain_core.documents import Document

from rag.filters import is_row
from rag.prompts import SENTENCE, aliases_of, asked_rows, canon_number, numbers_in, rows_named
from rag.query import StoreFacts
from rag.text import normalise

PRICE_ROLES = ("price", "price_option", "unit_price")

_NUM = r"(\d{1,3}(?:[.,]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
_CURRENCY_WORD = r"(€|\$|£|eur|euros?|usd|dollars?|dolares|pesos?|ars|mxn|gbp|pounds?|libras?)"
# "$89.00", "89,00 €", "89 euros", "costs 89", "cuesta 36989", "precio de 12,50", "on sale for 5"
_PRICE_STATED = re.compile(
    r"(?:(?:us)?\$|€|£)\s?" + _NUM
    + r"|" + _NUM + r"\s?" + _CURRENCY_WORD + r"(?![a-z])"
    + r"|\b(?:costs?|priced|price (?:is|of)|prices? (?:at|from)|precio (?:es|de)|cuestan?|valen?|salen?|sale for|for only"
      r"|por solo|a partir de|from)\s+(?:(?:de|at|only|solo|just|about|unos|unas)\s+)?(?:(?:us)?\$|€|£)?\s?" + _NUM
)


def price_numbers(doc: Document, store: StoreFacts) -> set[str]:
    """The row's price fields as canonical numbers ('1999', '12.5'); empty when it has none."""
    keys = {"price", *(k for role in PRICE_ROLES for k in store.keys(role))}
    out: set[str] = set()
    for key in keys:
        value = doc.metadata.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            out.add(canon_number(f"{value:.2f}"))
        else:
            out |= numbers_in(str(value))
    return out


def stated_prices(sentence: str) -> set[str]:
    """Amounts a sentence states as prices, canonical ('$1,999.00' -> '1999')."""
    found = set()
    for m in _PRICE_STATED.finditer(normalise(sentence)):
        raw = next(g for g in m.groups() if g and g[0].isdigit())
        found.add(canon_number(raw))
    return found


def _about(sentence: str, question: str, docs: Sequence[Document], aliases) -> list[Document]:
    """The rows a sentence is about: those it names, else the product the question names, else the only row."""
    named = [docs[i] for i in sorted(rows_named(sentence, aliases))]
    if named:
        return named
    about = asked_rows(question, docs)
    if about:
        return about
    rows = [d for d in docs if is_row(d)]
    return rows if len(rows) == 1 else []


def _with_sums(prices: set[str]) -> set[str]:
    values = [float(p) for p in prices]
    more = {canon_number(f"{abs(a - b):.2f}") for a, b in combinations(values, 2)}
    more |= {canon_number(f"{a + b:.2f}") for a, b in combinations(values, 2)}
    return prices | more


def mispriced(answer: str, question: str, docs: Sequence[Document], store: StoreFacts) -> list[str]:
    """Prices stated for a row that are none of its price fields ("the Bosch drill costs $0" at 89.00).

    A sentence about no identifiable row, or about rows without any price field (a catalog without
    prices), is not judged here, nor an amount the shop's policy sections state: the other number
    checks still apply to them.
    """
    # amounts of the question, and of the shop's own policy sections ("shipping is $4.99, free over $50")
    asked = numbers_in(question).union(*(numbers_in(d.page_content) for d in docs if not is_row(d)))
    rows = [d for d in docs if is_row(d)]
    aliases = aliases_of(rows)
    wrong: set[str] = set()
    for sentence in SENTENCE.split(answer):
        stated = stated_prices(sentence) - asked
        if not stated:
            continue
        about = _about(sentence, question, rows, aliases)
        prices = set().union(*(price_numbers(d, store) for d in about)) if about else set()
        if prices:
            wrong |= stated - _with_sums(prices)
    return sorted(wrong)


# "it is free", "comes free", "son gratis", "sin coste"; not "lactose free", "free shipping", "free of nuts"
_FREE = re.compile(
    r"\b(?:is|are|it's|its|comes?|totally|completely|entirely|100 ?%|for)\s+(?:free|free of charge)\b(?!\s*(?:of|from|-))"
    r"|\bat no (?:cost|charge)\b|\bcosts? (?:nothing|\$?0(?![\d.,]))|\bfree of charge\b"
    r"|\b(?:es|son|sale|salen|esta|estan|totalmente|completamente|resulta)\s+(?:gratis|gratuit[oa]s?)\b"
    r"|\bsin (?:coste|costo|cargo)\b|\bno cuestan? nada\b|\bde regalo\b"
)
# A free service is not a free product: "shipping is free", "el envío es gratis".
_SERVICE = re.compile(r"\b(shipping|delivery|deliveries|returns?|installation|setup|wi-?fi|parking|refills?|gift wrap|"
                      r"cancellation|envios?|entregas?|devoluci|instalaci|aparcamiento|estacionamiento|recargas?|"
                      r"cancelaci|domicilio|consultation|consulta)\b")


def false_free(answer: str, question: str, docs: Sequence[Document], store: StoreFacts) -> list[str]:
    """Sentences calling a product free when the row it is about has a price above zero."""
    rows = [d for d in docs if is_row(d)]
    aliases = aliases_of(rows)
    wrong = []
    for sentence in SENTENCE.split(answer):
        norm = normalise(sentence)
        if not _FREE.search(norm) or _SERVICE.search(norm):
            continue
        about = _about(sentence, question, rows, aliases) or rows
        if any(float(p) > 0 for d in about for p in price_numbers(d, store)):
            wrong.append(sentence.strip())
    return wrong


# Function words that belong to one language only (lower case, accents removed). Words of the cited rows'
# names and of the question are not counted: "Tarta de queso" in an English answer is a name.
FUNCTION_WORDS: dict[str, frozenset[str]] = {lang: frozenset(words.split()) for lang, words in {
    "en": "the is are and of it its with this these we our has have costs yes also but very there which they",
    "es": "el los las es y del con tiene tienen tenemos cuesta cuestan si tambien pero muy hay esta estan son este "
          "nuestro nuestra puede",
    "fr": "le les est et des avec pour cette nous vous coute coutent oui sont du au aux mais tres ce il elle notre",
    "de": "der die das ist und mit fur nicht kostet auch sehr ein eine wir sie unser",
    "it": "il gli della degli sono anche molto questo questa ed nostro hanno",
    "pt": "nao com sao tambem muito custa uma voce nosso nossa tem",
}.items()}


def wrong_language(answer: str, language: str, question: str, docs: Sequence[Document]) -> str | None:
    """The language an answer is written in when it clearly is not ``language`` (else None).

    Clearly: at least two function words of another language, and more of them than of the
    question's language (names of the rows and words of the question do not count).
    """
    names = set(re.findall(r"[a-z]+", normalise(" ".join(str(d.metadata.get("name", "")) for d in docs) + " " + question)))
    words = [w for w in re.findall(r"[a-z]+", normalise(answer)) if w not in names]
    counts = {lang: sum(w in fw for w in words) for lang, fw in FUNCTION_WORDS.items()}
    other, n = max(((lang, c) for lang, c in counts.items() if lang != language), key=lambda x: x[1])
    return other if n >= 2 and n > counts.get(language, 0) else None
