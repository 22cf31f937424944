"""Fine-tune page, "Chat data (JSONL)" tab: check, convert and generate chat fine-tuning files.

Thin: :mod:`finetune.chat` does the work; this module reads the uploads, calls it, and draws
the report (metrics, an errors table by line, a histogram of tokens per example).
"""

from __future__ import annotations

import io
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from app_pages.auth import require_admin
from app_pages.components import md
from finetune.chat import (
    ANSWER_HEADERS,
    QUESTION_HEADERS,
    ChatReport,
    catalog_to_chat,
    chat_jsonl_bytes,
    default_token_counter,
    read_table,
    table_to_chat,
    validate_chat_jsonl,
)
from rag.errors import AssistantError, DataValidationError

EXAMPLE_LINE = ('{"messages": [{"role": "system", "content": "Eres el asistente de la tienda."}, '
                '{"role": "user", "content": "¿Abren el lunes?"}, '
                '{"role": "assistant", "content": "No, los lunes cerramos."}]}')


@st.cache_resource(show_spinner=False)
def get_token_counter():
    """The tokenizer that counts tokens per example, loaded once per process."""
    return default_token_counter()


def _named(upload) -> io.BytesIO:
    """An upload as a fresh file object that keeps its name (the core picks CSV/XLSX by it)."""
    buf = io.BytesIO(upload.getvalue())
    buf.name = upload.name
    return buf


def render() -> None:
    require_admin()  # the tab trains and saves models: admins only, wherever it is drawn
    st.caption(
        "Chat fine-tuning files hold one example per line: "
        '`{"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}`. '
        "Check a file before paying for a fine-tuning run, turn a spreadsheet of questions and answers "
        "into one, or write one from this store's catalog."
    )
    _validate_section()
    st.divider()
    _convert_section()
    st.divider()
    _catalog_section()


# --------------------------------------------------------------------------- validate

def _validate_section() -> None:
    st.subheader("Check a chat JSONL file")
    upload = st.file_uploader("Chat file (.jsonl)", type=["jsonl", "json", "txt"], key="chat_validate_file")
    if upload is None:
        st.info("Upload a `.jsonl` file to see every problem with its line number, and token-length stats. "
                f"A valid line looks like:\n\n```json\n{EXAMPLE_LINE}\n```")
        return
    cached = st.session_state.get("chat_validate_report")
    if cached is None or cached[0] != upload.file_id:  # validate each upload once, not on every rerun
        with st.spinner(f"Checking {md(upload.name)}…"):
            cached = (upload.file_id, validate_chat_jsonl(upload.getvalue(), tokenizer=get_token_counter()))
        st.session_state["chat_validate_report"] = cached
    show_report(cached[1])


def show_report(report: ChatReport) -> None:
    """Summary metrics, the errors by line, warnings, and the length stats with a histogram."""
    stats = report.stats
    cols = st.columns(4)
    cols[0].metric("Lines", f"{report.lines:,}")
    cols[1].metric("Valid examples", f"{stats['examples']:,}")
    cols[2].metric("Errors", f"{len(report.errors):,}")
    cols[3].metric(f"Over {stats['max_tokens']:,} tokens", f"{len(stats['over_limit']):,}")
    if report.ok:
        st.success("The file is valid: ready for fine-tuning.")
    else:
        st.error(f"{len(report.errors):,} problem(s) on {stats['bad_lines']:,} line(s). "
                 "Fix them and upload the file again.")
        st.dataframe(pd.DataFrame([e.to_json() for e in report.errors]), hide_index=True, width="stretch",
                     column_config={"line": st.column_config.NumberColumn("Line", format="%d"),
                                    "reason": st.column_config.TextColumn("Reason", width="large")})
    if report.warnings:
        with st.expander(f"{len(report.warnings):,} warning(s)"):
            st.dataframe(pd.DataFrame([w.to_json() for w in report.warnings]), hide_index=True, width="stretch")
    if not report.tokens:
        return
    t, m = stats["tokens_per_example"], stats["messages_per_example"]
    st.markdown(
        f"**Messages per example:** min {m['min']}, mean {m['mean']}, max {m['max']}  \n"
        f"**Tokens per example:** min {t['min']:,}, mean {t['mean']:,}, p95 {t['p95']:,}, max {t['max']:,}  \n"
        f"Counted with {stats['tokenizer']}: an estimate, each model has its own tokenizer."
    )
    if stats["over_limit"]:
        st.warning(f"Over the {stats['max_tokens']:,}-token limit (would be cut short): lines "
                   + ", ".join(map(str, stats["over_limit"])))
    df = pd.DataFrame({"line": list(report.tokens), "tokens": list(report.tokens.values())})
    chart = (alt.Chart(df, title="Tokens per example").mark_bar()
             .encode(alt.X("tokens:Q", bin=alt.Bin(maxbins=30), title="tokens"), alt.Y("count():Q", title="examples")))
    st.altair_chart(chart, width="stretch")


