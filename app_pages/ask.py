"""Ask page: chat with the chosen store's catalog; every answer shows the rows it came from.

A question can also be spoken (``st.audio_input``) or uploaded as a recording: Whisper
transcribes it (biased toward the store's product names), the transcript can be edited,
and it is then answered exactly like a typed question. Another page (Photo) can pre-fill
the question by setting ``st.session_state["prefill_question"]`` and switching here.
"""

from __future__ import annotations

import hashlib
from contextlib import closing
from typing import TYPE_CHECKING, Any

import streamlit as st

from app_pages.components import CATALOG_PAGE, answer_details, current_store, md, md_stream
from app_pages.i18n import error_text, t, tn
from app_pages.resources import get_answer_queue, get_chain, get_index, get_llm, get_settings, llm_is_loaded
from rag.chain import Answer, source_row, stream_answer, validate_question
from rag.errors import AssistantError, QuestionError
from rag.queue import Place, in_turn
from tools.speech import AUDIO_TYPES, build_transcriber, catalog_hotwords

if TYPE_CHECKING:  # pragma: no cover
    from tools.speech import Transcriber

VOICE_TEXT = "voice_question"  # the editable transcript (text area key)
VOICE_SUBMIT = "voice_submit"  # the transcript sent with "Ask this question", read on the next run

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
    note, slot = st.empty(), st.empty()  # "N questions ahead of yours", then the answer
    try:
        if not llm_is_loaded():
            loading = st.empty()
            with loading, st.status(t("ask.loading_llm")):
                get_llm()
            loading.empty()
        chain = get_chain(store, collection)
        final: dict[str, Answer] = {}

        def pieces():
            # The answer runs in a worker thread (only its model call waits in the queue); this thread shows
            # its place every 0.5 s until the first words. Each update is also where Streamlit stops the run
            # of a session that went away, which cancels its ticket.
            started = False
            with closing(in_turn(get_answer_queue(), lambda: stream_answer(chain, question, turns))) as items:
                for item in items:
                    if isinstance(item, Answer):
                        final["answer"] = item
                    elif isinstance(item, Place):
                        if not started:
                            show_place(note, item.ahead)
                    else:
                        if not started:
                            started = True
                            note.empty()
                        yield item

        note.caption(t("ask.reading_rows"))
        with slot:
            st.write_stream(md_stream(pieces()))  # the model's words are text, never Markdown
        note.empty()
    except AssistantError as exc:
        note.empty()
        st.error(md(error_text(exc)))
        return {"role": "assistant", "content": error_text(exc), "error": True}
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


def show_place(note, ahead: int | None) -> None:
    """What an answer without words yet shows: its place in the queue, or that it is reading the rows."""
    if not ahead:
        note.caption(t("ask.reading_rows"))
    else:
        note.info(tn("ask.queue_ahead", ahead), icon="⏳")


def cited_row(doc) -> dict[str, Any]:
    """The cited row for the sources table; text sections (policies, menus) also show their text."""
    row = source_row(doc)
    if set(row) <= {"id", "name", "source", "line"}:
        row["text"] = doc.page_content
    return row


def clear_chat(store: str) -> None:
    st.session_state["chats"][store] = []


@st.cache_resource(show_spinner=False)
def get_transcriber() -> Transcriber:
    """Whisper, loaded once per process (the model named by the speech_model setting)."""
    return build_transcriber(get_settings())


@st.cache_data(show_spinner=False, max_entries=16)
def store_hotwords(store: str, collection: str) -> str:
    """The store's product names for Whisper; ``collection`` keys the cache (a re-ingest refreshes it)."""
    del collection
    return catalog_hotwords(get_index(), store)


def submit_voice_question() -> None:
    """"Ask this question": hand the edited transcript to the chat and empty the box."""
    st.session_state[VOICE_SUBMIT] = st.session_state.get(VOICE_TEXT, "")
    st.session_state[VOICE_TEXT] = ""


