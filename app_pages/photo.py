"""Photo page: take or upload a photo of a product -> what it is, and the matching rows of the store.

Thin: :func:`tools.vision.identify` does the work; the heavy objects (ImageNet model, a classifier
fine-tuned for this store, the store's row vectors) are cached once per process here.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from app_pages.components import current_store, headers, md
from app_pages.i18n import error_text, t
from app_pages.resources import get_embeddings, get_index, get_settings
from finetune.effnet import IMAGE_EXTENSIONS, ImageNetModel
from rag.errors import AssistantError
from tools.vision import CatalogVectors, find_store_classifier, identify, load_catalog

ASK_PAGE = "app_pages/ask.py"
UPLOAD_TYPES = sorted({e.lstrip(".") for e in IMAGE_EXTENSIONS} | {"heic"})
QUESTION = {
    "es": "¿Qué me puedes decir de {name}? Precio, disponibilidad y detalles.",
    "en": "What can you tell me about {name}? Price, stock and details.",
}


def get_imagenet() -> ImageNetModel:
    with st.spinner(t("photo.loading_imagenet")):
        return _imagenet()


@st.cache_resource(show_spinner=False)
def _imagenet() -> ImageNetModel:
    return ImageNetModel()


def get_classifier(model_dir: str, created: str):
    with st.spinner(t("photo.loading_classifier")):
        return _classifier(model_dir, created)


@st.cache_resource(show_spinner=False, max_entries=4)
def _classifier(model_dir: str, created: str):
    """A fine-tuned classifier, reloaded when it is retrained (``created`` changes)."""
    del created
    from pathlib import Path

    from finetune.image import load_by_dir

    return load_by_dir(Path(model_dir))


@st.cache_resource(show_spinner=False, max_entries=8)
def get_catalog(store: str, collection: str) -> CatalogVectors:
    """The store's rows and vectors; ``collection`` is the cache key (a re-ingest publishes a new one)."""
    del collection
    return load_catalog(get_index(), store, get_settings())


settings = get_settings()
store = current_store()
st.title(t("photo.title", store=md(store)))
st.caption(t("photo.caption"))

info = find_store_classifier(settings, store)
if info is not None:
    st.info(t("photo.using_classifier", name=md(info.name),
              labels=md(", ".join(info.labels[:8])) + ("…" if len(info.labels) > 8 else "")))
else:
    st.caption(t("photo.using_imagenet"))

upload = st.file_uploader(t("photo.upload"), type=UPLOAD_TYPES, key="photo_upload")
if st.toggle(t("photo.use_camera"), key="photo_camera"):
    shot = st.camera_input(t("photo.take_photo"), key="photo_shot")
    upload = shot or upload

if upload is None:
    st.info(t("photo.start_hint"))
    st.stop()

data = upload.getvalue()
digest = hashlib.sha256(data).hexdigest()
cached = st.session_state.get("photo_result")
if cached and cached[0] == (digest, store):
    result = cached[1]
else:
    index = get_index()
    live = index.info(store)
    try:
        catalog = get_catalog(store, live.collection) if live is not None else None
        classifier = get_classifier(str(info.dir), info.created) if info is not None else None
        with st.spinner(t("photo.looking")):
            result = identify(data, name=upload.name, settings=settings, index=index, embeddings=get_embeddings(),
                              store=store if live is not None else None, classifier=classifier,
                              imagenet=None if classifier is not None else get_imagenet(), catalog=catalog,
                              use_finetuned=classifier is not None)
    except AssistantError as exc:
        st.error(md(error_text(exc)))
        st.stop()
    st.session_state["photo_result"] = ((digest, store), result)

left, right = st.columns([2, 3])
with left:
    st.image(data, caption=md(upload.name), width="stretch")
with right:
    st.subheader(t("photo.model_sees"))
    labels = pd.DataFrame([{"label": lab.label, "probability": lab.score} for lab in result.labels])
    st.dataframe(labels, hide_index=True, width="stretch",
                 column_config={**headers("label"), "probability": st.column_config.ProgressColumn(
                     t("table.probability"), format="%.0f%%", min_value=0.0, max_value=1.0)})
    st.caption(f"{md(result.model)} · {result.ms:.0f} ms")

st.subheader(t("photo.matching"))
if not result.products:
    st.info(md(result.note or t("photo.no_rows", store=store)))
    st.stop()
rows = pd.DataFrame([{"match": p.score, "id": p.id, "name": p.name, "matched label": p.label,
                      **{k: v for k, v in p.row.items() if k not in {"id", "name", "source", "line"}}}
                     for p in result.products])
st.dataframe(rows, hide_index=True, width="stretch",
             column_config={**headers("matched label"), "match": st.column_config.NumberColumn(
                 t("table.match"), format="%.3f", help=t("photo.match_help"))})
st.caption(t("photo.by_meaning"))

choices = {f"{p.name} ({p.id})": p for p in result.products}
picked = st.selectbox(t("photo.product"), list(choices), index=0, key="photo_pick")
live = get_index().info(store)
language = live.language if live is not None and live.language in QUESTION else "en"
if st.button(t("photo.ask_about"), type="primary"):
    st.session_state["prefill_question"] = QUESTION[language].format(name=choices[picked].name)
    st.switch_page(ASK_PAGE)
st.caption(md(t("photo.prefills", question=QUESTION[language].format(name=choices[picked].name))))