# --------------------------------------------------------------------------- convert

def _default_index(headers: list[str], names: tuple[str, ...], fallback: int) -> int:
    folded = [h.casefold() for h in headers]
    return next((folded.index(n) for n in names if n in folded), min(fallback, len(headers) - 1))


def _convert_section() -> None:
    st.subheader("Convert a question/answer table")
    upload = st.file_uploader("Spreadsheet (.csv or .xlsx)", type=["csv", "xlsx"], key="chat_table_file")
    if upload is None:
        st.info("Upload a CSV or Excel file with one question and its answer per row "
                "(columns `pregunta` and `respuesta` are picked automatically; you can choose others).")
        return
    try:
        headers, _, _ = read_table(_named(upload))
    except DataValidationError as exc:
        st.error(md(str(exc)))
        return
    if len(headers) < 2:
        st.error(md(f"{upload.name} has only one column ({headers[0] if headers else 'none'}); "
                    "it needs a question and an answer column."))
        return
    c1, c2 = st.columns(2)
    question_col = c1.selectbox("Question column", headers, index=_default_index(headers, QUESTION_HEADERS, 0),
                                key="chat_question_col")
    answer_col = c2.selectbox("Answer column", headers, index=_default_index(headers, ANSWER_HEADERS, 1),
                              key="chat_answer_col")
    system = st.text_area("System prompt (optional, added to every example)", key="chat_system",
                          placeholder="Eres el asistente de la tienda. Responde solo con el catálogo.")
    try:
        examples = table_to_chat(_named(upload), question_col=question_col, answer_col=answer_col, system=system)
    except DataValidationError as exc:
        st.error(md(str(exc)))
        if exc.problems:
            st.dataframe(pd.DataFrame({"problem": exc.problems}), hide_index=True, width="stretch")
        return
    data = chat_jsonl_bytes(examples)
    report = validate_chat_jsonl(data, tokenizer=get_token_counter())
    st.success(f"{len(examples):,} examples" + (", and the result passes the validator." if report.ok else "."))
    _preview(examples)
    st.download_button("Download the chat JSONL", data, file_name=f"{Path(upload.name).stem}.jsonl",
                       mime="application/jsonl", key="chat_table_download")


def _preview(examples: list[dict], rows: int = 5) -> None:
    st.dataframe(
        pd.DataFrame([{m["role"]: m["content"] for m in ex["messages"]} for ex in examples[:rows]]),
        hide_index=True, width="stretch",
    )
    if len(examples) > rows:
        st.caption(f"The first {rows} of {len(examples):,} examples.")


# --------------------------------------------------------------------------- catalog

def _catalog_section() -> None:
    from app_pages.resources import get_index, get_settings

    st.subheader("Generate from this store's catalog")
    store = st.session_state.get("store")
    if not store:
        st.info("Pick a store in the sidebar first: the examples are written from its catalog rows.")
        return
    st.write(f"Questions and answers written from every row of **{md(store)}** (prices, stock, allergens, "
             "descriptions, information sections) plus a few “not in the catalog” refusals, for fine-tuning a "
             "model elsewhere.")
    c1, c2 = st.columns(2)
    language = c1.selectbox("Language", ["catalog's own", "es", "en"], key="chat_catalog_language")
    limit = c2.number_input("Rows to use (0 = all)", min_value=0, value=0, step=10, key="chat_catalog_limit")
    if st.button("Generate", key="chat_catalog_generate"):
        settings = get_settings()
        try:
            examples = catalog_to_chat(get_index(), store, settings=settings,
                                       language=None if language == "catalog's own" else language,
                                       limit=int(limit) or None)
        except AssistantError as exc:
            st.error(md(str(exc)))
            return
        st.session_state["chat_catalog"] = {"store": store, "examples": examples}
    done = st.session_state.get("chat_catalog")
    if not done or done["store"] != store:
        return
    examples = done["examples"]
    data = chat_jsonl_bytes(examples)
    report = validate_chat_jsonl(data, tokenizer=get_token_counter())
    st.success(f"{len(examples):,} examples from {md(store)}"
               + (", and the file passes the validator." if report.ok else "."))
    if not report.ok:
        show_report(report)
    _preview(examples)
    st.download_button("Download the chat JSONL", data, file_name=f"{store}-chat.jsonl", mime="application/jsonl",
                       key="chat_catalog_download")
