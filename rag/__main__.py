"""``python -m rag``: ask the catalog from the shell, or evaluate the assistant.

    python -m rag ask "How much is the iPhone 15?"
    python -m rag ask --store bella-italia --json "¿Tienen opciones vegetarianas?"
    python -m rag eval tests/data/dev_techstore.jsonl --store techstore
    python -m rag serve             # keep the model loaded: later `ask` calls answer without loading it
    python -m rag doctor            # this machine, the engine, the models, Chroma, and a self-test
    python -m rag admin-password    # set or reset the app's admin password (--print-hash: for secrets)

Exit codes: 0 answered (including an honest "not in the catalog"); 2 could not answer (or the
password was refused).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from rag.errors import AssistantError
from rag.settings import load_settings

OVERRIDES = ("llm_preset", "llm_backend", "embedding", "retrieval", "top_k")


def _settings(args: argparse.Namespace):
    overrides: dict[str, Any] = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k, None) is not None}
    return load_settings(**overrides)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", help="store to ask (default: settings.default_store)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--llm-preset", dest="llm_preset", choices=["qwen-1.5b", "qwen-0.5b", "smollm2-135m"])
    p.add_argument("--llm-backend", dest="llm_backend", choices=["llamacpp", "transformers", "openai"])
    p.add_argument("--embedding", help="'e5', 'minilm' or a local sentence-transformers dir")
    p.add_argument("--retrieval", choices=["hybrid", "vector"])
    p.add_argument("--top-k", dest="top_k", type=int)


def answer_question(args: argparse.Namespace):
    """The :class:`rag.chain.Answer` to ``args.question`` in ``args.store`` (what ``ask`` prints)."""
    from rag.chain import ask, validate_question
    from rag.factory import build_embeddings, build_index, build_llm, build_store_chain

    settings = _settings(args)
    question = validate_question(" ".join(args.question), settings.max_question_chars)
    store = args.store or settings.default_store
    t0 = time.perf_counter()
    index = build_index(settings)
    embeddings = build_embeddings(settings)
    index.live_collection(store, _emb_id(settings))  # fail fast, before loading the LLM
    llm = build_llm(settings)
    chain = build_store_chain(settings, index, embeddings, llm, store)
    load_s = round(time.perf_counter() - t0, 3)
    answer = ask(chain, question)
    answer.timings["load_s"] = load_s
    return answer


def cmd_ask(args: argparse.Namespace) -> int:
    answer = answer_question(args)
    load_s = answer.timings["load_s"]
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.answer)
    if answer.ungrounded:
        what = "its answer is withheld" if answer.refused else "check it against the sources"  # plain pipeline
        print(f"\n⚠ The model stated {', '.join(answer.ungrounded)}, which the row it names does not contain: {what}.")
    if answer.sources:
        print("\nSources:")
        for d in answer.sources:
            print(f"  [{d.metadata.get('id', d.id)}] {d.metadata.get('name', '')}  ({d.metadata.get('source', '')} line {d.metadata.get('line', '?')})")
    t = answer.timings
    print(f"\n(decided by: {answer.method}; retrieval {t.get('retrieval_s', 0):.2f}s, first token {t.get('first_token_s', 0):.2f}s, "
          f"total {t.get('total_s', 0):.2f}s, model load {load_s:.2f}s)", file=sys.stderr)
    return 0


def _emb_id(settings) -> str:
    from rag.models import embedding_id

    return embedding_id(settings)


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.evaluate import main_eval

    return main_eval(args, _settings(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from rag.engine import ensure_for
    from rag.llm_server import find_shared, serve
    from rag.models import model_server, resolve_gguf

    settings = _settings(args)
    ensure_for(settings)
    path = resolve_gguf(settings)
    if find_shared(settings.data_dir, path) is not None:
        raise AssistantError(f"A model server for {path.name} is already running for {settings.data_dir}.")
    server = model_server(settings, path)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` stops it as cleanly as Ctrl+C
    print(f"Loading {path.name} in a supervised process…", file=sys.stderr)
    try:
        serve(server, settings.data_dir, on_ready=lambda: print(
            f"Model server ready at {server.base_url} (pid {os.getpid()}). `python -m rag ask` now uses it; "
            "Ctrl+C stops it.", file=sys.stderr))
    except KeyboardInterrupt:
        pass
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from rag.doctor import as_dicts, run_checks

    checks = run_checks(_settings(args), selftest=not args.no_selftest)
    bad = [c for c in checks if not c.ok]
    if args.json:
        print(json.dumps({"ok": not bad, "checks": as_dicts(checks)}, ensure_ascii=False, indent=2))
        return 1 if bad else 0
    for c in checks:
        print(f"{'OK ' if c.ok else 'BAD'} {c.name}: {c.detail}")
        if c.fix:
            print(f"    fix: {c.fix}")
    print("\nAll good: the assistant can answer on this machine." if not bad
          else f"\n{len(bad)} problem(s) found; apply the fix shown under each.")
    return 1 if bad else 0


def _read_new_password(from_stdin: bool) -> tuple[str, str]:
    """The new password and its confirmation: typed twice (hidden), or one line of standard input."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        return line, line
    from getpass import getpass

    return getpass("New admin password: "), getpass("Type it again: ")


