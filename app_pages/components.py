"""Small rendering helpers shared by the entry point and the pages (no business logic)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app_pages.i18n import t, t_known, template, tn
from ingest.indexer import IngestReport
from rag.store import DeletedStore, StoreInfo

CATALOG_PAGE = "app_pages/catalog.py"


def current_store() -> str:
    """The store picked in the sidebar (set by ``streamlit_app.py`` before any page runs)."""
    return st.session_state["store"]


# What opens or closes Markdown anywhere in a line: code spans, emphasis, links and images, HTML,
# LaTeX, strikethrough, tables, Streamlit's ``:name[...]`` directives (a colon before a letter)
# and character references (``&amp;``).
_ANYWHERE = re.compile(r"[\\`*_\[\]<$~|]|:(?=[A-Za-z])|&(?=#?\w+;)")
# ...and at the start of a line only: headings, lists, quotes, setext underlines, ``1.`` / ``1)``.
_LINE_START = re.compile(r"^([ \t]*)(?:([#+=>-])|(\d+)([.)]))")
# Streamlit also finds links, e-mail addresses and ``:emoji:`` / ``:material/icon:`` / ``:streamlit:``
# shortcodes in plain text *after* parsing, where a backslash no longer counts. An invisible
# WORD JOINER (U+2060) breaks those patterns: after ``:`` in ``://`` or before a shortcode name,
# after ``www`` before the dot, after ``@`` before an address.
_AFTER_PARSE = re.compile(r"(?<=:)(?=//|material/|[a-z_+-][\w+-]*:)|(?<=www)(?=\.)|(?<=@)(?=[\w-])", re.I)
WORD_JOINER = "\u2060"


def md(text: str, *, line_start: bool = True) -> str:
    """``text`` (catalog cells, headers, file names, answers, errors) to show literally in Markdown.

    Every Streamlit call that renders Markdown (``st.markdown``, ``caption``, ``info``/``error``…,
    labels, ``metric`` values, ``status``/``expander`` labels) gets data only through this: a product
    called ``![t](https://x/beacon.png)`` must not load an image, ``[Pay here](…)`` must not become a
    link, ``$799 … $999`` is not LaTeX and a header with backticks cannot end a code span. What it
    changes renders exactly as written (backslash escapes, an invisible joiner), and line breaks stay
    line breaks. Not for code spans: leave data out of backticks. ``line_start=False`` is for a piece
    that continues a line (see :func:`md_stream`).
    """
    lines = _ANYWHERE.sub(r"\\\g<0>", _AFTER_PARSE.sub(WORD_JOINER, text.replace("\r\n", "\n").replace("\r", "\n")))
    out = []
    for n, line in enumerate(lines.split("\n")):
        if n or line_start:
            line = _LINE_START.sub(lambda m: m[1] + (f"\\{m[2]}" if m[2] else f"{m[3]}\\{m[4]}"), line, count=1)
        out.append(line)
    return "  \n".join(out)


def md_stream(pieces: Iterable[str]) -> Iterator[str]:
    """Escape streamed text so that ``"".join(md_stream(p)) == md("".join(p))``.

    A link or a shortcode can span two pieces ("https:" then "//…"), so text is held back to its
    last whitespace, which none of those patterns contains. Line ends are made ``\n`` first, as
    :func:`md` does (a ``\r`` that ends a piece waits: a ``\n`` may follow it).
    """
    pending, line_start = "", True
    for piece in pieces:
        pending += piece
        held = pending.endswith("\r")
        pending = pending[:-1] if held else pending
        pending = pending.replace("\r\n", "\n").replace("\r", "\n")
        cut = max(pending.rfind(c) for c in " \t\n") + 1
        if cut:
            done, pending = pending[:cut], pending[cut:]
            yield md(done, line_start=line_start)
            tail = done.rpartition("\n")
            line_start = not tail[2].strip(" \t") and (bool(tail[1]) or line_start)
        pending += "\r" if held else ""
    pending = pending.replace("\r", "\n")
    if pending:
        yield md(pending, line_start=line_start)


def when(iso: str, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    """'2025-11-22T10:31:05+00:00' -> '2025-11-22 10:31 UTC' (as stored: UTC)."""
    try:
        return datetime.fromisoformat(iso).strftime(fmt)
    except ValueError:
        return iso


def progress_callback(bar) -> Callable[[str, int, int], None]:
    """Adapter from the core's ``progress(phase, done, total)`` to an ``st.progress`` bar."""
    text = template("components.progress")  # looked up once per run, not once per progress step
    phases = {p: t_known(f"components.phase.{p}", p) for p in ("embed", "copy")}

    def update(phase: str, done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0) if total else 1.0,
                     text=text.format(phase=phases.get(phase, phase), done=done, total=total))

    return update


def ingest_summary(report: IngestReport) -> str:
    """:meth:`IngestReport.summary` in the UI language (the English text is the same line)."""
    fc = sorted(report.field_changes().items(), key=lambda x: -x[1])
    detail = t("components.summary_detail", fields=", ".join(f"{n} {f}" for f, n in fc)) if fc else ""
    return t("components.summary", prefix=t("components.dry_run_prefix") if report.dry_run else "",
             store=report.store, added=len(report.added), updated=len(report.updated), detail=detail,
             removed=len(report.removed), unchanged=report.unchanged, rejected=len(report.rejected))


def deleted_summary(deleted: DeletedStore) -> str:
    """:meth:`DeletedStore.summary` in the UI language."""
    freed = (t("components.freed_mb", mb=deleted.freed_bytes / 2**20) if deleted.freed_bytes is not None
             else t("components.freed_on_server"))
    return t("components.deleted", store=deleted.store, rows=tn("unit.row", deleted.rows),
             collections=tn("unit.collection", deleted.collections), freed=freed)


