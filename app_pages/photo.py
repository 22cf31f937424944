"""Photo page: take or upload a photo of a product -> what it is, and the matching rows of the store.

Thin: :func:`tools.vision.identify` does the work; the heavy objects (ImageNet model, a classifier
fine-tuned for this store, the store's row vectors) are cached once per process here.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from app_pages.components import current_store, md
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


@st.cache_resource(show_spinner="Loading the image model…")
def get_imagenet() -> ImageNetModel:
    return ImageNetModel()


@st.cache_resource(show_spinner="Loading this store's photo classifier…", max_entries=4)
def get_classifier(model_dir: str, created: str):
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
st.title(f"📷 Photo → product · {md(store)}")
st.caption("Take or upload a photo of a product: the assistant says what it sees and which rows of the catalog "
           "it is. Then ask about it.")

info = find_store_classifier(settings, store)
if info is not None:
    st.info(f"Using **{md(info.name)}**, a photo classifier trained for this store "
            f"({md(', '.join(info.labels[:8]))}{'…' if len(info.labels) > 8 else ''}).")
else:
    st.caption("No photo classifier trained for this store yet: using the general ImageNet model (1,000 everyday "
               "things). Train one on the **Fine-tune** page for your own products.")

upload = st.file_uploader("Upload a photo", type=UPLOAD_TYPES, key="photo_upload")
if st.toggle("Use the camera", key="photo_camera"):
    shot = st.camera_input("Take a photo", key="photo_shot")
    upload = shot or upload

if upload is None:
    st.info("Upload a photo (JPEG, PNG, WebP…) or switch on the camera to start.")
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
        with st.spinner("Looking at the photo…"):
            result = identify(data, name=upload.name, settings=settings, index=index, embeddings=get_embeddings(),
                              store=store if live is not None else None, classifier=classifier,
                              imagenet=None if classifier is not None else get_imagenet(), catalog=catalog,
                              use_finetuned=classifier is not None)
    except AssistantError as exc:
        st.error(md(str(exc)))
        st.stop()
    st.session_state["photo_result"] = ((digest, store), result)

left, right = st.columns([2, 3])
with left:
    st.image(data, caption=md(upload.name), width="stretch")
with right:
    st.subheader("What the model sees")
    labels = pd.DataFrame([{"label": lab.label, "probability": lab.score} for lab in result.labels])
    st.dataframe(labels, hide_index=True, width="stretch",
                 column_config={"probability": st.column_config.ProgressColumn(
                     "probability", format="%.0f%%", min_value=0.0, max_value=1.0)})
    st.caption(f"{md(result.model)} · {result.ms:.0f} ms")

st.subheader("Matching products")
if not result.products:
    st.info(md(result.note or f"No rows to match in '{store}'. Ingest its catalog on the Catalog page."))
    st.stop()
rows = pd.DataFrame([{"match": p.score, "id": p.id, "name": p.name, "matched label": p.label,
                      **{k: v for k, v in p.row.items() if k not in {"id", "name", "source", "line"}}}
                     for p in result.products])
st.dataframe(rows, hide_index=True, width="stretch",
             column_config={"match": st.column_config.NumberColumn(
                 "match", format="%.3f", help="Similarity above the row's baseline; 1.0 is an exact name match")})
st.caption("Rows are found by meaning, in any language: the label “banana” finds “Plátano de Canarias”.")

choices = {f"{p.name} ({p.id})": p for p in result.products}
picked = st.selectbox("Product", list(choices), index=0, key="photo_pick")
live = get_index().info(store)
language = live.language if live is not None and live.language in QUESTION else "en"
if st.button("💬 Ask about this product", type="primary"):
    st.session_state["prefill_question"] = QUESTION[language].format(name=choices[picked].name)
    st.switch_page(ASK_PAGE)
st.caption(md(f"Pre-fills the Ask page with: {QUESTION[language].format(name=choices[picked].name)}"))