def cmd_admin_password(args: argparse.Namespace) -> int:
    from rag.auth import AccessControl, check_new_password, hash_password

    access = AccessControl(load_settings())
    if args.unlock:
        access.limiter.clear()
        print("Failed sign-in counts and locks cleared.")
        return 0
    password, confirm = _read_new_password(args.password_stdin)
    if args.print_hash:
        print(hash_password(check_new_password(password, confirm)))
        return 0
    path = access.set_password(password, confirm)
    print(f"Admin password saved in {path}. Failed sign-in counts are cleared, and sessions signed in with the "
          "old password are signed out.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Ask the catalog assistant.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_ask = sub.add_parser("ask", help="answer one question from a store's catalog")
    p_ask.add_argument("question", nargs="+", help="the question (quote it)")
    _add_common(p_ask)
    p_ask.set_defaults(func=cmd_ask)
    p_eval = sub.add_parser("eval", help="score the assistant on a JSONL question set")
    p_eval.add_argument("file", help="JSONL: question, gold_ids, expect_any, expect_all, refuse")
    p_eval.add_argument("--limit", type=int, help="only the first N questions")
    p_eval.add_argument("--retrieval-only", action="store_true", help="skip the LLM; retrieval metrics only")
    p_eval.add_argument(
        "--config", action="append", metavar="NAME|K=V,...",
        help="a configuration to score, repeatable, side by side in one run: baseline (MiniLM, vector only, plain "
        "chain), e5-plain, hybrid-plain, default (the shipped settings), or settings overrides such as "
        "'retrieval=vector,top_k=6' (default: default)",
    )
    _add_common(p_eval)
    p_eval.set_defaults(func=cmd_eval)
    p_serve = sub.add_parser("serve", help="keep the model loaded in a supervised server that `ask` uses")
    _add_common(p_serve)
    p_serve.set_defaults(func=cmd_serve)
    p_doc = sub.add_parser("doctor", help="check this machine, the llama.cpp build, the models and Chroma")
    p_doc.add_argument("--json", action="store_true", help="machine-readable output")
    p_doc.add_argument("--no-selftest", action="store_true", help="skip loading the model")
    p_doc.set_defaults(func=cmd_doctor)
    p_adm = sub.add_parser("admin-password",
                           help="set or reset the app's admin password (saved hashed in data_dir/auth)")
    p_adm.add_argument("--print-hash", action="store_true",
                       help="print the argon2 hash for admin_password_hash (Cloud secrets) instead of saving it")
    p_adm.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p_adm.add_argument("--unlock", action="store_true", help="only clear failed sign-in counts and locks")
    p_adm.set_defaults(func=cmd_admin_password)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except AssistantError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(exc)}, ensure_ascii=False))
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
