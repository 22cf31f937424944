"""Process-wide objects for the app, built by the core factories and cached here only.

One ``st.cache_resource`` per heavy object (settings, Chroma index, embedder, LLM), shared
by every session of the process; per-user state lives in ``st.session_state``, never here.
The getters take no arguments so nothing unhashable ever goes through Streamlit's hasher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st
from langchain_core.documents import Document

from app_pages.components import tidy_columns
from app_pages.i18n import t
from rag.chain import source_row, warm_up
from rag.engine import ensure_for
from rag.factory import build_embeddings, build_index, build_llm, build_store_chain
from rag.queue import AnswerQueue, queued
from rag.settings import load_settings
from rag.store import get_all

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from rag.settings import Settings
    from rag.store import CatalogIndex


@st.cache_resource(show_spinner=False)
def get_settings() -> Settings:
    return load_settings()


@st.cache_resource(show_spinner=False)
def get_index() -> CatalogIndex:
    return build_index(get_settings())


def get_embeddings():
    with st.spinner(t("loading.embeddings")):  # shown only if it takes a while: the first time
        return _embeddings()


@st.cache_resource(show_spinner=False)
def _embeddings():
    return build_embeddings(get_settings())


@st.cache_resource(show_spinner=False)
def _loaded() -> set[str]:
    """Names of the heavy objects already built in this process (lets pages explain a slow first load)."""
    return set()


@st.cache_resource(show_spinner=False)
def get_llm() -> BaseChatModel:
    ensure_for(get_settings())  # self-test (and repair) the llama.cpp build once per machine
    llm = build_llm(get_settings(), attach=False)  # the app supervises its own model process
    warm_up(llm)  # the shared prompt prefix is computed once, while the "Loading…" status shows
    _loaded().add("llm")
    return llm


def llm_is_loaded() -> bool:
    return "llm" in _loaded()


@st.cache_resource(show_spinner=False)
def get_answer_queue() -> AnswerQueue:
    """The process's one line for the model: answers are generated one at a time, first come first served
    (a llama.cpp model cannot serve two sessions at once); the Ask page shows each waiting session its place."""
    return AnswerQueue()


@st.cache_resource(show_spinner=False, max_entries=32)
def get_chain(store: str, collection: str) -> Runnable:
    """The cheap per-store chain over the cached heavy objects.

    ``collection`` (the store's live collection) is only a cache key: a re-ingest publishes a
    new collection, so the next question builds a fresh chain with the new store facts
    (currency). The retriever itself already follows the live collection on every call.
    Only the model call waits in the answer queue: retrieval, rules and guards run at once.
    """
    del collection
    llm = queued(get_llm(), get_answer_queue())
    return build_store_chain(get_settings(), get_index(), get_embeddings(), llm, store)


@st.cache_data(show_spinner=False, max_entries=16)
def catalog_rows(collection: str) -> pd.DataFrame:
    """Every row of one published collection as a table (id, name, then fields).

    Published collections never change (an ingest writes a new one), so caching by name is safe.
    """
    got = get_all(get_index().collection(collection), ["metadatas"])
    rows = [
        source_row(Document(id=i, page_content="", metadata=m or {}))
        for i, m in zip(got["ids"], got["metadatas"], strict=True)
    ]
    df = pd.DataFrame(rows)
    if {"source", "line"} <= set(df.columns):
        df = df.sort_values(["source", "line"], kind="stable", ignore_index=True)
    return tidy_columns(df)
