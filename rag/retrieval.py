"""Hybrid retrieval over a store: vector search + BM25, fused by reciprocal rank.

Vectors find paraphrases and other languages; BM25 finds the exact words staff type
(model numbers, "carbonara", "M2"); an id/SKU typed in the question always comes first.
The retriever looks the store's live collection up on every call, so it follows a
re-ingest without a restart and rebuilds its BM25 index only when the version changes.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr
from rank_bm25 import BM25Okapi

from rag.prompts import normalise
from rag.store import CatalogIndex

logger = logging.getLogger(__name__)

RRF_K = 60
PREFIX_LEN = 6  # crude stemming: "vegetarianas"/"vegetariano"/"vegetarian" -> "vegeta"
STOPWORDS = {
    "the", "a", "an", "of", "for", "and", "or", "is", "are", "do", "does", "you", "have", "has", "what", "which",
    "how", "much", "many", "in", "on", "with", "to", "it", "i", "me", "your", "any", "can", "there",
    "el", "la", "los", "las", "de", "del", "y", "o", "que", "es", "son", "un", "una", "en", "con", "para", "por",
    "me", "mi", "tu", "se", "lo", "al", "hay", "tienen", "tiene", "cual", "cuanto", "cuanta", "como",
}


def tokenize(text: str) -> list[str]:
    """Accent-free lower-case word prefixes without stopwords; ids like TS-LAP-001 kept whole too."""
    norm = normalise(text)
    words = re.findall(r"[a-z0-9]+", norm)
    tokens = [w[:PREFIX_LEN] for w in words if w not in STOPWORDS]
    tokens += re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", norm)  # hyphenated codes as one token
    return tokens


class _Lexical:
    """BM25 over one collection version (built once per version)."""

    def __init__(self, ids: list[str], docs: list[Document]) -> None:
        self.ids = ids
        self.docs = docs
        corpus = [tokenize(f"{d.page_content} {d.metadata.get('id', '')}") for d in docs]
        self.bm25 = BM25Okapi(corpus) if corpus else None
        self.by_id = {normalise(str(d.metadata.get("id", i))): k for k, (i, d) in enumerate(zip(ids, docs, strict=True))}

    def search(self, query: str, n: int) -> list[int]:
        if self.bm25 is None:
            return []
        scores = self.bm25.get_scores(tokenize(query))
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [i for i in order[:n] if scores[i] > 0]

    def exact_ids(self, query: str) -> list[int]:
        norm = normalise(query)
        codes = re.findall(r"[a-z0-9]+(?:[-_][a-z0-9]+)+|[a-z]*\d[a-z0-9]*", norm)
        return [self.by_id[c] for c in codes if c in self.by_id]


class CatalogRetriever(BaseRetriever):
    """LangChain retriever for one store; returns up to ``k`` rows, best first.

    Each returned document carries ``metadata['score']`` (fused score) for display/eval.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: CatalogIndex
    store: str
    embeddings: Any
    embedding_id: str
    k: int = 4
    mode: str = "hybrid"  # or "vector"
    candidates: int = 20

    _lexical: _Lexical | None = PrivateAttr(default=None)
    _version: str | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _lexical_for(self, collection_name: str, col) -> _Lexical:
        with self._lock:
            if self._version != collection_name:
                got = col.get(include=["documents", "metadatas"])
                docs = [
                    Document(id=i, page_content=t or "", metadata=m or {})
                    for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
                ]
                self._lexical = _Lexical(got["ids"], docs)
                self._version = collection_name
            return self._lexical

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        info, col = self.index.live_collection(self.store, self.embedding_id)
        n = min(self.candidates, max(info.count, 1))
        vec = col.query(
            query_embeddings=[self.embeddings.embed_query(query)],
            n_results=n,
            include=["documents", "metadatas", "distances"],
        )
        vec_ids = vec["ids"][0]
        pool: dict[str, Document] = {
            i: Document(id=i, page_content=t or "", metadata=dict(m or {}))
            for i, t, m in zip(vec_ids, vec["documents"][0], vec["metadatas"][0], strict=True)
        }
        fused: dict[str, float] = {}
        for rank, doc_id in enumerate(vec_ids):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        if self.mode == "hybrid":
            lex = self._lexical_for(info.collection, col)
            for rank, idx in enumerate(lex.search(query, n)):
                doc = lex.docs[idx]
                pool.setdefault(doc.id, Document(id=doc.id, page_content=doc.page_content, metadata=dict(doc.metadata)))
                fused[doc.id] = fused.get(doc.id, 0.0) + 1.0 / (RRF_K + rank + 1)
            for idx in lex.exact_ids(query):
                doc = lex.docs[idx]
                pool.setdefault(doc.id, Document(id=doc.id, page_content=doc.page_content, metadata=dict(doc.metadata)))
                fused[doc.id] = fused.get(doc.id, 0.0) + 1.0  # an exact id always wins
        ranked = sorted(fused, key=lambda i: -fused[i])[: self.k]
        out = []
        for doc_id in ranked:
            doc = pool[doc_id]
            doc.metadata["score"] = round(fused[doc_id], 5)
            out.append(doc)
        return out
