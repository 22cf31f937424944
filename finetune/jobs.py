"""Training runs in the background: the page stays responsive, can be left and come back.

A :class:`Job` wraps one training call in a daemon thread. The training function receives
``progress`` (call it with :class:`Progress` events) and ``cancel`` (a ``threading.Event``
it checks between steps, raising :class:`Cancelled` when set). :class:`JobRunner` keeps
at most one live job per model name; the app keeps one runner per process
(``st.cache_resource``) so a job outlives the page run that started it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rag.errors import AssistantError, FineTuneError

logger = logging.getLogger(__name__)


class Cancelled(FineTuneError):
    """The user cancelled the run; nothing was saved."""


@dataclass(frozen=True)
class Progress:
    """One progress event from a training run."""

    stage: str  # "features", "train", "stage 1", "stage 2", "evaluate", "save", ...
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    loss: float | None = None  # training loss at this step, when known
    val_loss: float | None = None
    message: str = ""

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


ProgressFn = Callable[[Progress], None]


@dataclass
class Job:
    """A training run in a background thread; read its fields from any thread."""

    name: str
    events: list[Progress] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    state: str = "running"  # running | done | failed | cancelled
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def last(self) -> Progress | None:
        return self.events[-1] if self.events else None

    @property
    def running(self) -> bool:
        return self.state == "running"

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        # ``finished`` is set before ``state``, so a reader that sees the run over also sees when it ended
        try:
            self.result = fn(progress=self.events.append, cancel=self.cancel_event, **kwargs)
            self._end("done")
        except Cancelled:
            self._end("cancelled")
        except AssistantError as exc:
            self._end("failed", str(exc))
        except Exception as exc:  # a bug in training must end the job visibly, not hang the page
            logger.exception("training job %s failed", self.name)
            self._end("failed", f"Training stopped with an unexpected error: {exc!r}")

    def _end(self, state: str, error: str | None = None) -> None:
        self.finished, self.error = time.time(), error
        self.state = state


class JobRunner:
    """At most one running job per model name."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, name: str, fn: Callable[..., Any], /, **kwargs: Any) -> Job:
        """Run ``fn(progress=..., cancel=..., **kwargs)`` in the background as job ``name``."""
        with self._lock:
            current = self._jobs.get(name)
            if current is not None and current.running:
                raise FineTuneError(
                    f"A model called {name!r} is already training. Wait for it to finish or cancel it first."
                )
            job = Job(name=name)
            job._thread = threading.Thread(target=job._run, args=(fn, kwargs), name=f"train-{name}", daemon=True)
            self._jobs[name] = job
            job._thread.start()
            return job

    def get(self, name: str) -> Job | None:
        return self._jobs.get(name)

    def jobs(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: j.started, reverse=True)
