"""Load any saved classifier and predict with it, whatever its kind and base."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from finetune.registry import ModelInfo
from rag.errors import FineTuneError


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float  # probability of ``label``, 0..1
    scores: dict[str, float] | None = None  # every label's probability, when asked for


class Classifier(Protocol):
    info: ModelInfo

    def predict(self, inputs: list[Any], *, all_scores: bool = False) -> list[Prediction]:
        """Texts (str) for a text model; image paths or PIL images for an image model."""


def load_classifier(info: ModelInfo) -> Classifier:
    """The saved model as a :class:`Classifier` (load once and keep it: loading costs seconds)."""
    if info.kind == "text":
        from finetune.text import load_text_classifier

        return load_text_classifier(info)
    if info.kind == "image":
        from finetune.image import load_image_classifier

        return load_image_classifier(info)
    raise FineTuneError(f"{info.dir}: unknown model kind {info.kind!r}.")
