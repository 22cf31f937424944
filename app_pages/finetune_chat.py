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
from app_pages.components import headers, md
from app_pages.i18n import error_text, t
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

OWN_LANGUAGE = "own"  # the language picker's "the catalog's own language" option (shown translated)
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
    st.caption(t("ft_chat.intro"))
    _validate_section()
    st.divider()
    _convert_section()
    st.divider()
    _catalog_section()


# --------------------------------------------------------------------------- validate

def _validate_section() -> None:
    st.subheader(t("ft_chat.check_title"))
    upload = st.file_uploader(t("ft_chat.chat_file"), type=["jsonl", "json", "txt"], key="chat_validate_file")
    if upload is None:
        st.info(t("ft_chat.check_hint", example=EXAMPLE_LINE))
        return
    cached = st.session_state.get("chat_validate_report")
    if cached is None or cached[0] != upload.file_id:  # validate each upload once, not on every rerun
        with st.spinner(t("ft_chat.checking", file=md(upload.name))):
            cached = (upload.file_id, validate_chat_jsonl(upload.getvalue(), tokenizer=get_token_counter()))
        st.session_state["chat_validate_report"] = cached
    show_report(cached[1])


def show_report(report: ChatReport) -> None:
    """Summary metrics, the errors by line, warnings, and the length stats with a histogram."""
    stats = report.stats
    cols = st.columns(4)
    cols[0].metric(t("ft_chat.lines"), f"{report.lines:,}")
    cols[1].metric(t("ft_chat.valid"), f"{stats['examples']:,}")
    cols[2].metric(t("ft_chat.errors"), f"{len(report.errors):,}")
    cols[3].metric(t("ft_chat.over_tokens", max=stats["max_tokens"]), f"{len(stats['over_limit']):,}")
    if report.ok:
        st.success(t("ft_chat.valid_file"))
    else:
        st.error(t("ft_chat.problems", problems=len(report.errors), lines=stats["bad_lines"]))
        st.dataframe(pd.DataFrame([e.to_json() for e in report.errors]), hide_index=True, width="stretch",
                     column_config={"line": st.column_config.NumberColumn(t("ft_chat.line"), format="%d"),
                                    "reason": st.column_config.TextColumn(t("ft_chat.reason"), width="large")})
    if report.warnings:
        with st.expander(t("ft_chat.warnings", n=len(report.warnings))):
            st.dataframe(pd.DataFrame([w.to_json() for w in report.warnings]), hide_index=True, width="stretch",
                         column_config=headers("line", "reason"))
    if not report.tokens:
        return
    tokens, m = stats["tokens_per_example"], stats["messages_per_example"]
    st.markdown(t("ft_chat.stats", m_min=m["min"], m_mean=m["mean"], m_max=m["max"], t_min=tokens["min"],
                  t_mean=tokens["mean"], t_p95=tokens["p95"], t_max=tokens["max"], tokenizer=stats["tokenizer"]))
    if stats["over_limit"]:
        st.warning(t("ft_chat.over_limit", max=stats["max_tokens"], lines=", ".join(map(str, stats["over_limit"]))))
    df = pd.DataFrame({"line": list(report.tokens), "tokens": list(report.tokens.values())})
    chart = (alt.Chart(df, title=t("ft_chat.chart_title")).mark_bar()
             .encode(alt.X("tokens:Q", bin=alt.Bin(maxbins=30), title=t("ft_chat.axis_tokens")),
                     alt.Y("count():Q", title=t("ft_chat.axis_examples"))))
    st.altair_chart(chart, width="stretch")


# --------------------------------------------------------------------------- convert

def _default_index(headers: list[str], names: tuple[str, ...], fallback: int) -> int:
    folded = [h.casefold() for h in headers]
    return next((folded.index(n) for n in names if n in folded), min(fallback, len(headers) - 1))


