"""Factories that wire the core together. Heavy objects are built here and cached by callers.

The CLI builds each once per process; the Streamlit app wraps these in ``st.cache_resource``
(one embedder, one LLM, one Chroma client per process) and builds the cheap per-store
retriever and chain on top.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from rag.bridge import Dictionary
from rag.chain import build_chain
from rag.models import build_embeddings, build_llm, embedding_id
from rag.query import StoreFacts
from rag.retrieval import CatalogRetriever
from rag.settings import Settings, validate_store_name
from rag.store import CatalogIndex, make_client


def build_index(settings: Settings) -> CatalogIndex:
    return CatalogIndex(make_client(settings))


def build_retriever(settings: Settings, index: CatalogIndex, embeddings, store: str) -> CatalogRetriever:
    validate_store_name(store)
    return CatalogRetriever(
        index=index, store=store, embeddings=embeddings, embedding_id=embedding_id(settings),
        k=settings.top_k, mode=settings.retrieval,
    )


def build_store_chain(settings: Settings, index: CatalogIndex, embeddings, llm: BaseChatModel, store: str) -> Runnable:
    """The QA chain for one store (raises IndexMissingError/IndexMismatchError if it can't answer)."""
    retriever = build_retriever(settings, index, embeddings, store)
    info, _ = index.live_collection(store, embedding_id(settings))
    return build_chain(retriever, llm, store=StoreFacts.of(info), guarded=settings.pipeline == "guarded",
                       translate=settings.translate_questions, dictionary=build_dictionary(settings))


def build_dictionary(settings: Settings) -> Dictionary | None:
    """The bilingual dictionary of :mod:`rag.bridge`, None when switched off or not installed."""
    if settings.bilingual_dictionary is None:
        return None
    dictionary = Dictionary(settings.bilingual_dictionary)
    return dictionary if dictionary.available("en", "es") else None


__all__ = ["build_dictionary", "build_embeddings", "build_index", "build_llm", "build_retriever", "build_store_chain"]
