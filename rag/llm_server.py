"""The language model in its own supervised process, so a native crash never takes the app down.

llama.cpp is native code: a bad build or a CPU quirk ends the process with SIGSEGV, and with the
model loaded in-process that was the Streamlit server or the CLI itself. Here the model runs in
llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``, the same
protocol as the scale-out path), started and watched by :class:`ModelServer`:

- the child is bound to 127.0.0.1 on a free port and exits when its parent does (:mod:`rag.model_process`);
- before every request :meth:`ModelServer.ensure_running` restarts a dead child (and re-warms
  the fixed prompt prefix), so the question after a crash is answered;
- a request that fails because the child died raises :class:`~rag.errors.ModelCrashedError`
  with what happened, in words, instead of a traceback;
- requests are served one at a time by the child (``interrupt_requests`` off, so one session's
  answer is never cut short by another's question).

:class:`ServerChatModel` is ``ChatOpenAI`` pointed at the child, so the QA chain does not know
or care where the model runs; its base :class:`EndpointChatModel` is what ``llm_backend='openai'``
uses for a model server on another box (a failing server is a clear message there too).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import ConfigDict

from rag.engine import describe_exit
from rag.errors import AssistantError, ModelCrashedError, ModelServerError, ModelUnavailableError
from rag.remote import transport_reason

logger = logging.getLogger(__name__)

MODEL_ALIAS = "catalog-llm"
ROLE = {"system": "system", "human": "user", "ai": "assistant"}


def _terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()


def free_port() -> int:
    """A localhost port nothing listens on now (the OS picks it), for a child server to bind."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ModelServer:
    """One llama.cpp server child process for one GGUF file, restarted when it dies.

    Args:
        model_path: the GGUF file (already hash-verified by :func:`rag.models.resolve_gguf`).
        n_ctx, n_threads, n_batch: llama.cpp context size, CPU threads and prompt batch.
        warmup: chat messages sent once after every (re)start so the fixed prompt prefix is in
            the KV cache before the first real question (see :func:`rag.chain.warm_up`).
        log_path: where the child's output goes (its last lines are quoted in errors).
    """

    def __init__(self, model_path: Path, *, n_ctx: int = 2048, n_threads: int = 2, n_batch: int = 512,
                 warmup: list[dict[str, str]] | None = None, log_path: Path | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.model_path = Path(model_path).resolve()
        self.n_ctx, self.n_threads, self.n_batch = n_ctx, n_threads, n_batch
        self.warmup = warmup
        self.log_path = log_path
        self.extra_args = extra_args
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.last_exit: str | None = None  # how the previous child ended, in words
        self._log_offset = 0  # where the current child's lines start in the log
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "rag.model_process", str(os.getpid()),
            "--model", str(self.model_path), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_batch", str(self.n_batch),
            "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads),
            "--logits_all", "False",  # the server's default (True) computes logits for every prompt token
            "--interrupt_requests", "False", "--seed", "0", "--verbose", "False",
            *self.extra_args,
        ]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 180.0) -> None:
        """Start the child and wait until it answers; raise ModelUnavailableError if it cannot."""
        with self._lock:
            self._start_locked(timeout)

    def _start_locked(self, timeout: float) -> None:
        if self.alive():
            return
        self.port = self.port or free_port()  # a restart keeps the port: clients hold the URL
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self._log_offset = log.tell() if log is not subprocess.DEVNULL else 0
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, cwd=Path(__file__).resolve().parent.parent)
        if log is not subprocess.DEVNULL:
            log.close()
        # A dropped server object (e.g. Streamlit's "Clear cache") must not leave its 1-2 GB child behind.
        weakref.finalize(self, _terminate, self.proc)
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                self.last_exit = describe_exit(self.proc.returncode)
                raise ModelUnavailableError(
                    f"The language model process could not start ({self.last_exit}){self._log_tail()}. "
                    "Run `python -m rag doctor` to check this machine."
                )
            if self._ready():
                break
            time.sleep(0.1)
        else:
            self.stop()
            raise ModelUnavailableError(f"The language model process did not answer within {timeout:.0f} s{self._log_tail()}.")
        logger.info("Model server on port %d ready in %.1f s", self.port, time.perf_counter() - t0)
        if self.warmup:
            try:
                self._post_chat(self.warmup, max_tokens=1)
            except OSError as exc:  # URLError, a reset connection: the child died or failed while warming up
                raise ModelUnavailableError(
                    f"The language model process failed while loading the prompt ({self._exit_or(exc)})"
                    f"{self._log_tail()}. Run `python -m rag doctor` to check this machine.") from exc

    def ensure_running(self) -> bool:
        """Restart the child if it has died; True when a restart happened."""
        with self._lock:
            if self.alive():
                return False
            if self.proc is not None:
                self.last_exit = describe_exit(self.proc.returncode)
                self.restarts += 1
                logger.warning("The model process ended (%s); restarting it", self.last_exit)
            self._start_locked(180.0)
            return True

    def reap(self, timeout: float = 5.0) -> None:
        """Give a dying child a moment to be reaped (a 1-2 GB process takes a while), so its signal is known."""
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)

    def _exit_or(self, exc: Exception) -> str:
        """How the child ended, after :meth:`reap`; else the error."""
        self.reap()
        if self.proc is not None and self.proc.returncode is not None:
            return describe_exit(self.proc.returncode)
        return str(exc)

    def crash_message(self) -> str:
        """What to tell the user after a request failed because the child died."""
        how = describe_exit(self.proc.returncode) if self.proc is not None and self.proc.poll() is not None else "stopped"
        return (f"The language model stopped while answering ({how}). It is being restarted: ask again in a few "
                "seconds. If this keeps happening, run `python -m rag doctor`.")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _ready(self) -> bool:
        """The child listens once its model is loaded (the server loads it before binding the port).

        A plain TCP connect: the server's HTTP routes wait for the model lock, so a busy server
        would look dead to an HTTP probe.
        """
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def _post_chat(self, messages: list[dict[str, str]], max_tokens: int) -> dict[str, Any]:
        body = json.dumps({"model": MODEL_ALIAS, "messages": messages, "max_tokens": max_tokens,
                           "temperature": 0.0, "top_k": 1, "repeat_penalty": 1.0}).encode()
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as r:
            return json.loads(r.read())

    def _log_tail(self, lines: int = 3) -> str:
        if not self.log_path or not self.log_path.is_file():
            return ""
        with self.log_path.open("rb") as fh:
            fh.seek(self._log_offset)
            text = fh.read().decode(errors="replace")
        tail = [ln for ln in text.splitlines() if ln.strip()][-lines:]
        return (": " + " | ".join(tail)) if tail else ""


