"""Entry point of the model child process: llama-cpp-python's server, ended when its parent ends.

``python -m rag.model_process PARENT_PID [llama_cpp.server args...]``. A watchdog thread exits
the child as soon as the parent process is gone, however it ended (``PR_SET_PDEATHSIG`` is not
enough: it fires when the *thread* that started the child ends, and Streamlit runs each page
in a short-lived thread). Kept tiny: nothing from the app is imported here.
"""

from __future__ import annotations

import os
import sys
import threading
import time


def _watch(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


def main() -> None:
    parent = int(sys.argv[1])
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="parent-watchdog").start()
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