def tidy_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Readable column order for catalog rows: id, name, short fields (most filled first), long texts, provenance."""
    if df.empty:
        return df
    head = [c for c in ("id", "name") if c in df.columns]
    tail = [c for c in ("source", "line") if c in df.columns]
    rest = [c for c in df.columns if c not in (*head, *tail)]
    width = {c: df[c].dropna().astype(str).str.len().mean() for c in rest}
    short = sorted((c for c in rest if width[c] <= 40), key=lambda c: -df[c].notna().sum())
    long = [c for c in rest if not width[c] <= 40]
    return df[[*head, *short, *long, *tail]]


def sources_table(info: StoreInfo) -> pd.DataFrame:
    rows = [
        {"file": name, "rows": meta.get("rows"), "ingested": when(meta.get("ingested_at", ""))}
        for name, meta in sorted(info.sources.items())
    ]
    return pd.DataFrame(rows, columns=["file", "rows", "ingested"])


def headers(*columns: str) -> dict[str, str]:
    """``column_config`` that shows a page-built table's columns in the UI language (``table.<column>``).

    The frame keeps its (English) column names: code and tests read those; only the header changes.
    """
    return {c: t(f"table.{c}") for c in columns}


def store_summary(info: StoreInfo | None) -> None:
    """Sidebar block: rows, last refresh and files of the chosen store."""
    if info is None:
        st.caption(t("components.no_index_yet"))
        return
    st.markdown(t("components.rows_in_index", rows=tn("unit.row", info.count)))
    files = [f"📄 {md(name)} — {tn('unit.row', int(m.get('rows') or 0))}"
             for name, m in sorted(info.sources.items())]
    st.caption("  \n".join([t("components.refreshed", when=when(info.updated_at)), *files]))


def provenance(method: str) -> str:
    """Who decided an answer, in words (``Answer.method``: "llm", "rule:<name>", "guard:<name>", "llm:refused")."""
    kind, _, name = (method or "").partition(":")
    if kind == "rule":
        return t("components.by_rule", name=name)
    if kind == "guard":
        return t("components.by_guard", name=name.replace("_", " "))
    return t("components.by_llm") if method == "llm" else t("components.by_llm_refused")


def answer_details(msg: dict[str, Any]) -> None:
    """What goes under an assistant answer: the number check, cited rows and timings."""
    if msg.get("ungrounded"):
        numbers = ", ".join(f"**{md(n)}**" for n in msg["ungrounded"])
        st.warning(t("components.ungrounded_hidden" if msg.get("refused") else "components.ungrounded_check",
                     numbers=numbers))
    rows = msg.get("sources") or []
    if rows:
        with st.expander(t("components.sources", rows=tn("unit.row", len(rows)))):
            st.dataframe(tidy_columns(pd.DataFrame(rows)), hide_index=True, placeholder="")
    timings = msg.get("timings") or {}
    if timings:
        parts = [provenance(msg["method"])] if msg.get("method") else []
        if "first_token_s" in timings and msg.get("method") == "llm":
            parts.append(t("components.first_token", s=timings["first_token_s"]))
        parts.append(t("components.total", s=timings.get("total_s", 0)))
        st.caption("⏱ " + " · ".join(parts))


def ingest_report(report: IngestReport) -> None:
    """Detected columns, counts, per-field changes and rejected rows of an ingest (or dry run) report."""
    for name, roles in report.mappings.items():
        if roles:
            recognised = ", ".join(f"{md(h)} → {r}" for h, r in roles.items())  # headers as text, not code spans
            st.caption(t("components.columns_recognised", file=md(name), columns=recognised))
        if not {"price", "price_option"} & set(roles.values()):
            st.warning(t("components.no_price_column", file=md(name), mapping=md(name + ".mapping.json")))
    if report.currency:
        source = t_known(f"components.currency_source.{report.currency_source}", report.currency_source)
        st.caption(md(t("components.currency", code=report.currency, source=source)))
    elif not report.dry_run:
        st.info(t("components.no_currency"))
    cols = st.columns(5)
    counts = [
        ("added", len(report.added)), ("updated", len(report.updated)), ("removed", len(report.removed)),
        ("unchanged", report.unchanged), ("rejected", len(report.rejected)),
    ]
    for col, (label, n) in zip(cols, counts, strict=True):
        col.metric(t(f"components.count.{label}"), f"{n:,}")
    if report.field_changes():
        st.caption(t("components.changed_fields",
                     fields=", ".join(f"{md(f)} ({n})" for f, n in report.field_changes().items())))
    if report.added or report.updated or report.removed:
        with st.expander(t("components.changed_ids")):
            added, updated, removed = (t(f"components.change.{c}") for c in ("added", "updated", "removed"))
            changes = (
                [{"id": i, "change": added, "fields": ""} for i in report.added]
                + [{"id": i, "change": updated, "fields": ", ".join(f)} for i, f in report.updated.items()]
                + [{"id": i, "change": removed, "fields": ""} for i in report.removed]
            )
            st.dataframe(pd.DataFrame(changes), hide_index=True, column_config=headers("change", "fields"))
    if report.rejected:
        st.markdown(t("components.rejected_rows"))
        st.dataframe(
            pd.DataFrame(
                [{"file": Path(e.source).name, "line": e.line, "reason": e.reason} for e in report.rejected]
            ),
            hide_index=True, column_config=headers("file", "line", "reason"),
        )
