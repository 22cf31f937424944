"""``python -m tools sentiment``: review sentiment from the shell.

    python -m tools sentiment [--json] [--model NAME] TEXT...
    python -m tools sentiment --file reviews.csv [--column text] [--by dish] [--json] [--out labelled.csv]

One text with ``--json`` prints ``{"label", "score", "aspects"}``; several texts print one such
object per line. A file prints one object per row (with its ``row`` number in the file) and then
``{"summary": {...}}``. Exit codes: 0 done; 2 bad input (one line on stderr naming the problem).
"""

from __future__ import annotations

import argparse
import json
import sys

from rag.errors import AssistantError

SYMBOL = {"positive": "+", "negative": "−", "neutral": "="}


class _ArgError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, handled in cli()
        raise _ArgError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m tools sentiment", description="Positive/negative/neutral for reviews.")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="review text(s) to classify")
    p.add_argument("--file", help="a CSV or XLSX file of reviews")
    p.add_argument("--column", help="the column with the review text (default: guessed)")
    p.add_argument("--by", help="a product/dish column to summarise by")
    p.add_argument("--out", help="write the labelled file to this CSV path")
    p.add_argument("--model", help="'default' or a text classifier trained on the Fine-tune page (default: settings)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--batch-size", type=int, default=32)
    return p


def cli(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
        if bool(args.texts) == bool(args.file):
            raise _ArgError("give either TEXT... or --file reviews.csv (not both, not neither)")
    except _ArgError as exc:
        print(f"sentiment: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except AssistantError as exc:
        print(str(exc).replace("\n", " "), file=sys.stderr)
        return 2


def _analyzer(args):
    from rag.settings import load_settings
    from tools.sentiment import SentimentAnalyzer

    return SentimentAnalyzer.from_settings(load_settings(), model=args.model)


def _run(args) -> int:
    from tools.sentiment import aspect_text

    if args.texts:
        results = _analyzer(args).analyze(args.texts, batch_size=args.batch_size)
        for text, r in zip(args.texts, results, strict=True):
            if args.json:
                print(json.dumps(r.to_json(), ensure_ascii=False))
            else:
                extra = f"  [{aspect_text(r.aspects)}]" if r.aspects else ""
                print(f"{r.label:8s} {r.score:.2f}{extra}  {text}")
        return 0
    return _run_file(args)


def _run_file(args) -> int:
    from tqdm import tqdm

    from tools.sentiment import analyze_frame, aspect_text, guess_columns, read_reviews, summary, to_csv_bytes

    df = read_reviews(args.file)
    column = args.column or guess_columns(df)[0]
    # validate the columns before loading the model (a typo should fail in a second)
    from tools.sentiment.bulk import _check_column

    name = args.file
    _check_column(df, column, name, "text")
    if args.by:
        _check_column(df, args.by, name, "product/dish")
    analyzer = _analyzer(args)
    with tqdm(total=len(df), desc="Classifying", unit="review", disable=args.json or not sys.stderr.isatty()) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        result = analyze_frame(df, analyzer, column, args.by, name=name, batch_size=args.batch_size, progress=progress)
    if result.skipped_message:
        print(result.skipped_message, file=sys.stderr)
    frame = result.frame
    for i in range(len(frame)):
        row = frame.iloc[i]
        aspects = {a: row[f"aspect_{a}"] for a in ("food", "service", "price", "ambience") if row[f"aspect_{a}"]}
        obj = {"row": int(row["row"]), "label": row["sentiment"], "score": float(row["confidence"]), "aspects": aspects}
        if args.by:
            obj[args.by] = str(row[args.by])
        if args.json:
            print(json.dumps(obj, ensure_ascii=False))
        else:
            group = f"{row[args.by]}: " if args.by else ""
            extra = f"  [{aspect_text(aspects)}]" if aspects else ""
            print(f"row {obj['row']:>5}  {obj['label']:8s} {obj['score']:.2f}{extra}  {group}{row[column]}")
    summ = summary(result)
    if args.json:
        print(json.dumps({"summary": summ}, ensure_ascii=False))
    else:
        labels = ", ".join(f"{k} {v}" for k, v in summ["labels"].items())
        print(f"\n{summ['rows']} reviews: {labels}")
        for aspect, counts in summ["aspects"].items():
            print(f"  {aspect:9s} " + ", ".join(f"{SYMBOL[k]}{v}" for k, v in counts.items()))
        for group, counts in summ.get("by", {}).items():
            print(f"  {group}: " + ", ".join(f"{k} {counts[k]}" for k in ("positive", "neutral", "negative")))
    if args.out:
        try:
            with open(args.out, "wb") as fh:
                fh.write(to_csv_bytes(result))
        except OSError as exc:
            print(f"{args.out}: cannot write the labelled file ({exc.strerror or exc}).", file=sys.stderr)
            return 2
    return 0
