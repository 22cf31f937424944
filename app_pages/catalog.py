"""Catalog page: what the chosen store's index holds, and updating it from files (dry run first)."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from app_pages.auth import require_admin
from app_pages.components import (
    current_store, deleted_summary, headers, ingest_report, ingest_summary, md, progress_callback, sources_table, when,
)
from app_pages.i18n import error_text, t, t_known, tn
from app_pages.resources import catalog_rows, get_embeddings, get_index, get_settings
from ingest.pipeline import delete_store
from ingest.pipeline import run as run_ingest
from ingest.indexer import IngestReport
from ingest.loaders import SUPPORTED_SUFFIXES
from rag.errors import AssistantError, CatalogFileError
from rag.settings import Settings, validate_store_name
from tools.export import safe_csv_bytes

MAX_NAME_BYTES = 200  # file names are kept (the index tracks rows per file name); most file systems stop at 255
UPLOAD_TYPES = sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES)


def ingest_uploads(uploads: Sequence, store: str, settings: Settings, *, dry_run: bool, progress=None) -> IngestReport:
    """Save the uploads under their own names (the index tracks rows per file name) and ingest them."""
    with tempfile.TemporaryDirectory(prefix="catalog-upload-") as tmp:
        paths = []
        for upload in uploads:
            name = Path(upload.name).name
            if len(name.encode()) > MAX_NAME_BYTES:  # the file system refuses it (OSError) before any check could
                raise CatalogFileError(f"The file name '{name[:60]}…' is {len(name.encode())} bytes long, over the "
                                       f"limit of {MAX_NAME_BYTES}: rename the file and upload it again.")
            path = Path(tmp) / name
            path.write_bytes(upload.getvalue())
            paths.append(path)
        try:
            return run_ingest(paths, store=store, settings=settings, dry_run=dry_run, progress=progress,
                              index=get_index(), embeddings=get_embeddings())[0]
        except AssistantError as exc:  # same error, without the temporary folder in the file names
            raise type(exc)(str(exc).replace(tmp + os.sep, "")) from exc


def finish(message: str) -> None:
    """Show ``message`` after a rerun that refreshes the sidebar counts and resets the uploader."""
    st.session_state["catalog_flash"] = message
    st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
    st.session_state.pop("preview", None)
    st.rerun()


settings = get_settings()
index = get_index()
store = current_store()
info = index.info(store)

st.title(t("catalog.title", store=md(store)))
require_admin()  # all of it, rows too (staff see them as sources on Ask): any action added here is gated
if flash := st.session_state.pop("catalog_flash", None):
    st.success(md(flash))

# ---------------------------------------------------------------- what the index holds
if info is None:
    st.info(t("catalog.no_index", store=md(store)))
else:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("catalog.rows"), f"{info.count:,}")
    c2.metric(t("catalog.files"), len(info.sources))
    c3.metric(t("catalog.version"), info.version)
    c4.metric(t("catalog.last_refresh"), when(info.updated_at, t("catalog.refresh_format")), help="UTC")
    if info.currency:
        source = t_known(f"components.currency_source.{info.currency_source}", info.currency_source)
        origin = t("catalog.currency_set") if info.currency_source == "override" else t("catalog.currency_detected",
                                                                                         source=source)
        money = md(t("catalog.prices_in", code=info.currency, origin=origin))
    else:
        money = t("catalog.no_currency")
    st.caption(t("catalog.refreshed", when=when(info.updated_at), money=money, embedding=md(info.embedding)))
    st.dataframe(sources_table(info), hide_index=True, column_config=headers("file", "rows", "ingested"))

    st.subheader(t("catalog.rows"))
    rows = catalog_rows(info.collection)
    query = st.text_input(
        t("catalog.search"), type="search", live=True, label_visibility="collapsed",
        placeholder=t("catalog.search_placeholder"),
    )
    if query:
        rows = rows[rows.astype(str).apply(lambda col: col.str.contains(query, case=False, regex=False)).any(axis=1)]
    st.dataframe(rows, hide_index=True, placeholder="")
    st.caption(tn("unit.row", len(rows)) + (t("catalog.matching", query=md(query)) if query else ""))
    # The table's own CSV export is switched off (client.disableDataExport): it would write a
    # cell like =HYPERLINK(...) as a formula. This one quotes such cells, and is written on click.
    st.download_button(t("catalog.download_rows"), functools.partial(safe_csv_bytes, rows),
                       file_name=f"{store}-rows.csv", mime="text/csv", on_click="ignore", key="catalog_rows_download")

# ---------------------------------------------------------------- update from files
st.subheader(t("catalog.update"))
st.caption(t("catalog.update_caption"))
uploads = st.file_uploader(
    t("catalog.upload"), type=UPLOAD_TYPES, accept_multiple_files=True,
    key=f"upload-{st.session_state.get('upload_round', 0)}",
)
if uploads:
    signature = (store, info.collection if info else None, tuple((u.name, u.size, u.file_id) for u in uploads))
    preview = st.session_state.get("preview")
    if preview is None or preview["signature"] != signature:
        try:
            with st.spinner(t("catalog.checking")):
                report = ingest_uploads(uploads, store, settings, dry_run=True)
        except AssistantError as exc:
            st.error(md(error_text(exc)))
            st.stop()
        preview = st.session_state["preview"] = {"signature": signature, "report": report}
    report: IngestReport = preview["report"]
    st.markdown(f"**{md(ingest_summary(report))}**")
    ingest_report(report)
    if not report.changed:
        st.caption(t("catalog.nothing_to_apply"))
    elif st.button(t("catalog.apply"), type="primary", icon="✅"):
        bar = st.progress(0.0, text=t("common.starting"))
        try:
            done = ingest_uploads(uploads, store, settings, dry_run=False, progress=progress_callback(bar))
        except AssistantError as exc:
            st.error(md(error_text(exc)))
        else:
            finish(t("catalog.applied", summary=ingest_summary(done), rows=tn("unit.row", done.embedded),
                     seconds=done.seconds))

# ---------------------------------------------------------------- stores
st.subheader(t("catalog.stores"))
left, right = st.columns(2)
with left, st.form("new_store", clear_on_submit=True, border=False):
    name = st.text_input(t("catalog.new_store"), placeholder=t("catalog.new_store_placeholder"))
    if st.form_submit_button(t("catalog.create_store")):
        try:
            name = validate_store_name(name.strip())
        except AssistantError as exc:
            st.error(md(error_text(exc)))
        else:
            st.session_state.setdefault("new_stores", []).append(name)
            st.session_state["next_store"] = name
            st.rerun()
with right:
    st.markdown(t("catalog.samples"))
    st.caption(t("catalog.samples_caption"))
    if st.button(t("catalog.rebuild"), icon="🔄"):
        bar = st.progress(0.0, text=t("common.starting"))
        try:
            reports = run_ingest(settings=settings, rebuild=True, progress=progress_callback(bar),
                                     index=get_index(), embeddings=get_embeddings())
        except AssistantError as exc:
            st.error(md(error_text(exc)))
        else:
            finish(" · ".join(ingest_summary(r) for r in reports))

# ---------------------------------------------------------------- delete the store (admin)
if info is not None:
    with st.expander(t("catalog.delete_title", store=md(store)), icon="🗑️"):
        st.caption(t("catalog.delete_caption"))
        typed = st.text_input(t("catalog.delete_confirm"), key=f"delete-confirm-{store}")
        if st.button(t("catalog.delete"), type="primary", icon="🗑️", disabled=typed.strip() != store):
            try:
                deleted = delete_store(store, settings=settings, index=get_index())
            except AssistantError as exc:
                st.error(md(error_text(exc)))
            else:
                st.session_state["new_stores"] = [n for n in st.session_state.get("new_stores", []) if n != store]
                finish(deleted_summary(deleted))
