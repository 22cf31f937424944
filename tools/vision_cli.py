"""``python -m tools image [--store NAME] [--json] PHOTO``: what is in the photo and which catalog rows it is.

With ``--json``: ``{"labels": [{"label", "score"}], "products": [{"id", "name", "score"}], "model": str, "ms": float}``.
Exit codes: 0 done; 2 bad input (one line on stderr naming the file and the problem).
"""

from __future__ import annotations

import argparse
import json
import sys

from rag.errors import AssistantError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools image", description="Find the catalog rows a photo shows.")
    p.add_argument("photo", metavar="PHOTO")
    p.add_argument("--store", default=None, help="the store whose catalog to search (default: the default store)")
    p.add_argument("--top", type=int, default=5, help="how many labels and rows (default 5)")
    p.add_argument("--imagenet-only", action="store_true", help="ignore a classifier fine-tuned for this store")
    p.add_argument("--json", action="store_true")
    return p


def cli(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from rag.settings import load_settings
    from tools.vision import identify

    try:
        result = identify(args.photo, settings=load_settings(), store=args.store, top=args.top,
                          use_finetuned=not args.imagenet_only)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    print(f"{args.photo} ({result.model}, {result.ms:.0f} ms)")
    for lab in result.labels:
        print(f"  {lab.score:6.1%}  {lab.label}")
    if result.products:
        print(f"Matching rows in '{result.store}':")
        for p in result.products:
            print(f"  {p.score:+.3f}  {p.id}  {p.name}  (via {p.label!r})")
    if result.note:
        print(result.note, file=sys.stderr)
    return 0
