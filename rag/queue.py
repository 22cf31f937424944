"""A fair line for the one language model a process shares: first come, first served, with places.

The app serves many staff sessions from one process and one model, which answers one question at a
time (llama.cpp cannot run two at once). A bare lock made waiting sessions spin with no news and let
any of them jump the line; :class:`AnswerQueue` hands out tickets in arrival order, tells each
waiting ticket how many questions are ahead of it, and frees the turn whatever happens to its holder
(an exception, a cancel when the session ends).

Only the model call waits in line: :func:`queued` wraps the chat model so the chain takes a turn just
around generation, and answers the chain knows without the model (a rule's exact answer, a guard's
refusal) never queue behind other sessions' answers. :func:`in_turn` runs one answer in a worker
thread so the page stays free to show the ticket's place while it waits; the worker's ticket
reaches :func:`queued` through a context variable (LangChain copies the context into the threads it
runs steps in).
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

T = TypeVar("T")


class TurnCancelled(Exception):
    """The ticket was cancelled (its session ended or stopped waiting); never shown to a user."""


@dataclass(eq=False)
class Ticket:
    """One question's place in an :class:`AnswerQueue` (compared by identity)."""

    number: int
    cancelled: bool = False


class AnswerQueue:
    """First-come-first-served turns at one shared resource (thread-safe, no Streamlit).

    A ticket enters the line, waits until it is at the front (its turn), and leaves when done.
    ``position`` is how many tickets are ahead of it (0 = its turn). Leaving or cancelling always
    frees the line, so a holder that raises or a session that goes away cannot block the others.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: list[Ticket] = []
        self._numbers = itertools.count(1)

    def ticket(self) -> Ticket:
        """A new ticket, not yet in line (:meth:`enter` puts it there)."""
        with self._cond:
            return Ticket(next(self._numbers))

    def enter(self, ticket: Ticket | None = None) -> Ticket:
        """Put ``ticket`` (or a new one) at the back of the line; a ticket already in line keeps its place."""
        with self._cond:
            ticket = ticket or Ticket(next(self._numbers))
            if ticket.cancelled:
                raise TurnCancelled(f"ticket {ticket.number} was cancelled")
            if ticket not in self._line:
                self._line.append(ticket)
            return ticket

    def position(self, ticket: Ticket) -> int | None:
        """Tickets ahead of ``ticket`` (0 = it holds the turn); None when it is not in line."""
        with self._cond:
            return self._line.index(ticket) if ticket in self._line else None

    def wait(self, ticket: Ticket, timeout: float | None = None) -> bool:
        """Block until it is ``ticket``'s turn (True) or ``timeout`` seconds pass (False).

        Raises TurnCancelled if the ticket is cancelled before or while waiting, and ValueError
        if it is not in line (waiting for it would never end).
        """
        with self._cond:
            if not ticket.cancelled and ticket not in self._line:
                raise ValueError(f"ticket {ticket.number} is not in the queue: enter() it first")
            ready = self._cond.wait_for(lambda: ticket.cancelled or self._line[0] is ticket, timeout)
            if ticket.cancelled:
                raise TurnCancelled(f"ticket {ticket.number} was cancelled")
            return bool(ready)

    def leave(self, ticket: Ticket) -> None:
        """Take ``ticket`` out of the line (done, or gave up); the next one's turn starts. Idempotent."""
        with self._cond:
            if ticket in self._line:
                self._line.remove(ticket)
                self._cond.notify_all()

    def cancel(self, ticket: Ticket) -> None:
        """Leave for good: a waiter on ``ticket`` gets TurnCancelled and it can never enter again."""
        with self._cond:
            ticket.cancelled = True
            if ticket in self._line:
                self._line.remove(ticket)
            self._cond.notify_all()

    @contextmanager
    def turn(self, ticket: Ticket | None = None) -> Iterator[Ticket]:
        """Enter, wait for the turn, hold it for the ``with`` body, and leave however the body ends."""
        ticket = self.enter(ticket)
        try:
            self.wait(ticket)
            yield ticket
        finally:
            self.leave(ticket)

    def __len__(self) -> int:
        with self._cond:
            return len(self._line)


# The ticket of the answer being produced in this context (set by in_turn, read by queued).
_ASKER: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("catalog_asker", default=None)


def queued(model: Runnable, queue: AnswerQueue) -> Runnable:
    """``model`` that takes a turn in ``queue`` for each call and streams inside it.

    The turn is the ticket of the answer being run by :func:`in_turn`, so the page can show its
    place; called elsewhere (CLI, tests) it takes a ticket of its own.
    """

    def generate(prompt: Any, config: RunnableConfig) -> Iterator[Any]:
        with queue.turn(_ASKER.get()):
            yield from model.stream(prompt, config)

    return RunnableLambda(generate, name="queued_model")


@dataclass(frozen=True)
class Place:
    """Yielded by :func:`in_turn` while it waits: ``ahead`` questions before this one (None = not in line)."""

    ahead: int | None


_DONE = object()


def in_turn(queue: AnswerQueue, produce: Callable[[], Iterator[T]], poll_s: float = 0.5) -> Iterator[T | Place]:
    """Yield what ``produce()`` yields, run in a worker thread, plus a :class:`Place` every ``poll_s`` without news.

    The caller's thread never blocks longer than ``poll_s``, so a page can update "N questions ahead"
    while the model serves others. An exception in the worker is raised here. Closing this generator
    early (the session ended or reran) cancels the ticket: its place or turn goes to the next one,
    and the worker stops at its next piece.
    """
    ticket = queue.ticket()
    out: SimpleQueue = SimpleQueue()

    def work() -> None:
        _ASKER.set(ticket)
        try:
            for item in produce():
                if ticket.cancelled:
                    return
                out.put((item, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
            out.put((_DONE, exc))
        else:
            out.put((_DONE, None))

    worker = threading.Thread(target=contextvars.copy_context().run, args=(work,), daemon=True,
                              name=f"answer-{ticket.number}")
    worker.start()
    try:
        while True:
            try:
                item, exc = out.get(timeout=poll_s)
            except Empty:
                yield Place(queue.position(ticket))
                continue
            if item is _DONE:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        queue.cancel(ticket)
