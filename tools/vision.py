"""Photo -> product: what is in the photo, and which rows of the store's catalog it is.

Two steps:

1. **Labels.** A classifier fine-tuned for this store (Fine-tune page, ``kind="image"`` with
   ``store`` set) when one exists, else the stock EfficientNet-Lite0 ImageNet model (top-5 of
   1000 everyday classes such as "banana", "lemon", "Granny Smith").
2. **Rows.** Each label is embedded as an e5 *query* with the same multilingual model the
   assistant retrieves with, and compared with the rows' stored *passage* embeddings, so
   "banana" finds "Plátano de Canarias". Short labels against a small catalog suffer from
   *hubness* (some rows, e.g. "Limón", are close to every word), so each row's cosine is measured
   above its own baseline: its mean cosine to 100 unrelated ImageNet labels (as CSLS does for
   bilingual word matching). A row's score is the probability-weighted mean of that margin over
   the labels; a label that is exactly a row's name or id counts as a perfect match (1.0).

Heavy objects (the ImageNet model, a fine-tuned classifier, the embedder, the catalog's vectors)
are arguments, so the UI can cache them once per process; anything not given is built here.
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from finetune import effnet
from finetune.registry import ModelInfo, list_models
from rag.errors import IndexMissingError
from rag.store import get_all

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.embeddings import Embeddings

    from finetune.predict import Classifier
    from rag.settings import Settings
    from rag.store import CatalogIndex

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Label:
    label: str
    score: float  # probability, 0..1


@dataclass(frozen=True)
class ProductMatch:
    id: str
    name: str
    score: float  # probability-weighted cosine margin over the row's baseline (1.0: exact name match)
    label: str  # the label that matched this row best
    row: dict[str, Any] = field(default_factory=dict)  # the row's catalog fields (for display)


@dataclass
class VisionResult:
    labels: list[Label]
    products: list[ProductMatch]
    model: str  # which model named the labels
    ms: float  # wall time for this photo: decode, classify, match (model loading not included)
    store: str | None = None
    note: str = ""  # why there are no products, when there are none

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": [{"label": lab.label, "score": round(lab.score, 4)} for lab in self.labels],
            "products": [{"id": p.id, "name": p.name, "score": round(p.score, 4)} for p in self.products],
            "model": self.model,
            "ms": round(self.ms, 1),
            **({"note": self.note} if self.note else {}),
        }


@dataclass
class CatalogVectors:
    """The product rows of one store's live collection with their stored e5 passage vectors."""

    store: str
    collection: str
    rows: list[dict[str, Any]]
    matrix: np.ndarray  # (rows, dim), L2-normalised
    baseline: np.ndarray | None = None  # (rows,) mean cosine to unrelated labels, computed on first use

    def __len__(self) -> int:
        return len(self.rows)


def load_catalog(index: CatalogIndex, store: str, settings: Settings) -> CatalogVectors:
    """Read the store's product rows and vectors (raises IndexMissingError/IndexMismatchError)."""
    from langchain_core.documents import Document

    from rag.chain import source_row
    from rag.models import embedding_id

    info, collection = index.live_collection(store, embedding_id(settings))
    got = get_all(collection, ["embeddings", "metadatas"])
    rows, vectors = [], []
    for i, meta, vec in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True):
        meta = meta or {}
        if meta.get("kind", "row") != "row":  # text sections (policies, menus) are not products
            continue
        rows.append(source_row(Document(id=i, page_content="", metadata=meta)))
        vectors.append(np.asarray(vec, dtype=np.float32))
    matrix = np.stack(vectors) if vectors else np.zeros((0, 1), np.float32)
    if len(matrix):
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True).clip(1e-12)
    return CatalogVectors(store=store, collection=info.collection, rows=rows, matrix=matrix)


def find_store_classifier(settings: Settings, store: str | None) -> ModelInfo | None:
    """The newest image classifier trained for ``store`` (Fine-tune page, "store" field), if any."""
    if not store:
        return None
    return next((m for m in list_models(settings, "image") if m.store == store), None)


#: label -> unit query vector, one dict per embedder (kept as long as the embedder lives)
_label_vectors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

REFERENCE_STEP = 10  # every 10th ImageNet label (100 words) measures each row's baseline


def _embed_label(text: str, embeddings: Embeddings, cache: dict[str, np.ndarray]) -> np.ndarray:
    if text not in cache:
        vec = np.asarray(embeddings.embed_query(text), dtype=np.float32)
        cache[text] = vec / max(float(np.linalg.norm(vec)), 1e-12)
    return cache[text]


def _cache_for(embeddings: Embeddings) -> dict[str, np.ndarray]:
    try:
        return _label_vectors.setdefault(embeddings, {})
    except TypeError:  # not weak-referenceable: no cache across calls
        return {}


def row_baseline(catalog: CatalogVectors, embeddings: Embeddings, cache: dict[str, np.ndarray]) -> np.ndarray:
    """Each row's mean cosine to 100 unrelated labels: how close it is to *any* word (hubness)."""
    if catalog.baseline is None:
        ref = np.stack([_embed_label(t, embeddings, cache) for t in effnet.imagenet_labels()[::REFERENCE_STEP]])
        catalog.baseline = (ref @ catalog.matrix.T).mean(axis=0)
    return catalog.baseline


