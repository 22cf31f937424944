"""``python -m finetune validate-chat | csv-to-chat | catalog-to-chat``: chat-format JSONL tools.

    validate-chat FILE.jsonl [--json] [--max-tokens N]
        Every bad line with its number and reason, then counts and token stats.
        --json prints {"ok", "lines", "errors": [{"line", "reason"}], "warnings": [...], "stats": {...}}.
    csv-to-chat FILE [--question-col C] [--answer-col C] [--system TEXT] -o OUT.jsonl
        CSV/XLSX question/answer pairs (pregunta,respuesta by default) to chat JSONL.
    catalog-to-chat --store NAME -o OUT.jsonl [--language es|en] [--limit N]
        Question/answer pairs written from the store's own catalog rows.

Exit codes: 0 done (or the file is valid); 1 validate-chat found errors; 2 bad input (missing
file or column, empty cells: one line per problem on stderr, each naming the file or row).
"""

from __future__ import annotations

import argparse
import json
import sys

from rag.errors import AssistantError, DataValidationError


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors become exit code 2 with one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise DataValidationError(f"{self.prog}: {message}")


def _parser(command: str) -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m finetune {command}", description=__doc__.split("\n\n")[0])
    if command == "validate-chat":
        p.add_argument("file", help="the chat JSONL file to check")
        p.add_argument("--json", action="store_true", help="print the report as one JSON object")
        p.add_argument("--max-tokens", type=int, default=4096, help="token limit per example (default 4096)")
    elif command == "csv-to-chat":
        p.add_argument("file", help="a CSV or XLSX of question/answer pairs")
        p.add_argument("--question-col", help="question column (default: pregunta or question)")
        p.add_argument("--answer-col", help="answer column (default: respuesta or answer)")
        p.add_argument("--system", help="a system prompt added to every example")
        p.add_argument("-o", "--output", required=True, help="the JSONL file to write")
    else:
        p.add_argument("--store", help="store name (default: the configured default store)")
        p.add_argument("--language", choices=["es", "en"], help="language of the questions (default: the catalog's)")
        p.add_argument("--limit", type=int, help="use at most this many catalog rows")
        p.add_argument("-o", "--output", required=True, help="the JSONL file to write")
    return p


def cli(command: str, argv: list[str]) -> int:
    """Run one chat command; returns the exit code (see the module doc)."""
    try:
        args = _parser(command).parse_args(argv)
        if command == "validate-chat":
            return _validate(args)
        if command == "csv-to-chat":
            return _csv_to_chat(args)
        return _catalog_to_chat(args)
    except DataValidationError as exc:
        print(str(exc), file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except AssistantError as exc:
        print(str(exc), file=sys.stderr)
        return 2


def _validate(args: argparse.Namespace) -> int:
    from finetune.chat import validate_chat_jsonl

    report = validate_chat_jsonl(args.file, max_tokens=args.max_tokens)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return 0 if report.ok else 1
    for problem in report.errors:
        print(f"{args.file}:{problem}")
    for warning in report.warnings:
        print(f"{args.file}:{warning} (warning)")
    s = report.stats
    where = f" on {s['bad_lines']} line(s)" if s["bad_lines"] else ""
    print(f"{report.lines} lines, {s['examples']} valid examples, {len(report.errors)} error(s){where}.")
    if s["tokens_per_example"]:
        t, m = s["tokens_per_example"], s["messages_per_example"]
        print(f"Messages per example: min {m['min']}, mean {m['mean']}, max {m['max']}.")
        print(f"Tokens per example: min {t['min']}, mean {t['mean']}, p95 {t['p95']}, max {t['max']} "
              f"(counted with {s['tokenizer']}).")
        print(f"Over the {s['max_tokens']:,}-token limit: {len(s['over_limit'])} example(s)"
              + (f" (lines {', '.join(map(str, s['over_limit']))})." if s["over_limit"] else "."))
    print("OK: the file is ready for fine-tuning." if report.ok else "Fix the lines above and check again.")
    return 0 if report.ok else 1


def _csv_to_chat(args: argparse.Namespace) -> int:
    from finetune.chat import table_to_chat, write_chat_jsonl

    examples = table_to_chat(args.file, question_col=args.question_col, answer_col=args.answer_col, system=args.system)
    out = write_chat_jsonl(examples, args.output)
    print(f"Wrote {len(examples)} examples to {out}.")
    return 0


def _catalog_to_chat(args: argparse.Namespace) -> int:
    from finetune.chat import catalog_to_chat, write_chat_jsonl
    from rag.factory import build_index
    from rag.settings import load_settings

    settings = load_settings()
    store = args.store or settings.default_store
    examples = catalog_to_chat(build_index(settings), store, settings=settings, language=args.language,
                               limit=args.limit)
    out = write_chat_jsonl(examples, args.output)
    print(f"Wrote {len(examples)} examples from the '{store}' catalog to {out}.")
    return 0
