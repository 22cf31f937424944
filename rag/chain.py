"""The retrieval QA chain: question -> rows -> (guard) -> LLM -> checked answer with cited rows.

``build_chain(retriever, llm)`` is a plain LCEL chain whose output keeps the retrieved
documents next to the answer, and which skips the LLM entirely when a deterministic check
already knows the answer is a refusal (no rows, or an asked-for field no row has).
``ask``/``stream_answer`` run it and turn the raw output into an :class:`Answer`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from rag.bridge import Dictionary, bridge, in_catalog_words, subject_words, words_of
from rag.claims import false_free, mispriced, wrong_language
from rag.direct import direct_answer
from rag.errors import QuestionError
from rag.filters import is_row, product_key
from rag.followup import Contextualized, Turn
from rag.injection import defang
from rag.lexicon import WORDS
from rag.prompts import (
    PROMPT,
    REFUSAL_TOKEN,
    cited_indices,
    detect_language,
    format_rows,
    is_echo,
    is_refusal,
    missing_concepts,
    misattributed_numbers,
    mismeasured,
    missing_field_message,
    prompt_rows,
    strip_citation_markers,
    ungrounded_numbers,
    warmup_messages,
)
from rag.query import Query, StoreFacts
from rag.translate import Translator

logger = logging.getLogger(__name__)

# Metadata keys that are plumbing, not catalog facts, when rows are shown to people.
HIDDEN_KEYS = {"content_hash", "kind", "score", "line_rank"}


@dataclass
class Answer:
    """A finished answer and the catalog rows it came from."""

    question: str
    answer: str
    refused: bool
    language: str
    sources: list[Document]
    retrieved: list[Document] = field(default_factory=list)
    ungrounded: list[str] = field(default_factory=list)  # numbers the model stated that no row contains (guarded: answer withheld)
    searched_as: str = ""  # the question in the catalog's language, when it was translated for the search (rag.translate)
    timings: dict[str, float] = field(default_factory=dict)
    # who decided: "llm" (the model wrote it), "llm:refused", "rule:<name>" (exact answer from row fields, see
    # rag.direct.RULES) or "guard:<name>" (refused or withheld by a check: no_rows, unknown_subject, missing_field,
    # echo, unverified, free_claim, language)
    method: str = "llm"

    @property
    def grounded(self) -> bool:
        return not self.ungrounded

    def turn(self) -> Turn:
        """What the next question may refer back to: this question and the names of its cited rows."""
        rows = [d for d in self.sources if is_row(d)] or self.sources
        return Turn(self.question, tuple(str(d.metadata.get("name", d.id)) for d in rows[:3]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "refused": self.refused,
            "language": self.language,
            "grounded": self.grounded,
            "ungrounded_numbers": self.ungrounded,
            "sources": [source_row(d) for d in self.sources],
            "retrieved_ids": [d.id for d in self.retrieved],
            "method": self.method,
            "timings": self.timings,
            **({"searched_as": self.searched_as} if self.searched_as else {}),
        }


def source_row(doc: Document) -> dict[str, Any]:
    """A cited row for display/JSON: id and name first, then the catalog fields."""
    meta = {k: v for k, v in doc.metadata.items() if k not in HIDDEN_KEYS}
    row = {"id": meta.pop("id", doc.id), "name": meta.pop("name", "")}
    row.update(meta)
    return row


def validate_question(question: str, max_chars: int) -> str:
    """Reject empty and oversized questions with a message staff understand."""
    q = (question or "").strip()
    if not q:
        raise QuestionError("The question is empty: type what you want to know about the catalog.",
                            key="question_empty")
    if len(q) > max_chars:
        raise QuestionError(
            f"The question is {len(q):,} characters long; the limit is {max_chars:,}. "
            "Ask about one or two products at a time.",
            key="question_too_long", params={"length": len(q), "limit": max_chars},
        )
    return q


@runtime_checkable
class QuestionReader(Protocol):
    """What the guarded chain needs from its retriever: rows *and* how the question was read.

    :class:`rag.retrieval.CatalogRetriever` is one. Any other LangChain retriever is wrapped in a
    :class:`PlainReader`, explicitly and with a warning, never by silently skipping the checks.
    """

    def retrieve(self, query: str) -> tuple[list[Document], Any]: ...

    def focus(self, docs: list[Document], meaning: Any) -> list[Document]: ...

    def contextualize(self, question: str, history: list[Turn]) -> Contextualized: ...

    def known_words(self) -> set[str]: ...

    def name_words(self) -> set[str]: ...


class PlainReader:
    """A plain retriever as a :class:`QuestionReader`: rows only, no interpretation.

    The checks that read the rows still run (asked-for field, number check, echo); the ones that
    need the question's meaning (unknown product, exact answers, follow-ups) cannot, and say so.
    """

    def __init__(self, retriever: BaseRetriever) -> None:
        logger.warning("%s does not read questions: unknown-product checks, exact answers and follow-ups are off",
                       type(retriever).__name__)
        self.retriever = retriever

    def retrieve(self, query: str) -> tuple[list[Document], None]:
        return self.retriever.invoke(query), None

    def focus(self, docs: list[Document], meaning: Any) -> list[Document]:
        return docs

    def contextualize(self, question: str, history: list[Turn]) -> Contextualized:
        return Contextualized(question, question)

    def known_words(self) -> set[str]:
        return set()

    def name_words(self) -> set[str]:
        return set()


def build_chain(retriever: BaseRetriever, llm: BaseChatModel, *, store: StoreFacts | None = None, guarded: bool = True,
                translate: bool = False, dictionary: Dictionary | None = None) -> Runnable:
    """LCEL chain: ``{"question"}`` -> ``{"question", "language", "docs", "meaning", "missing", "direct", "answer"}``.

    ``answer`` is the raw model text, :data:`REFUSAL_TOKEN` when the guard decided, or the
    exact text of a :class:`~rag.direct.DirectAnswer` built from row metadata;
    streaming the chain streams ``answer`` token by token after ``docs`` arrives.
    ``guarded=False`` is the plain textbook chain (rows -> prompt -> LLM), kept as the
    evaluation baseline: no follow-ups, exact answers, focus or checks before the LLM. ``translate``: a question in
    another language than the catalog's is searched and checked in the catalog's language (:mod:`rag.translate`);
    otherwise, with a ``dictionary``, the catalog's translations of its words are added (:mod:`rag.bridge`).
    """
    store = store or StoreFacts()

    def prompt_vars(x: dict[str, Any]) -> dict[str, Any]:
        return {
            "context": format_rows(prompt_rows(x["docs"], x["context"].question), x["context"].question),
            "question": x["context"].for_model,
            "language": WORDS[x["language"]].language_name,
            "currency": store.money.label(),
        }

    generate = RunnableLambda(prompt_vars) | PROMPT | llm | StrOutputParser()

    if not guarded:
        return RunnablePassthrough.assign(
            language=lambda x: detect_language(x["question"]),
            context=lambda x: Contextualized(x["question"], x["question"]),
            guarded=lambda x: False, store=lambda x: store,
        ).assign(docs=(lambda x: x["question"]) | retriever).assign(
            answer=RunnableLambda(lambda x: generate if x["docs"] else REFUSAL_TOKEN)
        )

    reader = retriever if isinstance(retriever, QuestionReader) else PlainReader(retriever)

    translator = Translator(llm) if translate else None

    @_reported
    def context(x: dict[str, Any]) -> Contextualized:
        history = x.get("history") or []
        ctx = reader.contextualize(x["question"], history) if history else Contextualized(x["question"], x["question"])
        catalog, asked = store.money.language, detect_language(x["question"])
        if translator is None and dictionary is not None and catalog and asked != catalog:
            found = bridge(ctx.search, asked, catalog, reader.known_words(), dictionary)
            if not found:
                return ctx
            # "How much is the pared ventilador?": the subject in the rows' words, so no asked word is unknown to the
            # rules; a word found only elsewhere in the rows ("barato" -> "cheap") is searched, the question keeps it
            subject = subject_words(found, reader.name_words())
            in_question = set(words_of(subject))
            rest = " ".join(t for t in words_of(found) if t not in in_question)
            return replace(ctx, search=f"{in_catalog_words(ctx.search, subject)} {rest}".strip(),
                           question=in_catalog_words(ctx.question, subject), asked_as=ctx.for_model, bridged=words_of(found))
        if translator is None or not translator.needed(ctx.search, catalog):
            return ctx
        search = translator(ctx.search, catalog)  # "air fryer" -> "freidora de aire": the rows' words
        return ctx if search == ctx.search else replace(ctx, search=search, question=search, asked_as=ctx.question)

    @_reported
    def found(x: dict[str, Any]) -> tuple[list[Document], Any]:
        return reader.retrieve(x["context"].search)

    def route(x: dict[str, Any]) -> Runnable | str:
        """Skip the LLM when the answer is already known: a refusal, or an exact answer from metadata."""
        meaning = x["meaning"]
        if not x["docs"] or x["missing"] or (meaning is not None and (meaning.unknown_codes or meaning.unknown_subject)):
            return REFUSAL_TOKEN
        if x["direct"] is not None:
            return x["direct"].text
        return generate  # LangChain invokes/streams a returned Runnable with the same input

    return (
        RunnablePassthrough.assign(language=lambda x: detect_language(x["question"]), context=context, guarded=lambda x: True,
                                   store=lambda x: store)
        .assign(found=found)
        # catalog text is data: instructions written in a cell are cut before any rule or the model reads it
        .assign(docs=lambda x: [defang(d) for d in reader.focus(*x["found"])], meaning=lambda x: x["found"][1])
        .assign(missing=lambda x: missing_concepts(x["context"].search, x["docs"]))
        .assign(query=lambda x: Query(x["context"].question, x["language"], tuple(x["docs"]), x["meaning"], store, x["question"],
                                               x["context"].bridged))
        .assign(direct=lambda x: direct_answer(x["query"]))
        .assign(answer=RunnableLambda(route))
    )


FAILURES = "_failures"  # key of the chain input where the steps that reach the index record what they raised


def _reported(step: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """``step``, recording an exception it raises in ``x[FAILURES]`` for :func:`stream_answer` to raise.

    langchain-core 1.6 streams ``RunnablePassthrough.assign`` through an iterator tee that hands an
    exception to one of its branches only; the others end cleanly, and a later step then fails on
    the missing key (``KeyError: 'found'``) instead of the catalog index server's clear message.
    """

    @functools.wraps(step)
    def run(x: dict[str, Any]) -> Any:
        try:
            return step(x)
        except Exception as exc:
            if isinstance(x.get(FAILURES), list):
                x[FAILURES].append(exc)
            raise

    return run


def warm_up(llm: BaseChatModel) -> None:
    """Run the fixed prompt prefix (system prompt + worked examples) through the model once.

    llama.cpp keeps the KV cache of the longest prefix shared with the previous prompt, so
    after this the first real question pays only for its own rows and question (the prefix
    alone is ~540 tokens, 8-10 s of prefill measured on 2 cores). Harmless for the other backends.
    """
    llm.invoke(warmup_messages())


def finalize(result: dict[str, Any], timings: dict[str, float] | None = None) -> Answer:
    """Turn the chain's raw output into an :class:`Answer` (refusal text, citations, number check)."""
    question, language, docs = result["question"], result["language"], list(result["docs"])
    raw = result.get("answer", "") or ""
    timings = timings or {}
    store: StoreFacts = result.get("store") or StoreFacts()
    if result.get("missing"):
        text = missing_field_message(result["missing"], docs, language)
        return Answer(question, text, True, language, [], docs, timings=timings, method="guard:missing_field")
    meaning = result.get("meaning")
    if not docs:
        return Answer(question, WORDS[language].refusal, True, language, [], docs, timings=timings, method="guard:no_rows")
    if meaning is not None and (meaning.unknown_codes or meaning.unknown_subject):
        return Answer(question, WORDS[language].refusal, True, language, [], docs, timings=timings, method="guard:unknown_subject")
    asked = result["context"].question if result.get("context") is not None else question
    # "¿Reparan pantallas rotas?" -> "Sí, reparan pantallas rotas.": a claim about the shop that no row backs;
    # "Yes, the Vitamix E310 is dishwasher safe." when no row of it says "dishwasher": its name is no evidence.
    # (A yes about a product in another language than its rows cannot be checked word for word.)
    named = [d for d in docs if meaning is not None and d.id in (meaning.exact_ids or meaning.full_name_ids)]
    names = tuple(str(d.metadata.get("name", "")) for d in named)
    checkable = not named or store.money.language == language
    echo = (result.get("guarded", True) and result.get("direct") is None and checkable
            and is_echo(raw, asked, prompt_rows(docs, asked), names))
    if is_refusal(raw) or not raw.strip() or echo:
        # the product exists (one name: one row, or the several rows of one product): say so, and show its rows
        if named and len({product_key(d) for d in named}) == 1:
            text = WORDS[language].row_lacks.format(name=named[0].metadata.get("name", named[0].id))
            return Answer(question, text, True, language, named, docs, timings=timings, method="llm:refused")
        return Answer(question, WORDS[language].refusal, True, language, [], docs, timings=timings,
                      method="guard:echo" if echo else "llm:refused")
    direct = result.get("direct")
    if direct is not None:
        cited = [d for d in docs if d.id in direct.cited]
        return Answer(question, direct.text, False, language, cited, docs, timings=timings, method=f"rule:{direct.rule}")
    shown = prompt_rows(docs, asked)  # what the model saw, numbered as it saw them
    cited = [shown[i] for i in cited_indices(raw, shown)]
    text = strip_citation_markers(raw)
    if result.get("guarded", True):
        text = store.money.fix(text)
    ungrounded = sorted(set(ungrounded_numbers(text, question, cited)) | set(misattributed_numbers(text, asked, shown))
                        | set(mismeasured(text, shown, question)))
    if not result.get("guarded", True):  # the plain baseline shows what the model wrote: the report measures it
        return Answer(question, text, False, language, cited, docs, ungrounded=ungrounded, timings=timings)
    # A price or spec no cited row has is never shown as fact, nor a price that is not the named row's
    # price field, a priced product called free, or an answer in another language than the question's
    # (what an instruction hidden in a row would make the model write): the rows are shown instead.
    ungrounded = sorted(set(ungrounded) | set(mispriced(text, asked, shown, store)))
    guard = ("unverified" if ungrounded else "free_claim" if false_free(text, asked, shown, store)
             else "language" if wrong_language(text, language, asked, shown) else None)
    if guard:
        return Answer(question, WORDS[language].unverified, True, language, shown, docs, ungrounded=ungrounded,
                      timings=timings, method=f"guard:{guard}")
    return Answer(question, text, False, language, cited, docs, timings=timings)