class SharedServer(ModelServer):
    """A model server that another process owns (``python -m rag serve``): attached to, not supervised.

    The owner restarts its child when it dies; here a dead server only becomes a clear message.
    """

    def __init__(self, model_path: Path, port: int, owner_pid: int) -> None:
        super().__init__(model_path)
        self.port, self.owner_pid = port, owner_pid

    def alive(self) -> bool:
        return self._ready()

    def start(self, timeout: float = 180.0) -> None:
        if not self._ready():
            raise ModelUnavailableError(f"The shared model server (pid {self.owner_pid}, port {self.port}) is not answering.")

    def ensure_running(self) -> bool:
        deadline = time.time() + 60  # the owner may be restarting a crashed child right now
        while not self._ready():
            if time.time() > deadline or not _pid_alive(self.owner_pid):
                raise ModelUnavailableError(
                    f"The shared model server (`python -m rag serve`, pid {self.owner_pid}) is not answering. "
                    "Start it again, or stop it so each command loads its own model.")
            time.sleep(0.5)
        return False

    def crash_message(self) -> str:
        return ("The shared model server stopped while answering; `python -m rag serve` restarts it. Ask again in a few "
                "seconds. If this keeps happening, run `python -m rag doctor`.")

    def stop(self) -> None:  # not ours to stop
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def registry_path(data_dir: Path) -> Path:
    return data_dir / "model-server.json"


