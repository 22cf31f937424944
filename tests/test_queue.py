"""The answer queue with real threads (no Streamlit): FIFO turns, places, cancel, a raising holder.

The chain tests use LangChain's fake chat model at the LLM boundary (as test_chain.py does): they
check that only the model call waits in line and that :func:`rag.queue.in_turn` reports the place
of the very ticket the model call waits with. Waits have generous deadlines that only stop a
deadlock from hanging the suite; no timing is asserted.
"""

from __future__ import annotations

import threading
import time

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.chain import Answer, ask, build_chain, stream_answer
from rag.queue import AnswerQueue, Place, TurnCancelled, in_turn, queued
from tests.test_chain import ROWS, USD, ListRetriever

DEADLINE = 30.0


def until(condition, what: str) -> None:
    """Wait for ``condition()`` (another thread's progress); fail, instead of hanging, after DEADLINE."""
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


def start(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_turns_are_taken_in_arrival_order_and_places_count_down():
    q = AnswerQueue()
    holder = q.enter()
    tickets = [q.enter() for _ in range(4)]
    assert [q.position(t) for t in [holder, *tickets]] == [0, 1, 2, 3, 4]
    assert q.wait(holder, timeout=0) is True
    assert q.wait(tickets[0], timeout=0) is False  # not its turn yet
    served: list[int] = []

    def take(ticket):
        with q.turn(ticket):
            served.append(ticket.number)

    threads = [start(lambda t=t: take(t)) for t in reversed(tickets)]  # threads start in reverse order
    q.leave(holder)
    for thread in threads:
        thread.join(DEADLINE)
    assert served == [t.number for t in tickets]
    assert len(q) == 0
    assert q.position(holder) is None


def test_leaving_moves_everyone_up_and_entering_twice_keeps_the_place():
    q = AnswerQueue()
    a, b, c = q.enter(), q.enter(), q.enter()
    assert q.enter(b) is b and q.position(b) == 1
    q.leave(b)
    q.leave(b)  # idempotent
    assert (q.position(a), q.position(b), q.position(c)) == (0, None, 1)
    q.leave(a)
    assert q.position(c) == 0 and q.wait(c, timeout=0) is True


def test_a_holder_that_raises_frees_the_queue():
    q = AnswerQueue()

    with pytest.raises(RuntimeError, match="the model process died"):
        with q.turn():
            raise RuntimeError("the model process died")

    assert len(q) == 0
    with q.turn() as ticket:
        assert q.position(ticket) == 0


def test_cancel_wakes_the_waiter_passes_the_turn_on_and_bars_the_ticket():
    q = AnswerQueue()
    holder = q.enter()
    waiter = q.enter()
    behind = q.enter()
    outcome: list[str] = []

    def wait_for_turn():
        try:
            q.wait(waiter)
        except TurnCancelled as exc:
            outcome.append(str(exc))

    thread = start(wait_for_turn)
    q.cancel(waiter)
    thread.join(DEADLINE)
    assert outcome == [f"ticket {waiter.number} was cancelled"]
    assert q.position(behind) == 1
    with pytest.raises(TurnCancelled, match=f"ticket {waiter.number} was cancelled"):
        q.enter(waiter)

    q.cancel(holder)  # a holder whose session ended: the next ticket's turn starts
    assert q.position(behind) == 0 and q.wait(behind, timeout=0) is True


def test_waiting_on_a_ticket_that_is_not_in_line_is_an_error_not_a_hang():
    q = AnswerQueue()
    with pytest.raises(ValueError, match=r"^ticket 1 is not in the queue: enter\(\) it first$"):
        q.wait(q.ticket())


def test_in_turn_reports_the_place_of_the_ticket_the_model_waits_with():
    q = AnswerQueue()
    model = queued(FakeListChatModel(responses=["The iPhone 15 Pro costs $999 [2]."]), q)
    chain = build_chain(ListRetriever(docs=ROWS), model, store=USD)
    holder = q.enter()  # another session's answer is being generated
    items: list = []
    done = threading.Event()

    def run():
        for item in in_turn(q, lambda: stream_answer(chain, "How much is the iPhone 15 Pro?"), poll_s=0.01):
            items.append(item)
        done.set()

    thread = start(run)
    until(lambda: Place(1) in items, "the waiting answer to report 1 question ahead")
    assert not any(isinstance(i, str) for i in items), "no words before its turn"
    assert len(q) == 2
    q.leave(holder)
    thread.join(DEADLINE)
    assert done.is_set()
    assert isinstance(items[-1], Answer) and items[-1].answer == "The iPhone 15 Pro costs $999."
    assert "".join(i for i in items if isinstance(i, str)).startswith("The iPhone 15 Pro costs $999")
    assert len(q) == 0


def test_a_guard_refusal_does_not_wait_behind_other_answers():
    q = AnswerQueue()
    chain = build_chain(ListRetriever(docs=ROWS), queued(FakeListChatModel(responses=["190 kilojoules."]), q))
    holder = q.enter()  # the model is busy with someone else

    items = list(in_turn(q, lambda: stream_answer(chain, "How many calories does the iPhone 15 have?"), poll_s=0.01))

    assert items[-1].answer == "The catalog does not list calories for “iPhone 15”."
    assert all(p.ahead is None for p in items if isinstance(p, Place)), "never entered the line"
    assert q.position(holder) == 0 and len(q) == 1


def test_closing_in_turn_early_cancels_its_place():
    q = AnswerQueue()
    model = queued(FakeListChatModel(responses=["The iPhone 15 costs $799 [1]."]), q)
    chain = build_chain(ListRetriever(docs=ROWS), model)
    holder = q.enter()
    items = in_turn(q, lambda: stream_answer(chain, "How much is the iPhone 15?"), poll_s=0.01)
    for item in items:
        if item == Place(1):
            break
    assert len(q) == 2
    items.close()  # what the page does when its session reruns or goes away
    assert len(q) == 1 and q.position(holder) == 0
    q.leave(holder)
    until(lambda: not any(t.name.startswith("answer-") for t in threading.enumerate()), "the worker to stop")


def test_an_error_in_the_answer_reaches_the_caller_and_frees_the_turn():
    class Broken(FakeListChatModel):
        def _call(self, *args, **kwargs):
            raise ConnectionError("model server gone")

        def _stream(self, *args, **kwargs):
            raise ConnectionError("model server gone")

    q = AnswerQueue()
    chain = build_chain(ListRetriever(docs=ROWS), queued(Broken(responses=["x"]), q), store=USD)
    with pytest.raises(ConnectionError, match="^model server gone$"):
        list(in_turn(q, lambda: stream_answer(chain, "How much is the iPhone 15 Pro?"), poll_s=0.01))
    assert len(q) == 0


def test_queued_model_outside_in_turn_takes_its_own_ticket():
    q = AnswerQueue()
    model = queued(FakeListChatModel(responses=["The iPhone 15 costs $799 [1]."]), q)
    holder = q.enter()
    result: list[Answer] = []
    chain = build_chain(ListRetriever(docs=ROWS), model, store=USD)
    thread = start(lambda: result.append(ask(chain, "How much is the iPhone 15?")))
    until(lambda: len(q) == 2, "the CLI-style call to join the line")
    assert not result
    q.leave(holder)
    thread.join(DEADLINE)
    assert result[0].answer == "The iPhone 15 costs $799."
    assert len(q) == 0
