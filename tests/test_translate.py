"""Questions asked in another language than the catalog's are searched in the catalog's language."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.translate import Translator, clean


class Counting(FakeListChatModel):
    calls: int = 0

    def _call(self, *args, **kwargs):
        object.__setattr__(self, "calls", self.calls + 1)
        return super()._call(*args, **kwargs)


def test_only_a_question_in_another_language_than_a_known_catalog_language_is_translated():
    t = Translator(FakeListChatModel(responses=["-"]))
    assert t.needed("How much is the Atma air fryer?", "es")
    assert not t.needed("¿Cuánto cuesta la freidora Atma?", "es")
    assert not t.needed("How much is the Atma air fryer?", "")  # the catalog's language is unknown
    assert not t.needed("How much is the Atma air fryer?", "en")


def test_the_translation_is_used_once_per_question_and_cached():
    model = Counting(responses=["«¿Cuánto cuesta la freidora de aire Atma?»\nTraducción literal."])
    t = Translator(model)
    assert t("How much is the Atma air fryer?", "es") == "¿Cuánto cuesta la freidora de aire Atma?"
    assert t("How much is the Atma air fryer?", "es") == "¿Cuánto cuesta la freidora de aire Atma?"
    assert model.calls == 1


def test_an_unusable_translation_leaves_the_question_as_asked():
    question = "How much is the Atma air fryer?"
    for reply in ("How much is the Atma air fryer?", "The Atma air fryer is not in the catalog, sorry.",
                  "¿Cuánto? " * 40, ""):
        assert Translator(FakeListChatModel(responses=[reply]))(question, "es") == question, reply

    class Broken(FakeListChatModel):
        def _call(self, *args, **kwargs):
            raise RuntimeError("model process died")

    assert Translator(Broken(responses=["x"]))(question, "es") == question


def test_labels_and_quotes_around_a_translation_are_removed():
    assert clean('Traducción: "¿Tienen rabo de toro?"') == "¿Tienen rabo de toro?"
    assert clean("  \n“Do you sell oat milk?”\n(literal)") == "Do you sell oat milk?"