def find_shared(data_dir: Path, model_path: Path) -> SharedServer | None:
    """The running ``python -m rag serve`` for this model and data dir, if there is one."""
    try:
        info = json.loads(registry_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    if info.get("model") != str(Path(model_path).resolve()) or not _pid_alive(int(info.get("pid", 0))):
        return None
    shared = SharedServer(model_path, int(info["port"]), int(info["pid"]))
    return shared if shared.alive() else None


def serve(server: ModelServer, data_dir: Path, poll_s: float = 1.0, on_ready=None) -> None:
    """Run ``server`` until interrupted, restarting its child when it dies; advertise it in ``data_dir``."""
    server.start()
    data_dir.mkdir(parents=True, exist_ok=True)
    reg = registry_path(data_dir)
    reg.write_text(json.dumps({"pid": os.getpid(), "port": server.port, "model": str(server.model_path)}))
    if on_ready:
        on_ready()
    try:
        while True:
            time.sleep(poll_s)
            try:
                if server.ensure_running():
                    logger.warning("Model process restarted after it ended (%s)", server.last_exit)
            except ModelUnavailableError as exc:  # keep serving: try again shortly
                logger.error("%s", exc)
                time.sleep(5)
    finally:
        with contextlib.suppress(OSError):
            if json.loads(reg.read_text()).get("pid") == os.getpid():
                reg.unlink()
        server.stop()


def as_openai_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": ROLE.get(m.type, m.type), "content": str(m.content)} for m in messages]


class EndpointChatModel(ChatOpenAI):
    """``ChatOpenAI`` on an OpenAI-compatible model server: a server that fails is one clear error.

    A refused connection, a stream cut in the middle of an answer or an error status become
    :class:`~rag.errors.ModelServerError` naming the server (``llm_backend='openai'``); nothing
    is left broken, the next request opens a new connection. :class:`ServerChatModel` adds the
    supervision of a local child process.
    """

    def _guard(self) -> None:
        """Runs before every request (the supervised model restarts its dead child here)."""

    def _failed(self, exc: Exception, answering: bool) -> AssistantError:
        """The error to raise for ``exc``; ``answering``: part of the answer had already arrived."""
        where = f"The model server at {self.openai_api_base}"
        if isinstance(exc, openai.APIStatusError):
            detail = _status_detail(exc)
            return ModelServerError(f"{where} refused the request (HTTP {exc.status_code}{detail}). Check "
                                    "CATALOG_OPENAI_MODEL and CATALOG_OPENAI_API_KEY, and the server's log.")
        how = "stopped answering" if answering else "is not answering"
        return ModelServerError(f"{where} {how} ({transport_reason(exc)}). Start it again on its box (README: "
                                "\"Several boxes\"), or fix CATALOG_OPENAI_BASE_URL; then ask again.")

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self._guard()
        try:
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        except AssistantError:
            raise
        except Exception as exc:  # noqa: BLE001 - any transport error (openai's or httpx's): said in words
            raise self._failed(exc, answering=False) from exc

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        self._guard()
        answering = False
        try:
            for chunk in super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
                answering = True
                yield chunk
        except AssistantError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._failed(exc, answering) from exc


def _status_detail(exc: openai.APIStatusError) -> str:
    """': model not found' from an error body, cut short (servers may send a page of HTML)."""
    body = exc.body
    msg = (body.get("message") or body.get("detail")) if isinstance(body, dict) else None
    msg = str(msg or exc.message or "").strip()
    return f": {msg[:200]}" if msg else ""


class ServerChatModel(EndpointChatModel):
    """``ChatOpenAI`` on a supervised :class:`ModelServer`: restarts a dead child, explains a crash."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    server: Any = None  # the ModelServer (Any: pydantic need not validate it)

    def _guard(self) -> None:
        self.server.ensure_running()

    def _failed(self, exc: Exception, answering: bool) -> AssistantError:
        """A transport error: the child died (a clear message), or it timed out (also said in words)."""
        self.server.reap()
        if not self.server.alive():
            return ModelCrashedError(self.server.crash_message())
        return ModelCrashedError(f"The language model did not answer ({type(exc).__name__}: {exc}). Ask again; if this "
                                 "keeps happening, run `python -m rag doctor`.")
