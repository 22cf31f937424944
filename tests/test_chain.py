"""Pure chain logic with LangChain's fakes at the LLM boundary (the real model is in test_integration)."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.retrievers import BaseRetriever

from rag.chain import Answer, ask, build_chain, source_row, stream_answer, validate_question
from rag.errors import QuestionError
from rag.money import Money
from rag.query import StoreFacts

USD = StoreFacts(Money("USD", "en"))


class ListRetriever(BaseRetriever):
    docs: list[Document]

    def _get_relevant_documents(self, query, *, run_manager):
        return list(self.docs)


class CountingLLM(FakeListChatModel):
    calls: int = 0

    def _call(self, *args, **kwargs):
        self.calls += 1
        return super()._call(*args, **kwargs)


ROWS = [
    Document(id="TS-PHN-001", page_content="iPhone 15\nsku: TS-PHN-001\nprice: 799.00",
             metadata={"id": "TS-PHN-001", "name": "iPhone 15", "price": 799.0, "source": "products.csv",
                       "line": 12, "content_hash": "abc", "kind": "row"}),
    Document(id="TS-PHN-002", page_content="iPhone 15 Pro\nsku: TS-PHN-002\nprice: 999.00",
             metadata={"id": "TS-PHN-002", "name": "iPhone 15 Pro", "price": 999.0}),
]


def test_answer_cites_the_row_it_names_and_keeps_all_retrieved():
    chain = build_chain(ListRetriever(docs=ROWS), FakeListChatModel(responses=["The iPhone 15 Pro costs $999."]), store=USD)
    ans = ask(chain, "How much is the iPhone 15 Pro?")
    assert not ans.refused
    assert ans.answer == "The iPhone 15 Pro costs $999."
    assert [d.id for d in ans.sources] == ["TS-PHN-002"]
    assert [d.id for d in ans.retrieved] == ["TS-PHN-001", "TS-PHN-002"]
    assert ans.ungrounded == []
    assert set(ans.timings) >= {"retrieval_s", "first_token_s", "total_s"}


def test_model_refusal_becomes_plain_message_in_question_language():
    chain = build_chain(ListRetriever(docs=ROWS), FakeListChatModel(responses=["NOT_IN_CATALOG"]))
    pieces = list(stream_answer(chain, "¿Venden el Samsung Galaxy S24?"))
    assert all(not isinstance(p, str) for p in pieces), "the refusal token must never be streamed to the screen"
    final = pieces[-1]
    assert isinstance(final, Answer)
    assert final.refused and final.sources == []
    assert final.answer == "Lo siento, eso no está en el catálogo."


def test_missing_field_refuses_without_calling_the_llm():
    llm = CountingLLM(responses=["It has 190 kilojoules."])
    chain = build_chain(ListRetriever(docs=ROWS), llm)
    ans = ask(chain, "How many calories does the iPhone 15 have?")
    assert ans.refused
    assert ans.answer == "The catalog does not list calories for “iPhone 15”."
    assert llm.calls == 0


def test_no_rows_refuses_without_calling_the_llm():
    llm = CountingLLM(responses=["Sure! We have it for $5."])
    ans = ask(build_chain(ListRetriever(docs=[]), llm), "Do you sell sushi?")
    assert ans.refused and ans.answer == "Sorry, that is not in the catalog." and llm.calls == 0


def test_an_answer_with_an_invented_number_is_withheld_and_the_rows_shown():
    chain = build_chain(ListRetriever(docs=ROWS), FakeListChatModel(responses=["The iPhone 15 costs $749 [1]."]))
    ans = ask(chain, "Tell me about the iPhone 15.")
    assert ans.ungrounded == ["749"] and not ans.grounded and ans.to_dict()["grounded"] is False
    assert ans.refused and ans.method == "guard:unverified" and "749" not in ans.answer
    assert ans.answer == "I could not check that answer against the catalog, so here are the rows it should come from."
    assert ans.sources and ans.sources[0].id == ROWS[0].id


def test_the_plain_baseline_shows_what_the_model_wrote_so_the_report_measures_it():
    chain = build_chain(ListRetriever(docs=ROWS), FakeListChatModel(responses=["The iPhone 15 costs $749 [1]."]), guarded=False)
    ans = ask(chain, "Tell me about the iPhone 15.")
    assert ans.ungrounded == ["749"] and not ans.refused and ans.answer == "The iPhone 15 costs $749."


def test_streaming_yields_text_then_answer():
    chain = build_chain(ListRetriever(docs=ROWS), FakeListChatModel(responses=["The iPhone 15 costs $799."]), store=USD)
    pieces = list(stream_answer(chain, "iPhone 15 price?"))
    text = "".join(p for p in pieces if isinstance(p, str))
    assert text == "The iPhone 15 costs $799."
    assert len([p for p in pieces if isinstance(p, str)]) > 1, "should arrive in several pieces"
    assert isinstance(pieces[-1], Answer)


def test_to_dict_shape():
    chain = build_chain(ListRetriever(docs=ROWS), FakeListChatModel(responses=["The iPhone 15 costs $799."]), store=USD)
    d = ask(chain, "iPhone 15 price?").to_dict()
    assert set(d) >= {"answer", "refused", "sources", "timings"}
    assert d["sources"][0]["id"] == "TS-PHN-001" and d["sources"][0]["name"] == "iPhone 15"
    assert "content_hash" not in d["sources"][0] and "kind" not in d["sources"][0]


def test_source_row_puts_id_and_name_first():
    row = source_row(ROWS[0])
    assert list(row)[:2] == ["id", "name"]
    assert row["price"] == 799.0 and row["line"] == 12


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "The question is empty"),
        ("   \n\t ", "The question is empty"),
        ("x" * 20_000, "The question is 20,000 characters long; the limit is 2,000."),
    ],
)
def test_bad_questions_are_refused_with_a_clear_message(question, message):
    with pytest.raises(QuestionError, match=message.replace("(", r"\(").replace(".", r"\.")):
        validate_question(question, 2000)


def test_a_number_from_another_row_is_withheld_even_though_a_cited_row_has_it():
    """The price of the iPhone 15 Pro stated for the iPhone 15: both rows were shown, the sentence names one."""
    chain = build_chain(ListRetriever(docs=ROWS), FakeListChatModel(responses=["The iPhone 15 costs $999."]), store=USD)
    ans = ask(chain, "How much is the iPhone 15?")
    assert ans.refused and ans.method == "guard:unverified" and ans.ungrounded == ["999"]


def test_amounts_are_written_in_the_store_currency_never_a_default_symbol():
    eur = StoreFacts(Money("EUR", "es"))
    ans = ask(build_chain(ListRetriever(docs=ROWS), FakeListChatModel(responses=["El iPhone 15 cuesta $799."]), store=eur),
              "¿Cuánto cuesta el iPhone 15?")
    assert ans.answer == "El iPhone 15 cuesta 799,00 €." and not ans.refused
    unknown = build_chain(ListRetriever(docs=ROWS), FakeListChatModel(responses=["The iPhone 15 costs $799."]))
    assert ask(unknown, "How much is the iPhone 15?").answer == "The iPhone 15 costs 799."


def test_a_plain_retriever_is_wrapped_explicitly_and_the_row_checks_still_run(caplog):
    with caplog.at_level("WARNING", logger="rag.chain"):
        chain = build_chain(ListRetriever(docs=ROWS), FakeListChatModel(responses=["It weighs 3 kg."]), store=USD)
    assert "unknown-product checks, exact answers and follow-ups are off" in caplog.text
    ans = ask(chain, "How much does the iPhone 15 weigh?")  # no row has a weight: refused before the model
    assert ans.refused and ans.method == "guard:missing_field"
