"""Catalog assistant — Streamlit entry point: ``streamlit run streamlit_app.py``.

Runs on every page: draws the language switch (``app_pages.i18n``), asks for the staff PIN when one
is set, builds the sample index on the very first start, draws the sidebar store picker
(``st.session_state["store"]``) and the Log out button, and hands over to the chosen page (the
Catalog and Fine-tune pages gate themselves: admins only).
"""

from __future__ import annotations

import streamlit as st

from app_pages.auth import require_staff, sidebar_account
from app_pages.components import md, progress_callback, store_summary
from app_pages.i18n import error_text, language_switch, t
from app_pages.resources import get_embeddings, get_index, get_settings
from ingest.pipeline import run as run_ingest
from rag.errors import AssistantError, IngestLockedError

st.set_page_config(page_title=t("app.title"), page_icon="🛍️", layout="wide")
with st.sidebar:
    language_switch()

try:
    settings = get_settings()
    index = get_index()
except AssistantError as exc:
    st.error(md(error_text(exc)))
    st.stop()

require_staff()  # nothing below, not even the store names, without the staff PIN (when one is set)
try:
    stores = index.stores()
except AssistantError as exc:  # the Chroma server (chroma_host) stopped answering: the next rerun reconnects
    st.error(md(error_text(exc)))
    st.stop()

# First start (e.g. a fresh Streamlit Community Cloud deploy): build the sample catalogs, once
# per session at most (a failure is shown, not retried on every rerun).
if not stores and settings.catalog_dir.is_dir() and "first_build" not in st.session_state:
    st.session_state["first_build"] = None
    with st.status(t("first_build.status"), expanded=True) as status:
        st.write(t("first_build.explain"))
        bar = st.progress(0.0, text=t("common.starting"))
        try:
            reports = run_ingest(settings=settings, progress=progress_callback(bar), index=index, embeddings=get_embeddings())
        except IngestLockedError as exc:
            del st.session_state["first_build"]  # try again on the next rerun
            status.update(label=t("first_build.locked"), state="error")
            st.warning(md(error_text(exc)))
            st.button(t("first_build.reload"))
            st.stop()
        except AssistantError as exc:
            st.session_state["first_build"] = error_text(exc)
            status.update(label=t("first_build.failed"), state="error")
        else:
            status.update(label=t("first_build.ready", stores=len(reports)), state="complete")
            if reports:
                st.rerun()
if not stores and st.session_state.get("first_build"):
    st.error(md(st.session_state["first_build"]))

# Store picker. A page that creates a store asks for it through "next_store", because a
# widget's state cannot be changed after the widget is drawn in the same run.
names = sorted({s.store for s in stores} | set(st.session_state.get("new_stores", [])))
if "next_store" in st.session_state:
    st.session_state["store"] = st.session_state.pop("next_store")
if st.session_state.get("store") not in names:
    st.session_state["store"] = settings.default_store if settings.default_store in names or not names else names[0]
if st.session_state["store"] not in names:
    names.append(st.session_state["store"])
info_by_name = {s.store: s for s in stores}

with st.sidebar:
    st.selectbox(t("sidebar.store"), names, key="store", help=t("sidebar.store_help"))
    store_summary(info_by_name.get(st.session_state["store"]))
    st.divider()
    if settings.llm_backend == "openai":
        model = settings.openai_model
    else:
        model = settings.llm_model_path.name if settings.llm_model_path else settings.llm_preset
    st.caption(t("sidebar.model", model=md(str(model)), backend=settings.llm_backend, embedding=md(settings.embedding)))
    sidebar_account()

page = st.navigation(
    [
        st.Page("app_pages/ask.py", title=t("nav.ask"), icon="💬", default=True),
        st.Page("app_pages/reviews.py", title=t("nav.reviews"), icon="⭐"),
        st.Page("app_pages/photo.py", title=t("nav.photo"), icon="📷"),
        st.Page("app_pages/catalog.py", title=t("nav.catalog"), icon="📦"),
        st.Page("app_pages/fine_tune.py", title=t("nav.fine_tune"), icon="🧪"),
    ]
)
page.run()
