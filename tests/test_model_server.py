"""The model in its own process: a crash is a clear message, the next question is answered.

Real llama.cpp server child, real model, real chain; the crash is a real SIGSEGV sent to the
child (what a bad build does to it), at the moment the answer is streaming.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rag.chain import ask, stream_answer
from rag.errors import ModelCrashedError

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What screen does the iPad Pro have?"  # answered by the model, not from row fields


def test_the_default_llm_runs_in_a_supervised_child_process(llm):
    assert llm.server.alive() and llm.server.proc.pid != os.getpid()
    assert llm.server.base_url.startswith("http://127.0.0.1:")


def test_a_crash_while_answering_is_a_clear_error_and_the_next_question_is_answered(chains, llm):
    server = llm.server
    restarts = server.restarts
    pieces = stream_answer(chains["techstore"], QUESTION)
    with pytest.raises(ModelCrashedError) as err:
        for piece in pieces:
            if isinstance(piece, str):  # the model is writing: crash it now
                os.kill(server.proc.pid, signal.SIGSEGV)
    assert str(err.value).startswith("The language model stopped while answering (killed by SIGSEGV (signal 11)).")
    assert "python -m rag doctor" in str(err.value)

    answer = ask(chains["techstore"], QUESTION)  # restarts the child, re-warms the prefix, answers
    assert answer.method == "llm" and not answer.refused
    assert "OLED" in answer.answer
    assert server.restarts == restarts + 1 and server.last_exit == "killed by SIGSEGV (signal 11)"


def test_a_child_killed_between_questions_is_restarted_silently(chains, llm):
    os.kill(llm.server.proc.pid, signal.SIGKILL)
    llm.server.proc.wait()
    answer = ask(chains["techstore"], QUESTION)
    assert answer.method == "llm" and not answer.refused
    assert llm.server.last_exit == "killed by SIGKILL (signal 9)"


def test_the_child_does_not_outlive_its_parent(session_settings):
    """A parent that dies hard (no cleanup at all) must not leave a 1-2 GB model process behind."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from rag.llm_server import ModelServer
        from rag.models import resolve_gguf
        from rag.settings import load_settings
        s = load_settings(data_dir={str(session_settings.data_dir)!r}, model_dir={str(session_settings.model_cache_dir)!r},
                          llm_preset="qwen-0.5b")
        server = ModelServer(resolve_gguf(s), n_ctx=512)
        server.start()
        print(server.proc.pid, flush=True)
        os._exit(0)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    child = int(out.stdout.split()[-1])
    deadline = time.time() + 10
    while time.time() < deadline and _running(child):
        time.sleep(0.2)
    assert not _running(child)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_the_answer_length_cap_reaches_the_model_process(session_settings):
    """ChatOpenAI sends `max_completion_tokens`, which llama.cpp's server ignores: the cap must still hold."""
    from langchain_core.messages import HumanMessage

    from rag.models import build_llm

    capped = build_llm(session_settings.model_copy(update={"max_tokens": 16}), streaming=False)
    try:
        reply = capped.invoke([HumanMessage("Count from 1 to 200, separated by commas.")])
        assert reply.response_metadata["token_usage"]["completion_tokens"] == 16
    finally:
        capped.server.stop()


def test_both_model_routes_load_the_same_model(session_settings, llm):
    """The in-process wrapper once forced RoPE base 10000 on a 1,000,000-base model: same prompt, same answer."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from rag.models import build_llm

    inproc = build_llm(session_settings.model_copy(update={"llm_process": "inprocess"}))
    msgs = [SystemMessage("Answer from the rows only. Rows: [1] ASUS ROG Zephyrus G14 | CPU: AMD Ryzen 9 8945HS | "
                          "GPU: NVIDIA RTX 4070 | RAM: 32GB"), HumanMessage("What GPU does the ASUS ROG Zephyrus G14 have?")]
    assert inproc.invoke(msgs).content == llm.invoke(msgs).content
