"""One question, read once: what every rule and guard of the chain works on.

The chain builds a :class:`Query` after retrieval: the question as typed and as resolved against
the chat history, its language, how the retriever read it (filters, named rows: an
:class:`~rag.retrieval.Interpretation`), the rows found, and the store's own facts (currency and
locale, field roles decided at ingest). Rules read it; none re-parses the question.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.documents import Document

from rag.money import Money


@dataclass(frozen=True)
class StoreFacts:
    """What ingest decided about a store: how to write its amounts and where each field role lives."""

    money: Money = Money()
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # role -> metadata keys

    @classmethod
    def of(cls, info: Any | None) -> StoreFacts:
        """From a :class:`rag.store.StoreInfo` (None: nothing known)."""
        if info is None:
            return cls()
        return cls(Money(info.currency, info.language), {r: tuple(k) for r, k in (info.fields or {}).items()})

    def keys(self, role: str) -> tuple[str, ...]:
        return tuple(self.fields.get(role, ()))


@dataclass(frozen=True)
class Query:
    """A question as the chain understood it (see the module doc)."""

    question: str  # resolved against the history ("¿y el Pro?" -> "¿y el iPhone 15 Pro?")
    language: str  # "es" / "en": the answer's language
    docs: tuple[Document, ...] = ()  # the rows the answer may use, best first
    meaning: Any = None  # rag.retrieval.Interpretation, None for a retriever that does not read questions
    store: StoreFacts = StoreFacts()
    typed: str = ""  # as typed, when it differs from ``question``
    bridged: tuple[str, ...] = ()  # catalog words a bilingual dictionary put in ``question`` for the asker's (rag.bridge)

    @property
    def money(self) -> Money:
        return self.store.money

    def doc(self, doc_id: str) -> Document | None:
        return next((d for d in self.docs if d.id == doc_id), None)
