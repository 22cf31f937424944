"""Reader for the M-ABSA review sentences (training and benchmark data, not part of the product).

Each line is ``sentence####[[aspect term, category, polarity], ...]``. A sentence whose aspects
share one polarity gets that polarity as its sentence label; sentences with mixed (or
``conflict``) polarities have no sentence label but still carry aspect labels. The restaurant
categories ("food quality", "service general", ...) are mapped onto the four aspects a
manager acts on (:data:`CATEGORY_TO_ASPECT`); the rest ("restaurant general", "location
general", ...) describe the place as a whole and give no aspect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DOMAINS = ("restaurant", "food", "laptop", "phone")

CATEGORY_TO_ASPECT = {
    "food quality": "food",
    "food style_options": "food",
    "food general": "food",
    "drinks quality": "food",
    "drinks style_options": "food",
    "service general": "service",
    "food prices": "price",
    "drinks prices": "price",
    "restaurant prices": "price",
    "ambience general": "ambience",
}

# [..., 'category', 'polarity'] at the end of each triple; the aspect term may hold quotes.
_TRIPLE = re.compile(r"""['"]([^'"\[\]]+)['"]\s*,\s*['"](positive|negative|neutral|conflict)['"]\s*\]""")


@dataclass(frozen=True)
class Sentence:
    text: str
    polarities: tuple[str, ...]  # one per aspect triple
    categories: tuple[str, ...]
    line: int
    aspects: dict[str, str] = field(default_factory=dict)  # restaurant aspect -> polarity (agreeing triples only)
    unclear: frozenset[str] = frozenset()  # aspects mentioned with disagreeing or 'conflict' polarities

    @property
    def label(self) -> str | None:
        """The sentence polarity when every triple agrees (and is not 'conflict'), else None."""
        kinds = set(self.polarities)
        if len(kinds) == 1 and "conflict" not in kinds:
            return next(iter(kinds))
        return None


def parse_line(line: str, number: int = 0) -> Sentence | None:
    """One ``sentence####[[...]]`` line, or None for a blank or malformed one."""
    text, sep, tail = line.rstrip("\n").rpartition("####")
    text = text.strip()
    if not sep or not text:
        return None
    triples = _TRIPLE.findall(tail)
    if not triples:
        return None
    categories = tuple(c for c, _ in triples)
    polarities = tuple(p for _, p in triples)
    per_aspect: dict[str, set[str]] = {}
    for category, polarity in triples:
        aspect = CATEGORY_TO_ASPECT.get(category)
        if aspect:
            per_aspect.setdefault(aspect, set()).add(polarity)
    aspects = {a: next(iter(p)) for a, p in per_aspect.items() if len(p) == 1 and "conflict" not in p}
    unclear = frozenset(per_aspect) - set(aspects)
    return Sentence(text, polarities, categories, number, aspects, unclear)


def load(root: Path, domain: str, language: str, split: str) -> list[Sentence]:
    """Every parsed sentence of ``root/domain/language/split.txt``."""
    path = Path(root) / domain / language / f"{split}.txt"
    out = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            sentence = parse_line(line, number)
            if sentence is not None:
                out.append(sentence)
    return out
