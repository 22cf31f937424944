"""``python -m finetune``: train, list and use your own classifiers from the shell.

    python -m finetune train-text DATA --text-col C --label-col C --name NAME [--base auto|minilm|e5] [--json]
    python -m finetune train-image FOLDER_OR_ZIP --name NAME [--json]
    python -m finetune predict NAME [--json] TEXT_OR_IMAGE...
    python -m finetune list [--json]
    python -m finetune validate-chat FILE.jsonl [--json]
    python -m finetune csv-to-chat FILE --question-col C --answer-col C [--system TEXT] -o OUT.jsonl
    python -m finetune catalog-to-chat --store NAME -o OUT.jsonl

Exit codes: 0 done; 1 the chat file has errors (validate-chat); 2 bad input or data problems
(each message names the row).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

# command -> module whose ``cli(command, argv) -> int`` runs it
COMMANDS = {
    "train-text": "finetune.text_cli",
    "predict": "finetune.text_cli",
    "list": "finetune.text_cli",
    "train-image": "finetune.image_cli",
    "validate-chat": "finetune.chat_cli",
    "csv-to-chat": "finetune.chat_cli",
    "catalog-to-chat": "finetune.chat_cli",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return importlib.import_module(COMMANDS[argv[0]]).cli(argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
