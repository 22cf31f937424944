"""The registry of fine-tuned classifiers: one folder per model under ``settings.finetuned_models_dir``.

Every saved model folder holds, besides its weights and ``README.md`` model card, a
``catalog_model.json`` (:data:`INFO_FILE`) that says what it is. The registry only reads that
file, so listing is cheap and a half-written folder (no info file yet) is never listed:
trainers write the info file last, after the weights and the card.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rag.errors import FineTuneError

if TYPE_CHECKING:  # pragma: no cover
    from rag.settings import Settings

logger = logging.getLogger(__name__)

INFO_FILE = "catalog_model.json"
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

Kind = Literal["text", "image"]


@dataclass(frozen=True)
class ModelInfo:
    """What a saved classifier is. ``dir`` is where it lives (not stored in the file)."""

    name: str
    kind: Kind
    base: str  # e.g. "minilm", "e5", "efficientnet-lite0"
    labels: tuple[str, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""  # ISO-8601 UTC
    language: str | None = None  # "es", "en", "mixed" (text models)
    store: str | None = None  # the store an image model's classes map to, if any
    dir: Path = Path()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("dir")
        data["labels"] = list(self.labels)
        return data


def validate_model_name(name: str) -> str:
    if not MODEL_NAME_RE.match(name or "") or name in {".", ".."}:
        raise FineTuneError(
            f"Invalid model name {name!r}: use 1-63 letters, digits, '.', '-' or '_', starting with a "
            "letter or digit (for example 'food-or-not' or 'reviews_es')."
        )
    return name


def models_root(settings: Settings) -> Path:
    return Path(settings.finetuned_models_dir)


def model_path(settings: Settings, name: str) -> Path:
    """The folder a model of this name is (or will be) saved in."""
    return models_root(settings) / validate_model_name(name)


def write_info(info: ModelInfo) -> None:
    """Write ``catalog_model.json`` atomically; call it last, when the folder is complete."""
    target = Path(info.dir) / INFO_FILE
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(target)


def read_info(model_dir: Path) -> ModelInfo:
    path = Path(model_dir) / INFO_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ModelInfo(
            name=Path(model_dir).name,  # the folder is the name (a renamed folder is found by its new name)
            kind=data["kind"],
            base=data["base"],
            labels=tuple(data["labels"]),
            metrics=data.get("metrics", {}),
            created=data.get("created", ""),
            language=data.get("language"),
            store=data.get("store"),
            dir=Path(model_dir),
        )
    except FileNotFoundError:
        raise FineTuneError(f"{model_dir} is not a saved classifier (no {INFO_FILE}).") from None
    except KeyError as exc:
        raise FineTuneError(f"{path} is damaged (no {exc.args[0]!r} field); delete the folder and train the model again.") from None
    except (OSError, ValueError, TypeError) as exc:
        raise FineTuneError(f"{path} is damaged ({exc}); delete the folder and train the model again.") from None


def list_models(settings: Settings, kind: Kind | None = None) -> list[ModelInfo]:
    """Every complete saved model, newest first; damaged folders are logged and skipped."""
    root = models_root(settings)
    found: list[ModelInfo] = []
    if not root.is_dir():
        return found
    for child in root.iterdir():
        if not (child / INFO_FILE).is_file():
            continue
        try:
            info = read_info(child)
        except FineTuneError as exc:
            logger.warning("%s", exc)
            continue
        if kind is None or info.kind == kind:
            found.append(info)
    return sorted(found, key=lambda i: (i.created, i.name), reverse=True)


def get_model(settings: Settings, name: str, kind: Kind | None = None) -> ModelInfo:
    """The saved model called ``name``; the error lists the models that exist."""
    path = model_path(settings, name)
    if (path / INFO_FILE).is_file():
        info = read_info(path)
        if kind is None or info.kind == kind:
            return info
    names = ", ".join(i.name for i in list_models(settings, kind)) or "none yet"
    what = f"{kind} classifier" if kind else "classifier"
    raise FineTuneError(f"No {what} called {name!r}. Saved: {names}. Train one on the Fine-tune page or with python -m finetune.")
