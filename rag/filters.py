"""Structured filters read from the question and applied on row metadata, not left to the LLM.

"vegetarian pasta", "laptops under $1,000", "¿platos sin gluten?", "in stock" become hard
filters over the store's rows; a category named in the question ("pizzas", "laptops") only
boosts, because "a sleeve for my laptop" is not a question about the Laptops category.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.documents import Document

from rag.text import normalise

# canonical tag -> (question patterns, row evidence)
DIETARY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "vegan": ((r"\bvegan", r"\bvegano", r"\bvegana"), ("vegan",)),
    "vegetarian": ((r"\bvegetarian", r"\bvegetarian[oa]s?\b", r"\bveggie"), ("vegetarian", "vegetariano", "vegetariana")),
    "gluten-free": ((r"\bgluten[- ]free\b", r"\bsin gluten\b", r"\bceliac", r"\bcelíac", r"\bceliac[oa]s?\b", r"\bno gluten\b"),
                    ("gluten-free", "gluten free", "sin gluten")),
}

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
    max_price: float | None = None
    min_price: float | None = None
    in_stock: bool = False
    categories: tuple[str, ...] = ()  # soft: used to boost, never to exclude (except to rank by price)
    wants_list: bool = False
    sort: str | None = None  # "asc" for cheapest, "desc" for most expensive

    @property
    def hard(self) -> bool:
        return bool(self.tags or self.max_price is not None or self.min_price is not None or self.in_stock)

    def describe(self) -> str:
        parts = list(self.tags)
        if self.max_price is not None:
            parts.append(f"price <= {self.max_price:g}")
        if self.min_price is not None:
            parts.append(f"price >= {self.min_price:g}")
        if self.in_stock:
            parts.append("in stock")
        return ", ".join(parts)


def parse_filters(question: str, categories: set[str] | frozenset[str] = frozenset()) -> QueryFilter:
    q = normalise(question)
    tags = [t for t, (pats, _) in DIETARY.items() if any(re.search(p, q) for p in pats)]
    if "vegan" in tags and "vegetarian" in tags and not re.search(r"\bvegetarian", q):
        tags.remove("vegetarian")  # "vegano" matched both spellings; vegan implies vegetarian anyway
    mx = MAX_PRICE.search(q)
    mn = MIN_PRICE.search(q)
    q_words = {w[:5] for w in re.findall(r"[a-z0-9]+", q) if len(w) >= 4}
    cats = tuple(sorted(c for c in categories if any(w[:5] in q_words for w in re.findall(r"[a-z0-9]+", normalise(c)) if len(w) >= 4)))
    return QueryFilter(
        tags=tuple(tags),
        max_price=_amount(mx.group(1)) if mx else None,
        min_price=_amount(mn.group(1)) if mn else None,
        in_stock=bool(IN_STOCK.search(q)),
        categories=cats,
        wants_list=bool(tags) or bool(mx or mn) or bool(LIST_WORDS.search(q)) or bool(RECOMMEND.search(q)),
        sort="asc" if CHEAPEST.search(q) and not mx else "desc" if PRICIEST.search(q) else None,
    )


def matches(doc: Document, f: QueryFilter) -> bool:
    """Does this row satisfy every hard constraint? Rows without a price never match a price bound."""
    meta = doc.metadata
    if f.tags:
        text = normalise(" ".join([str(meta.get("tags", "")), doc.page_content]))
        if not all(any(e in text for e in DIETARY[t][1]) for t in f.tags):
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

