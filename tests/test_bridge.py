"""The bilingual dictionary bridge (rag.bridge) with Apertium's real English-Spanish data (.ci/run installs it)."""

from pathlib import Path

import pytest
from langchain_core.documents import Document

from rag.bridge import Dictionary, bridge, in_catalog_words, words_of
from rag.text import tokenize

APERTIUM = Path("/usr/share/apertium/apertium-eng-spa")
needs_dictionary = pytest.mark.skipif(not Dictionary(APERTIUM).available("en", "es"),
                                      reason="apertium-eng-spa is not installed (sudo apt install apertium-eng-spa)")


def vocab(*texts: str) -> set[str]:
    return {t for text in texts for t in tokenize(text)}


def bridged_words(question: str, source: str, target: str, catalog_words: set[str], d: Dictionary) -> list[str]:
    """The catalog words the bridge finds for the question, in its order."""
    return list(words_of(bridge(question, source, target, catalog_words, d)))


@needs_dictionary
def test_every_translation_of_a_word_is_listed_and_the_catalog_chooses():
    d = Dictionary(APERTIUM)
    found = d.translations(["clams", "wall", "fan", "oxtail"], "en", "es")
    assert found["clams"] == ("almeja",) and set(found["wall"]) == {"muro", "pared"}
    assert "ventilador" in found["fan"] and "oxtail" not in found  # a word the dictionary lacks is not guessed
    shop = vocab("Vent. Pared Liliana 25\" VW25M aspas metal", "Ventilador de pie Liliana")
    assert bridged_words("How much is the Liliana 25 inch wall fan?", "en", "es", shop, d) == ["pared", "ventilador"]
    assert d.translations(["fresas"], "es", "en") == {"fresas": ("strawberry",)}


@needs_dictionary
def test_words_the_catalog_has_are_not_looked_up_and_absent_products_bridge_to_nothing():
    d = Dictionary(APERTIUM)
    menu = vocab("Almejas Cambados", "Mejillones Cambados", "Ragout de jabali", "Coca Cola")
    assert bridged_words("Do you have clams?", "en", "es", menu, d) == ["almeja"]
    assert bridged_words("Do you have sushi?", "en", "es", menu, d) == []  # nothing to bridge to: still refused
    assert bridged_words("How much is the Coca Cola?", "en", "es", menu, d) == []  # its words are the catalog's


def test_a_missing_dictionary_bridges_nothing(tmp_path):
    d = Dictionary(tmp_path)
    assert not d.available("en", "es") and d.translations(["clams"], "en", "es") == {}
    assert bridged_words("Do you have clams?", "en", "es", vocab("Almejas"), d) == []
    assert not Dictionary(APERTIUM).available("en", "fr")  # only the English-Spanish pair


@needs_dictionary
def test_the_question_is_asked_again_in_the_catalogs_words():
    """The rules and the search read "Do you have almeja?": no English word is left unknown beside the row's word."""
    d = Dictionary(APERTIUM)
    menu = vocab("Almejas Cambados", "Mejillones Cambados")
    found = bridge("Do you have clams?", "en", "es", menu, d)
    assert found == {"clams": ["almeja"]} and in_catalog_words("Do you have clams?", found) == "Do you have almeja?"
    shop = vocab("Vent. Pared Liliana 25\" VW25M aspas metal", "Ventilador de pie Liliana")
    q = "How much is the Liliana 25 inch wall fan?"
    assert in_catalog_words(q, bridge(q, "en", "es", shop, d)) == "How much is the Liliana 25 inch pared ventilador?"
    assert in_catalog_words("Do you have a fanatic?", {"fan": ["ventilador"]}) == "Do you have a fanatic?"  # whole words only
