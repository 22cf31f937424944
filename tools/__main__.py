"""``python -m tools``: the side tools from the shell.

    python -m tools sentiment [--json] TEXT...          (or --file reviews.csv --column text [--by dish])
    python -m tools image [--store NAME] [--json] PHOTO
    python -m tools transcribe [--store NAME] [--language es|en] [--json] [--ask] AUDIO

Exit codes: 0 done; 2 bad input (one line naming the file and the problem).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

# command -> module whose ``cli(argv) -> int`` runs it
COMMANDS = {"sentiment": "tools.sentiment_cli", "image": "tools.vision_cli", "transcribe": "tools.speech_cli"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return importlib.import_module(COMMANDS[argv[0]]).cli(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
