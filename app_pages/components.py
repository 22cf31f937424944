"""Small rendering helpers shared by the entry point and the pages (no business logic)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from ingest.indexer import IngestReport
from rag.store import StoreInfo

PHASES = {"embed": "Embedding new and changed rows", "copy": "Copying unchanged rows"}
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
    last whitespace, which none of those patterns contains.
    """
    pending, line_start = "", True
    for piece in pieces:
        pending += piece
        cut = max(pending.rfind(c) for c in " \t\n") + 1
        if cut:
            done, pending = pending[:cut], pending[cut:]
            yield md(done, line_start=line_start)
            tail = done.rpartition("\n")
            line_start = not tail[2].strip(" \t") and (bool(tail[1]) or line_start)
    if pending:
        yield md(pending, line_start=line_start)


def when(iso: str, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    """'2025-11-22T10:31:05+00:00' -> '2025-11-22 10:31 UTC' (as stored: UTC)."""
    try:
        return datetime.fromisoformat(iso).strftime(fmt)
    except ValueError:
        return iso


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def progress_callback(bar) -> Callable[[str, int, int], None]:
    """Adapter from the core's ``progress(phase, done, total)`` to an ``st.progress`` bar."""

    def update(phase: str, done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0) if total else 1.0, text=f"{PHASES.get(phase, phase)}: {done:,}/{total:,}")

    return update


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


def store_summary(info: StoreInfo | None) -> None:
    """Sidebar block: rows, last refresh and files of the chosen store."""
    if info is None:
        st.caption("No index yet — add files on the **Catalog** page.")
        return
    st.markdown(f"**{plural(info.count, 'row')}** in the index")
    files = [f"📄 {md(name)} — {plural(int(m.get('rows') or 0), 'row')}"
             for name, m in sorted(info.sources.items())]
    st.caption("  \n".join([f"Refreshed {when(info.updated_at)}", *files]))


def provenance(method: str) -> str:
    """Who decided an answer, in words (``Answer.method``: "llm", "rule:<name>", "guard:<name>", "llm:refused")."""
    kind, _, name = (method or "").partition(":")
    if kind == "rule":
        return f"✓ exact, written from the catalog rows (rule: {name})"
    if kind == "guard":
        return f"decided by a check ({name.replace('_', ' ')})"
    return "written by the local model from the cited rows" if method == "llm" else "the local model found no answer in the rows"


def answer_details(msg: dict[str, Any]) -> None:
    """What goes under an assistant answer: the number check, cited rows and timings."""
    if msg.get("ungrounded"):
        st.warning(
            "The local model's answer stated "
            + ", ".join(f"**{md(n)}**" for n in msg["ungrounded"])
            + ", which no catalog row contains"
            + (", so it is not shown. Read the rows below." if msg.get("refused") else ": check it against the rows below.")
        )
    rows = msg.get("sources") or []
    if rows:
        with st.expander(f"Sources ({plural(len(rows), 'row')})"):
            st.dataframe(tidy_columns(pd.DataFrame(rows)), hide_index=True, placeholder="")
    t = msg.get("timings") or {}
    if t:
        parts = [provenance(msg["method"])] if msg.get("method") else []
        if "first_token_s" in t and msg.get("method") == "llm":
            parts.append(f"first token {t['first_token_s']:.1f} s")
        parts.append(f"total {t.get('total_s', 0):.1f} s")
        st.caption("⏱ " + " · ".join(parts))


def ingest_report(report: IngestReport) -> None:
    """Detected columns, counts, per-field changes and rejected rows of an ingest (or dry run) report."""
    for name, roles in report.mappings.items():
        if roles:
            recognised = ", ".join(f"{md(h)} → {r}" for h, r in roles.items())  # headers as text, not code spans
            st.caption(f"Columns recognised in **{md(name)}**: {recognised}")
        if not {"price", "price_option"} & set(roles.values()):
            st.warning(f"No price column recognised in {md(name)}. If a column holds prices, name it in a file "
                       f"called {md(name + '.mapping.json')} next to it: "
                       '`{"columns": {"<header>": "price"}}`.')
    if report.currency:
        st.caption(md(f"Currency: {report.currency} (from the {report.currency_source})"))
    elif not report.dry_run:
        st.info("The files do not state a currency, so amounts are shown without a symbol. "
                "Set it with `python -m ingest --currency EUR` (or your currency's code).")
    cols = st.columns(5)
    counts = [
        ("Added", len(report.added)), ("Updated", len(report.updated)), ("Removed", len(report.removed)),
        ("Unchanged", report.unchanged), ("Rejected", len(report.rejected)),
    ]
    for col, (label, n) in zip(cols, counts, strict=True):
        col.metric(label, f"{n:,}")
    if report.field_changes():
        st.caption("Changed fields: " + ", ".join(f"{md(f)} ({n})" for f, n in report.field_changes().items()))
    if report.added or report.updated or report.removed:
        with st.expander("Changed ids"):
            changes = (
                [{"id": i, "change": "added", "fields": ""} for i in report.added]
                + [{"id": i, "change": "updated", "fields": ", ".join(f)} for i, f in report.updated.items()]
                + [{"id": i, "change": "removed", "fields": ""} for i in report.removed]
            )
            st.dataframe(pd.DataFrame(changes), hide_index=True)
    if report.rejected:
        st.markdown("**Rejected rows** — fix them in the file and upload it again:")
        st.dataframe(
            pd.DataFrame(
                [{"file": Path(e.source).name, "line": e.line, "reason": e.reason} for e in report.rejected]
            ),
            hide_index=True,
        )
