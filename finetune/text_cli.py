"""``python -m finetune train-text | predict | list``: text classifiers from the shell.

    python -m finetune train-text DATA --text-col C --label-col C --name NAME [--base auto|minilm|e5]
                                  [--val FILE] [--epochs N] [--max-steps N] [--json]
    python -m finetune predict NAME [--json] TEXT_OR_IMAGE...
    python -m finetune list [--json]

With ``--json``, ``train-text``'s last stdout line is
``{"name", "dir", "base", "metrics": {"accuracy", "macro_f1", ...}, "train_s"}``; ``predict`` prints
one ``{"input", "label", "score"}`` line per input; ``list`` prints one JSON array. Progress bars
go to stderr. Exit code 2 on bad input; each data problem is one stderr line naming its row.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from finetune.jobs import Progress
from rag.errors import AssistantError, DataValidationError


class _Bars:
    """tqdm bars on stderr, one per training stage, fed by :class:`Progress` events."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.stage = ""

    def __call__(self, event: Progress) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        resized = self.bar is not None and event.total_steps and self.bar.total != event.total_steps
        if event.stage != self.stage or resized:
            self.close()
            self.stage = event.stage
            if event.total_steps:
                self.bar = tqdm(total=event.total_steps, desc=event.stage, file=sys.stderr, leave=False)
            elif event.message:
                print(f"{event.stage}: {event.message}", file=sys.stderr)
        if self.bar is not None:
            self.bar.n = min(event.step, self.bar.total)
            post = {}
            if event.epoch:
                post["epoch"] = f"{event.epoch:.2f}"
            if event.loss is not None:
                post["loss"] = f"{event.loss:.4f}"
            if event.val_loss is not None:
                post["val_loss"] = f"{event.val_loss:.4f}"
            self.bar.set_postfix(post, refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _settings():
    from rag.settings import load_settings

    return load_settings()


def _train(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune train-text", description="Train a text classifier.")
    parser.add_argument("data", help="CSV, XLSX or JSONL file with a text column and a label column")
    parser.add_argument("--text-col", default=None, help="column holding the texts (default: guessed, e.g. 'text')")
    parser.add_argument("--label-col", default=None, help="column holding the labels (default: guessed, e.g. 'label')")
    parser.add_argument("--name", required=True, help="model name, e.g. reviews_es")
    parser.add_argument("--base", default="auto", choices=["auto", "minilm", "e5"])
    parser.add_argument("--val", default=None,
                        help="your own validation file (same columns); default: a stratified split")
    parser.add_argument("--epochs", type=float, default=None, help="MiniLM epochs (default 3)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop MiniLM after this many steps")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on the last line")
    args = parser.parse_args(argv)

    from finetune.registry import validate_model_name
    from finetune.text import train_text_classifier
    from finetune.textdata import check_validation_set, load_text_data, require_valid

    validate_model_name(args.name)
    data, report = load_text_data(args.data, args.text_col, args.label_col)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    val = None
    if args.val:
        val, val_report = load_text_data(args.val, data.text_col, data.label_col, check_classes=False)
        check_validation_set(data, val, val_report)
        report.errors.extend(val_report.errors)
        report.warnings.extend(f"validation file: {w}" for w in val_report.warnings)
    require_valid(report)
    bars = _Bars(enabled=True)
    try:
        info = train_text_classifier(data, name=args.name, settings=_settings(), base=args.base, progress=bars,
                                     val_data=val, epochs=args.epochs, max_steps=args.max_steps)
    finally:
        bars.close()
    metrics = dict(info.metrics)
    train_s = metrics.pop("train_s", None)
    if args.json:
        print(json.dumps({"name": info.name, "dir": str(info.dir), "base": info.base, "metrics": metrics,
                          "train_s": train_s}, ensure_ascii=False))
    else:
        print(f"Saved {info.name} ({info.base}, {len(info.labels)} labels) to {info.dir}")
        print(f"Validation accuracy {metrics['accuracy']:.1%}, macro-F1 {metrics['macro_f1']:.3f} "
              f"on {metrics['n_val']} texts; trained in {train_s:.1f} s")
    return 0


def _predict(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune predict", description="Classify texts or images.")
    parser.add_argument("name", help="a saved model (see: python -m finetune list)")
    parser.add_argument("inputs", nargs="+", help="texts for a text model, image files for an image model")
    parser.add_argument("--json", action="store_true", help="one JSON line per input")
    args = parser.parse_args(argv)

    from finetune.predict import load_classifier
    from finetune.registry import get_model

    info = get_model(_settings(), args.name)
    classifier = load_classifier(info)
    predictions = classifier.predict(list(args.inputs))
    for given, pred in zip(args.inputs, predictions, strict=True):
        if args.json:
            print(json.dumps({"input": given, "label": pred.label, "score": round(pred.score, 4)}, ensure_ascii=False))
        else:
            print(f"{pred.label}\t{pred.score:.2f}\t{given}")
    return 0


def _list(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune list", description="List saved classifiers.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from finetune.registry import list_models

    settings = _settings()
    models = list_models(settings)
    if args.json:
        print(json.dumps([{**m.to_json(), "dir": str(m.dir)} for m in models], ensure_ascii=False))
        return 0
    if not models:
        print(f"No saved classifiers yet in {settings.finetuned_models_dir}. "
              "Train one: python -m finetune train-text DATA --name NAME", file=sys.stderr)
        return 0
    print(f"{'name':24} {'kind':6} {'base':18} {'labels':>6} {'accuracy':>9} {'macro-F1':>9}  created")
    for m in models:
        acc, f1 = m.metrics.get("accuracy"), m.metrics.get("macro_f1")
        print(f"{m.name:24} {m.kind:6} {m.base:18} {len(m.labels):>6} "
              f"{'' if acc is None else f'{acc:.1%}':>9} {'' if f1 is None else f'{f1:.3f}':>9}  {m.created}")
    return 0


def cli(command: str, argv: list[str]) -> int:
    """Run one of ``train-text``, ``predict``, ``list``; return the exit code."""
    run = {"train-text": _train, "predict": _predict, "list": _list}[command]
    try:
        return run(argv)
    except DataValidationError as exc:
        message, marker = str(exc), "to fix before training:"
        if exc.problems and marker in message:  # from require_valid: one line per problem, each naming its row
            print(f"error: {message.split(marker)[0]}{marker}", file=sys.stderr)
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 2
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