def _convert_section() -> None:
    st.subheader(t("ft_chat.convert_title"))
    upload = st.file_uploader(t("ft_chat.spreadsheet"), type=["csv", "xlsx"], key="chat_table_file")
    if upload is None:
        st.info(t("ft_chat.convert_hint"))
        return
    try:
        columns, _, _ = read_table(_named(upload))
    except DataValidationError as exc:
        st.error(md(error_text(exc)))
        return
    if len(columns) < 2:
        st.error(md(t("ft_chat.one_column", file=upload.name, column=columns[0] if columns else t("ft_chat.none"))))
        return
    c1, c2 = st.columns(2)
    question_col = c1.selectbox(t("ft_chat.question_column"), columns,
                                index=_default_index(columns, QUESTION_HEADERS, 0), key="chat_question_col")
    answer_col = c2.selectbox(t("ft_chat.answer_column"), columns, index=_default_index(columns, ANSWER_HEADERS, 1),
                              key="chat_answer_col")
    system = st.text_area(t("ft_chat.system_prompt"), key="chat_system",
                          placeholder="Eres el asistente de la tienda. Responde solo con el catálogo.")
    try:
        examples = table_to_chat(_named(upload), question_col=question_col, answer_col=answer_col, system=system)
    except DataValidationError as exc:
        st.error(md(error_text(exc)))
        if exc.problems:
            st.dataframe(pd.DataFrame({"problem": exc.problems}), hide_index=True, width="stretch",
                         column_config=headers("problem"))
        return
    data = chat_jsonl_bytes(examples)
    report = validate_chat_jsonl(data, tokenizer=get_token_counter())
    st.success(t("ft_chat.examples_valid" if report.ok else "ft_chat.examples", n=len(examples)))
    _preview(examples)
    st.download_button(t("ft_chat.download"), data, file_name=f"{Path(upload.name).stem}.jsonl",
                       mime="application/jsonl", key="chat_table_download")


def _preview(examples: list[dict], rows: int = 5) -> None:
    st.dataframe(
        pd.DataFrame([{m["role"]: m["content"] for m in ex["messages"]} for ex in examples[:rows]]),
        hide_index=True, width="stretch",
    )
    if len(examples) > rows:
        st.caption(t("ft_chat.first_of", rows=rows, n=len(examples)))


# --------------------------------------------------------------------------- catalog

def _catalog_section() -> None:
    from app_pages.resources import get_index, get_settings

    st.subheader(t("ft_chat.catalog_title"))
    store = st.session_state.get("store")
    if not store:
        st.info(t("ft_chat.pick_store"))
        return
    st.write(t("ft_chat.catalog_intro", store=md(store)))
    c1, c2 = st.columns(2)
    names = {v: t(f"ft_chat.language_{v}") for v in (OWN_LANGUAGE, "es", "en")}  # formatted now, in this run
    language = c1.selectbox(t("ft_chat.language"), list(names), key="chat_catalog_language",
                            format_func=names.__getitem__)
    limit = c2.number_input(t("ft_chat.rows_to_use"), min_value=0, value=0, step=10, key="chat_catalog_limit")
    if st.button(t("ft_chat.generate"), key="chat_catalog_generate"):
        settings = get_settings()
        try:
            examples = catalog_to_chat(get_index(), store, settings=settings,
                                       language=None if language == OWN_LANGUAGE else language,
                                       limit=int(limit) or None)
        except AssistantError as exc:
            st.error(md(error_text(exc)))
            return
        st.session_state["chat_catalog"] = {"store": store, "examples": examples}
    done = st.session_state.get("chat_catalog")
    if not done or done["store"] != store:
        return
    examples = done["examples"]
    data = chat_jsonl_bytes(examples)
    report = validate_chat_jsonl(data, tokenizer=get_token_counter())
    st.success(t("ft_chat.from_store_valid" if report.ok else "ft_chat.from_store", n=len(examples), store=md(store)))
    if not report.ok:
        show_report(report)
    _preview(examples)
    st.download_button(t("ft_chat.download"), data, file_name=f"{store}-chat.jsonl", mime="application/jsonl",
                       key="chat_catalog_download")
