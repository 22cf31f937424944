"""Ask page: chat with the chosen store's catalog; every answer shows the rows it came from."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app_pages.components import CATALOG_PAGE, answer_details, current_store, md
from app_pages.resources import get_chain, get_index, get_llm, get_llm_lock, get_settings, llm_is_loaded
from rag.chain import Answer, source_row, stream_answer, validate_question
from rag.errors import AssistantError, QuestionError

EXAMPLES = {
    "techstore": [
        "How much RAM does the MacBook Pro have?",
        "¿Cuál es la garantía de los productos?",
        "How much does the iPhone 15 cost?",
    ],
    "bella-italia": [
        "¿Tienen opciones vegetarianas?",
        "¿Hacen delivery?",
        "¿Cuánto cuesta la Lasaña de la Casa?",
    ],
}


def respond(store: str, collection: str, question: str, turns: list) -> dict[str, Any]:
    """Stream one answer into the current chat message; return it as a history entry.

    ``turns`` are the earlier answers' :class:`rag.followup.Turn`s, so "¿y el Pro?" works.
    """
    try:
        if not llm_is_loaded():
            loading = st.empty()
            with loading, st.status("Loading the language model (first time only)…"):
                get_llm()
            loading.empty()
        chain = get_chain(store, collection)
        final: dict[str, Answer] = {}

        def pieces():
            for piece in stream_answer(chain, question, turns):
                if isinstance(piece, Answer):
                    final["answer"] = piece
                else:
                    yield md(piece)

        lock = get_llm_lock()
        if not lock.acquire(blocking=False):
            with st.spinner("Waiting for another answer to finish…"):
                lock.acquire()
        try:
            slot = st.empty()
            with slot:
                st.caption("Reading the catalog rows…")  # replaced by the first words of the answer
                st.write_stream(pieces())
        finally:
            lock.release()
    except AssistantError as exc:
        st.error(str(exc))
        return {"role": "assistant", "content": str(exc), "error": True}
    answer = final["answer"]
    # The final text replaces the stream: citation markers are gone and a refusal (which
    # only arrives in the final Answer) gets its proper sentence.
    slot.markdown(md(answer.answer))
    msg = {
        "role": "assistant",
        "content": answer.answer,
        "refused": answer.refused,
        "ungrounded": answer.ungrounded,
        "sources": [cited_row(d) for d in answer.sources],
        "timings": answer.timings,
        "method": answer.method,
        "turn": answer.turn(),
    }
    answer_details(msg)
    return msg


def cited_row(doc) -> dict[str, Any]:
    """The cited row for the sources table; text sections (policies, menus) also show their text."""
    row = source_row(doc)
    if set(row) <= {"id", "name", "source", "line"}:
        row["text"] = doc.page_content
    return row


def clear_chat(store: str) -> None:
    st.session_state["chats"][store] = []


settings = get_settings()
store = current_store()
info = get_index().info(store)

st.title("💬 Ask the catalog")
if info is None:
    st.info(
        f"The store **{store}** has no catalog index yet. Build it from your catalog files "
        "(CSV, Excel, JSON, Markdown, PDF…) with:"
    )
    st.code(f"python -m ingest --store {store} FILES...", language="bash")
    st.page_link(CATALOG_PAGE, label="…or upload them on the Catalog page", icon="📦")
    st.stop()

st.caption(f"Answers for **{store}** come only from its catalog ({info.count:,} rows) and cite the rows they use.")

history: list[dict[str, Any]] = st.session_state.setdefault("chats", {}).setdefault(store, [])
for msg in history:
    with st.chat_message(msg["role"]):
        if msg.get("error"):
            st.error(msg["content"])
        else:
            st.markdown(md(msg["content"]))
        if msg["role"] == "assistant":
            answer_details(msg)

question = st.chat_input("Ask about a product, price, menu item…")

if not history and not question and EXAMPLES.get(store):
    examples = st.empty()
    with examples.container():
        st.markdown("**Try one of these:**")
        for col, example in zip(st.columns(len(EXAMPLES[store])), EXAMPLES[store], strict=True):
            if col.button(example, width="stretch"):
                question = example
    if question:
        examples.empty()

if question:
    try:
        question = validate_question(question, settings.max_question_chars)
    except QuestionError as exc:
        st.error(str(exc))
    else:
        history.append({"role": "user", "content": question})
        with st.chat_message("user"):
            st.markdown(md(question))
        with st.chat_message("assistant"):
            turns = [m["turn"] for m in history if m.get("turn") is not None]
            history.append(respond(store, info.collection, question, turns))

if history:
    st.button("Clear chat", icon="🧹", on_click=clear_chat, args=(store,), type="tertiary")