def voice_box(store: str, collection: str) -> None:
    """Record or upload a question, show its transcript for editing, and offer to ask it."""
    with st.container(border=True):
        recording = st.audio_input(t("ask.voice"), key="voice_recording", help=t("ask.voice_help"))
        with st.expander(t("ask.upload_recording")):
            upload = st.file_uploader(t("ask.recording"), type=list(AUDIO_TYPES), key="voice_upload",
                                      label_visibility="collapsed")
        clip = recording or upload
        if clip is not None:
            digest = hashlib.sha256(clip.getvalue()).hexdigest()
            if st.session_state.get("voice_digest") != digest:  # a new clip: transcribe it once
                st.session_state["voice_digest"] = digest
                st.session_state["voice_error"] = None
                try:
                    with st.spinner(t("ask.listening")):
                        heard = get_transcriber().transcribe(clip, hotwords=store_hotwords(store, collection),
                                                             name=clip.name)
                except AssistantError as exc:
                    st.session_state["voice_error"] = error_text(exc)
                else:
                    st.session_state[VOICE_TEXT] = heard.text
                    st.session_state["voice_info"] = (
                        t("ask.heard", language=t(f"language.{heard.language}"), audio_s=heard.duration_s,
                          elapsed_s=heard.elapsed_s)
                        + (t("ask.hotwords", hotwords=heard.hotwords) if heard.hotwords else "")
                    )
            if st.session_state.get("voice_error"):
                st.error(md(st.session_state["voice_error"]))
        if st.session_state.get(VOICE_TEXT):
            st.text_area(t("ask.transcript"), key=VOICE_TEXT, height=80)
            if clip is not None and st.session_state.get("voice_info"):
                st.caption(md(st.session_state["voice_info"]))
            st.button(t("ask.ask_this"), icon="💬", on_click=submit_voice_question, type="primary")


settings = get_settings()
store = current_store()
info = get_index().info(store)

st.title(t("ask.title"))
if info is None:
    st.info(t("ask.no_index", store=md(store)))
    st.code(f"python -m ingest --store {store} FILES...", language="bash")
    st.page_link(CATALOG_PAGE, label=t("ask.upload_on_catalog"), icon="📦")
    st.stop()

st.caption(t("ask.caption", store=md(store), rows=info.count))

if prefill := st.session_state.pop("prefill_question", None):  # set by the Photo page
    st.session_state[VOICE_TEXT] = prefill
    st.session_state["voice_info"] = None
voice_box(store, info.collection)

history: list[dict[str, Any]] = st.session_state.setdefault("chats", {}).setdefault(store, [])
for msg in history:
    with st.chat_message(msg["role"]):
        if msg.get("error"):
            st.error(md(msg["content"]))
        else:
            st.markdown(md(msg["content"]))
        if msg["role"] == "assistant":
            answer_details(msg)

question = st.chat_input(t("ask.chat_placeholder")) or st.session_state.pop(VOICE_SUBMIT, None)

if not history and not question and EXAMPLES.get(store):
    examples = st.empty()
    with examples.container():
        st.markdown(t("ask.try_these"))
        for col, example in zip(st.columns(len(EXAMPLES[store])), EXAMPLES[store], strict=True):
            if col.button(example, width="stretch"):
                question = example
    if question:
        examples.empty()

if question:
    try:
        question = validate_question(question, settings.max_question_chars)
    except QuestionError as exc:
        st.error(md(error_text(exc)))
    else:
        history.append({"role": "user", "content": question})
        with st.chat_message("user"):
            st.markdown(md(question))
        with st.chat_message("assistant"):
            turns = [m["turn"] for m in history if m.get("turn") is not None]
            history.append(respond(store, info.collection, question, turns))

if history:
    st.button(t("ask.clear_chat"), icon="🧹", on_click=clear_chat, args=(store,), type="tertiary")