def stream_answer(chain: Runnable, question: str, history: list[Turn] | None = None) -> Iterator[str | Answer]:
    """Yield answer text pieces as the model writes them, then the final :class:`Answer`.

    Text that could be the start of the refusal token is held back, so staff never see
    "NOT_IN_CATALOG" flash on screen; the refusal sentence arrives in the final Answer.
    """
    start = time.perf_counter()
    acc: dict[str, Any] = {"question": question}
    raw = ""
    shown = 0
    timings: dict[str, float] = {}
    failures: list[Exception] = []
    for chunk in _raising_first(chain.stream({"question": question, "history": history or [], FAILURES: failures}),
                                failures):
        for key, value in chunk.items():
            if key == "docs":
                timings["retrieval_s"] = round(time.perf_counter() - start, 3)
            if key != "answer":
                acc[key] = value
                continue
            if value and "first_token_s" not in timings:
                timings["first_token_s"] = round(time.perf_counter() - start, 3)
            raw += value
            if _maybe_refusal(raw):
                continue
            visible = raw[shown:]
            if visible:
                shown = len(raw)
                yield visible
    acc["answer"] = raw
    timings["total_s"] = round(time.perf_counter() - start, 3)
    answer = finalize(acc, timings)
    context = acc.get("context")
    yield replace(answer, searched_as=context.search) if context is not None and context.asked_as else answer


def _raising_first(chunks: Iterator[dict[str, Any]], failures: list[Exception]) -> Iterator[dict[str, Any]]:
    """``chunks``; when the stream fails, the first error a step recorded is raised (see :func:`_reported`)."""
    try:
        yield from chunks
    except Exception:
        if failures:
            raise failures[0] from None
        raise


def _maybe_refusal(text: str) -> bool:
    """True while the text so far could still become the refusal token (hold it back)."""
    t = text.strip().upper().replace(" ", "_")
    return bool(t) and (REFUSAL_TOKEN.startswith(t) or "NO_IN_CATALOG".startswith(t) or is_refusal(t))


def ask(chain: Runnable, question: str, history: list[Turn] | None = None) -> Answer:
    """Run the chain to completion (streaming internally, to measure time to first token)."""
    final: Answer | None = None
    for piece in stream_answer(chain, question, history):
        if isinstance(piece, Answer):
            final = piece
    assert final is not None
    return final

