"""``python -m finetune train-image FOLDER_OR_ZIP --name NAME [--store S] [--json]``.

Prints progress on stderr (tqdm); with ``--json`` the last line of stdout is
``{"name", "dir", "base", "metrics": {"accuracy", "macro_f1", ...}, "train_s"}``.
Exit codes: 0 saved; 2 bad input (one line naming the file or class and the problem).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from rag.errors import AssistantError, DataValidationError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m finetune train-image",
        description="Fine-tune EfficientNet-Lite0 on a folder or zip of photos, one sub-folder per class.")
    p.add_argument("source", metavar="FOLDER_OR_ZIP")
    p.add_argument("--name", required=True, help="the model's name in the registry")
    p.add_argument("--store", default=None,
                   help="the catalog store whose products the classes are (the photo tool uses the model for it)")
    p.add_argument("--val", default=None, metavar="FOLDER_OR_ZIP",
                   help="separate validation photos (same class folders)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on the last line")
    return p


def cli(command: str, argv: list[str]) -> int:
    del command  # only train-image lands here
    args = build_parser().parse_args(argv)
    from tqdm import tqdm

    from finetune.image import train_image_classifier
    from rag.settings import load_settings

    bars: dict[str, tqdm] = {}

    def progress(event) -> None:
        if event.total_steps:
            bar = bars.get(event.stage)
            if bar is None:
                for old in bars.values():
                    old.close()
                unit = "epoch" if "stage" in event.stage else "photo"
                bar = bars[event.stage] = tqdm(total=event.total_steps, desc=event.stage, unit=unit, file=sys.stderr,
                                               leave=False)
            bar.n = event.step
            if event.val_loss is not None:
                bar.set_postfix(loss=f"{event.loss:.3f}", val_loss=f"{event.val_loss:.3f}", refresh=False)
            bar.refresh()
        elif event.message:
            print(f"{event.stage}: {event.message}", file=sys.stderr)

    started = time.perf_counter()
    try:
        info = train_image_classifier(args.source, name=args.name, settings=load_settings(), progress=progress,
                                      store=args.store, val_source=args.val)
    except DataValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for bar in bars.values():
            bar.close()
    train_s = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps({"name": info.name, "dir": str(info.dir), "base": info.base, "metrics": info.metrics,
                          "train_s": train_s}, ensure_ascii=False))
    else:
        m = info.metrics
        print(f"Saved {info.name} to {info.dir}: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} on "
              f"{m['val_images']} validation photos ({train_s} s).")
        if m.get("skipped"):
            print(f"Skipped {m['skipped']} unreadable photo(s): see {info.dir / 'metrics.json'}.")
    return 0
