"""Catalog page: what the chosen store's index holds, and updating it from files (dry run first)."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from app_pages.auth import require_admin
from app_pages.components import current_store, ingest_report, md, plural, progress_callback, sources_table, when
from app_pages.resources import catalog_rows, get_embeddings, get_index, get_settings
from ingest.pipeline import delete_store
from ingest.pipeline import run as run_ingest
from ingest.indexer import IngestReport
from ingest.loaders import SUPPORTED_SUFFIXES
from rag.errors import AssistantError
from rag.settings import Settings, validate_store_name
from tools.export import safe_csv_bytes

UPLOAD_TYPES = sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES)


def ingest_uploads(uploads: Sequence, store: str, settings: Settings, *, dry_run: bool, progress=None) -> IngestReport:
    """Save the uploads under their own names (the index tracks rows per file name) and ingest them."""
    with tempfile.TemporaryDirectory(prefix="catalog-upload-") as tmp:
        paths = []
        for upload in uploads:
            path = Path(tmp) / Path(upload.name).name
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

st.title(f"📦 Catalog · {md(store)}")
require_admin()  # all of it, rows too (staff see them as sources on Ask): any action added here is gated
if flash := st.session_state.pop("catalog_flash", None):
    st.success(md(flash))

# ---------------------------------------------------------------- what the index holds
if info is None:
    st.info(f"The store **{md(store)}** has no index yet. Upload its catalog files below to create it.")
else:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Rows", f"{info.count:,}")
    c2.metric("Files", len(info.sources))
    c3.metric("Index version", info.version)
    c4.metric("Last refresh", when(info.updated_at, "%b %d, %H:%M"), help="UTC")
    if info.currency:
        origin = "set by you" if info.currency_source == "override" else f"detected from the {info.currency_source}"
        money = md(f"prices in {info.currency} ({origin})")
    else:
        money = ("currency not stated in the files: amounts are shown without a symbol "
                 "(set it with `python -m ingest --currency EUR`)")
    st.caption(f"Refreshed {when(info.updated_at)} · {money} · embedding model {md(info.embedding)}")
    st.dataframe(sources_table(info), hide_index=True)

    st.subheader("Rows")
    rows = catalog_rows(info.collection)
    query = st.text_input(
        "Search rows", type="search", live=True, label_visibility="collapsed",
        placeholder="Search any field: name, id, category, price…",
    )
    if query:
        rows = rows[rows.astype(str).apply(lambda col: col.str.contains(query, case=False, regex=False)).any(axis=1)]
    st.dataframe(rows, hide_index=True, placeholder="")
    st.caption(f"{plural(len(rows), 'row')}" + (f" matching “{md(query)}”" if query else ""))
    # The table's own CSV export is switched off (client.disableDataExport): it would write a
    # cell like =HYPERLINK(...) as a formula. This one quotes such cells, and is written on click.
    st.download_button("Download these rows (CSV)", functools.partial(safe_csv_bytes, rows),
                       file_name=f"{store}-rows.csv", mime="text/csv", on_click="ignore", key="catalog_rows_download")

# ---------------------------------------------------------------- update from files
st.subheader("Update from files")
st.caption(
    "Upload new or changed catalog files. You will see what would change before anything is written. "
    "Upload whole files (e.g. your complete products.csv), not just the changed rows: rows are matched by "
    "their id (SKU), a row takes exactly what the file says, and rows missing from a file you upload again are removed."
)
uploads = st.file_uploader(
    "Catalog files", type=UPLOAD_TYPES, accept_multiple_files=True,
    key=f"upload-{st.session_state.get('upload_round', 0)}",
)
if uploads:
    signature = (store, info.collection if info else None, tuple((u.name, u.size, u.file_id) for u in uploads))
    preview = st.session_state.get("preview")
    if preview is None or preview["signature"] != signature:
        try:
            with st.spinner("Checking the files (dry run)…"):
                report = ingest_uploads(uploads, store, settings, dry_run=True)
        except AssistantError as exc:
            st.error(md(str(exc)))
            st.stop()
        preview = st.session_state["preview"] = {"signature": signature, "report": report}
    report: IngestReport = preview["report"]
    st.markdown(f"**{md(report.summary())}**")
    ingest_report(report)
    if not report.changed:
        st.caption("Nothing to apply: the index already matches these files.")
    elif st.button("Apply", type="primary", icon="✅"):
        bar = st.progress(0.0, text="Starting…")
        try:
            done = ingest_uploads(uploads, store, settings, dry_run=False, progress=progress_callback(bar))
        except AssistantError as exc:
            st.error(md(str(exc)))
        else:
            finish(f"{done.summary()} — {plural(done.embedded, 'row')} embedded in {done.seconds:.1f} s.")

# ---------------------------------------------------------------- stores
st.subheader("Stores")
left, right = st.columns(2)
with left, st.form("new_store", clear_on_submit=True, border=False):
    name = st.text_input("New store name", placeholder="e.g. corner-bakery")
    if st.form_submit_button("Create store"):
        try:
            name = validate_store_name(name.strip())
        except AssistantError as exc:
            st.error(md(str(exc)))
        else:
            st.session_state.setdefault("new_stores", []).append(name)
            st.session_state["next_store"] = name
            st.rerun()
with right:
    st.markdown("**Sample catalogs**")
    st.caption("Rebuild every store in `catalog/` from its files (changes uploaded to those stores are replaced).")
    if st.button("Rebuild sample catalogs", icon="🔄"):
        bar = st.progress(0.0, text="Starting…")
        try:
            reports = run_ingest(settings=settings, rebuild=True, progress=progress_callback(bar),
                                     index=get_index(), embeddings=get_embeddings())
        except AssistantError as exc:
            st.error(md(str(exc)))
        else:
            finish(" · ".join(r.summary() for r in reports))

# ---------------------------------------------------------------- delete the store (admin)
if info is not None:
    with st.expander(f"Delete the store {md(store)}", icon="🗑️"):
        st.caption("Removes the store's index and its files on disk; your catalog files are not touched. "
                   "This cannot be undone.")
        typed = st.text_input("Type the store name to confirm", key=f"delete-confirm-{store}")
        if st.button("Delete store", type="primary", icon="🗑️", disabled=typed.strip() != store):
            try:
                deleted = delete_store(store, settings=settings, index=get_index())
            except AssistantError as exc:
                st.error(md(str(exc)))
            else:
                st.session_state["new_stores"] = [n for n in st.session_state.get("new_stores", []) if n != store]
                finish(deleted.summary())
