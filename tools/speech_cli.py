"""``python -m tools transcribe``: a spoken question to text, and optionally to an answer.

    python -m tools transcribe question.wav
    python -m tools transcribe --store bella-italia --language es --json pregunta.m4a
    python -m tools transcribe --ask --json question.webm

``--json`` prints ``{"text", "language", "duration_s"}``; with ``--ask`` the ``python -m rag ask
--json`` object is added under ``"answer"``. The store's product names bias the spelling
(Whisper hotwords). Exit codes: 0 done; 2 bad input (one line naming the file and the problem).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rag.errors import AssistantError
from rag.settings import load_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools transcribe", description=__doc__.split("\n\n")[0])
    p.add_argument("audio", help="the recording: WAV, MP3, OGG, WebM or M4A")
    p.add_argument("--store", help="store whose product names bias the transcript (default: settings.default_store)")
    p.add_argument("--language", choices=["es", "en"],
                   help="pin the language (faster); default: settings.speech_language")
    p.add_argument("--model", choices=["base", "tiny.en"], help="Whisper model (default: settings.speech_model)")
    p.add_argument("--no-hotwords", action="store_true", help="do not bias toward the store's product names")
    p.add_argument("--ask", action="store_true", help="also answer the question from the store's catalog")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def answer_json(question: str, store: str) -> dict[str, Any]:
    """The ``python -m rag ask --json`` object for ``question``."""
    from rag.__main__ import answer_question

    return answer_question(argparse.Namespace(question=[question], store=store)).to_dict()


def run(args: argparse.Namespace) -> dict[str, Any]:
    from rag.factory import build_index
    from tools.speech import build_transcriber, catalog_hotwords

    settings = load_settings()
    store = args.store or settings.default_store
    hotwords = "" if args.no_hotwords else catalog_hotwords(build_index(settings), store)
    transcriber = build_transcriber(settings, model=args.model, language=args.language)
    transcript = transcriber.transcribe(args.audio, hotwords=hotwords)
    result: dict[str, Any] = {"text": transcript.text, "language": transcript.language,
                              "duration_s": transcript.duration_s}
    if args.ask:
        result["answer"] = answer_json(transcript.text, store)
    return result


def cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        result = run(args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(result["text"])
    print(f"({result['language']}, {result['duration_s']:.1f} s of audio)", file=sys.stderr)
    if "answer" in result:
        print(f"\n{result['answer']['answer']}")
    return 0