def match_rows(labels: list[Label], catalog: CatalogVectors, embeddings: Embeddings, *, top: int = 5,
               cache: dict[str, np.ndarray] | None = None) -> list[ProductMatch]:
    """Rank the catalog's rows by meaning against the labels (see the module docstring)."""
    if not len(catalog) or not labels:
        return []
    cache = cache if cache is not None else _cache_for(embeddings)
    queries = np.stack([_embed_label(lab.label, embeddings, cache) for lab in labels])
    sims = queries @ catalog.matrix.T - row_baseline(catalog, embeddings, cache)  # (labels, rows)
    for li, lab in enumerate(labels):  # a class named exactly like a row is that row
        key = lab.label.strip().casefold()
        for ri, row in enumerate(catalog.rows):
            if key and key in (str(row.get("name", "")).strip().casefold(), str(row.get("id", "")).strip().casefold()):
                sims[li, ri] = 1.0
    weights = np.asarray([lab.score for lab in labels], dtype=np.float32)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(labels), 1 / len(labels), np.float32)
    scores = weights @ sims
    best_label = (weights[:, None] * sims).argmax(axis=0)
    order = np.argsort(-scores)[:top]
    return [
        ProductMatch(id=str(catalog.rows[i].get("id", "")), name=str(catalog.rows[i].get("name", "")),
                     score=float(scores[i]), label=labels[int(best_label[i])].label, row=catalog.rows[i])
        for i in order
    ]


def identify(
    image: Any,
    *,
    settings: Settings,
    index: CatalogIndex | None = None,
    embeddings: Embeddings | None = None,
    store: str | None = None,
    classifier: Classifier | None = None,
    top: int = 5,
    imagenet: effnet.ImageNetModel | None = None,
    catalog: CatalogVectors | None = None,
    use_finetuned: bool = True,
    name: str | None = None,
    label_cache: dict[str, np.ndarray] | None = None,
) -> VisionResult:
    """Name what is in a photo and find the matching rows of ``store``'s catalog.

    Args:
        image: a path, bytes, a file object (e.g. a Streamlit upload) or a PIL image.
        settings: the app settings (registry of fine-tuned models, embedding model, default store).
        index, embeddings, imagenet, catalog: cached heavy objects; built here when not given.
        store: the store whose rows to match (default ``settings.default_store``; when that default
            has no index the labels are still returned, with a ``note``).
        classifier: a loaded fine-tuned image classifier; when None and ``use_finetuned``, the newest
            one registered for ``store`` is loaded.
        top: how many labels and rows to return.
        name: the file name used in error messages (uploads).

    Raises:
        ToolInputError: the photo is missing, empty, not an image, damaged or too large.
        IndexMissingError / IndexMismatchError: ``store`` was named and cannot be searched.
    """
    started = time.perf_counter()
    picture = effnet.open_image(image, name=name)  # validate before loading anything heavy
    decode_ms = (time.perf_counter() - started) * 1000
    explicit_store = store is not None
    store = store or settings.default_store
    # -- load what was not given (not timed: the app and the benchmark load once per process)
    if classifier is None and use_finetuned:
        info = find_store_classifier(settings, store)
        if info is not None:
            from finetune.image import load_image_classifier

            classifier = load_image_classifier(info)
    if classifier is None and imagenet is None:
        imagenet = effnet.ImageNetModel()
    note = ""
    if catalog is None:
        try:
            if index is None:
                from rag.factory import build_index

                index = build_index(settings)
            catalog = load_catalog(index, store, settings)
        except IndexMissingError as exc:
            if explicit_store:
                raise
            note = str(exc)
    if catalog is not None and len(catalog):
        if embeddings is None:
            from rag.models import build_embeddings

            embeddings = build_embeddings(settings)
        label_cache = label_cache if label_cache is not None else _cache_for(embeddings)
        row_baseline(catalog, embeddings, label_cache)
    elif catalog is not None:
        note = f"The store '{store}' has no product rows to match."
    # -- the timed part: classify and match
    started = time.perf_counter()
    if classifier is not None:
        pred = classifier.predict([picture], all_scores=True)[0]
        ranked = sorted((pred.scores or {pred.label: pred.score}).items(), key=lambda kv: -kv[1])[:top]
        labels = [Label(lab, float(p)) for lab, p in ranked]
        model = f"{classifier.info.name} (fine-tuned {classifier.info.base})"
    else:
        labels = [Label(s.label, s.score) for s in imagenet.top([picture], k=top)[0]]
        model = imagenet.name
    products: list[ProductMatch] = []
    if catalog is not None and len(catalog):
        products = match_rows(labels, catalog, embeddings, top=top, cache=label_cache)
    ms = decode_ms + (time.perf_counter() - started) * 1000
    return VisionResult(labels=labels, products=products, model=model, ms=ms, store=store, note=note)
