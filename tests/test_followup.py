"""Follow-up resolution: pure logic over a small lexical index, plus one real-model conversation."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.chain import ask
from rag.followup import Turn, contextualize
from rag.retrieval import LexicalIndex


def row(doc_id: str, name: str, **meta) -> Document:
    return Document(id=doc_id, page_content=name, metadata={"id": doc_id, "name": name, "kind": "row", **meta})


LEX = LexicalIndex([
    row("P1", "iPhone 15", category="Phones"),
    row("P2", "iPhone 15 Pro", category="Phones"),
    row("C1", "Spigen Case for iPhone 15", category="Accessories"),
    row("L1", 'MacBook Pro 14" M2', category="Laptops"),
    row("L2", 'MacBook Air 13" M2', category="Laptops"),
    row("D1", "Spaghetti Carbonara", category="Pastas", tags=""),
    Document(id="info#delivery", page_content="Delivery\nReparto a domicilio", metadata={"id": "info#delivery", "name": "Delivery", "kind": "section"}),
])


def resolve(question: str, prev_q: str, subject: str):
    return contextualize(question, [Turn(prev_q, (subject,))], LEX)


def test_elliptical_variant_swaps_the_subject_in_the_previous_question():
    c = resolve("¿y el Pro?", "¿Cuánto cuesta el iPhone 15?", "iPhone 15")
    assert c.followup
    assert c.question == "¿Cuánto cuesta el iPhone 15 Pro?"
    assert c.search.startswith("iPhone 15 Pro")


def test_elliptical_picks_the_catalog_variant_of_the_same_family():
    c = resolve("what about the Air?", "How much RAM does the MacBook Pro have?", 'MacBook Pro 14" M2')
    assert c.question == 'How much RAM does the MacBook Air 13" M2 have?'


def test_pronoun_is_replaced_by_the_subject():
    c = resolve("and what colors does it come in?", "How much does the iPhone 15 cost?", "iPhone 15")
    assert c.question == "what colors does iPhone 15 come in?"
    assert "iPhone 15" in c.search


def test_spanish_attribute_question_gets_the_dish():
    c = resolve("¿lleva huevo?", "¿Tienen Spaghetti Carbonara?", "Spaghetti Carbonara")
    assert c.question == "¿Spaghetti Carbonara lleva huevo?"


@pytest.mark.parametrize(
    "question",
    ["¿Hacen envíos a domicilio?", "How much is the MacBook Air?", "¿Tienen opciones vegetarianas?", "laptops under $1,000"],
)
def test_new_topics_are_left_alone(question):
    c = resolve(question, "How much does the iPhone 15 cost?", "iPhone 15")
    assert not c.followup and c.question == question and c.search == question


def test_no_history_no_change():
    c = contextualize("¿y el Pro?", [], LEX)
    assert (c.search, c.question, c.followup) == ("¿y el Pro?", "¿y el Pro?", False)


@pytest.mark.slow
def test_follow_up_conversation_with_the_real_model(chains):
    first = ask(chains["techstore"], "¿Cuánto cuesta el iPhone 15?")
    assert "799" in first.answer
    second = ask(chains["techstore"], "¿y el Pro?", [first.turn()])
    assert "999" in second.answer and "799" not in second.answer
    assert [d.id for d in second.sources] == ["TS-PHN-002"]
    dish = ask(chains["bella-italia"], "¿Tienen Spaghetti Carbonara?")
    egg = ask(chains["bella-italia"], "¿lleva huevo?", [dish.turn()])
    assert not egg.refused and "huevo" in egg.answer.lower()
    assert [d.id for d in egg.sources] == ["BI-011"]


def test_a_new_question_about_a_variant_swaps_the_subject():
    c = resolve("¿y cuánto cuesta el Pro?", "¿Cuánto cuesta el iPhone 15?", "iPhone 15")
    assert c.question == "¿cuánto cuesta el iPhone 15 Pro?" and c.followup


@pytest.mark.parametrize(("question", "expected"), [
    ("¿Cuánta RAM tiene?", '¿MacBook Pro 14" M2 Cuánta RAM tiene?'),  # attribute, no pronoun
    ("and is it vegan?", 'is MacBook Pro 14" M2 vegan?'),  # a pronoun wins over the filter word
])
def test_attribute_follow_ups_get_the_subject(question, expected):
    c = resolve(question, "How much is the MacBook Pro?", 'MacBook Pro 14" M2')
    assert c.followup and c.question == expected
