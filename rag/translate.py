"""A question asked in another language than the catalog's, translated before the catalog is searched.

"How much is the Atma air fryer?" shares no word with "Freidora Atma de aire FR248ABP": the product
words decide which row is meant, and every word check (the named row, the price rule, the unknown-
product refusal) reads words. The multilingual embeddings find the row by meaning, but among a dozen
Atma rows not reliably, and the checks stay blind. So the question is translated into the catalog's
language once, by the answering model, and the retriever, the rules and the guards read the translation;
the model still reads the question as asked, and the answer is in the language it was asked in.

The translation request shares the answer prompt's fixed prefix (system prompt and worked examples),
so llama.cpp keeps that prefix in its KV cache and the next answer does not pay for it again.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict

from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable

from rag.lexicon import WORDS
from rag.prompts import detect_language, warmup_messages
from rag.text import normalise

logger = logging.getLogger(__name__)

TRANSLATE = ("Translate this shopper's question into {language}. Keep brand names, model codes and numbers exactly "
             "as written. Reply with the translated question only.\n\n{question}")
CACHE_SIZE = 256
MAX_RATIO = 3.0  # a "translation" this many times longer (or shorter) than the question is not one


class Translator:
    """Translates questions into a catalog's language with the answering model (cached, thread-safe)."""

    def __init__(self, llm: Runnable) -> None:
        self.llm = llm
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def needed(self, question: str, catalog_language: str) -> bool:
        """Is the question in another language than a known catalog language?"""
        return bool(catalog_language) and catalog_language in WORDS and detect_language(question) != catalog_language

    def __call__(self, question: str, catalog_language: str) -> str:
        """The question in ``catalog_language``; the question itself when no usable translation comes back."""
        key = (question, catalog_language)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        prompt = TRANSLATE.format(language=WORDS[catalog_language].language_name, question=question)
        messages = [*warmup_messages()[:-1], HumanMessage(prompt)]  # the answer prompt's cached prefix, then the request
        try:
            raw = self.llm.invoke(messages).content
        except Exception:  # noqa: BLE001 - a failed translation must not fail the question: search as asked
            logger.warning("translating %r failed; searching the question as asked", question, exc_info=True)
            return question
        text = clean(str(raw))
        usable = text and 1 / MAX_RATIO <= len(text) / max(1, len(question)) <= MAX_RATIO \
            and detect_language(text) == catalog_language and normalise(text) != normalise(question)
        result = text if usable else question
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return result


def clean(text: str) -> str:
    """The translation's first line, without quotes or a label the model may put around it."""
    text = next((line for line in text.splitlines() if line.strip()), "").strip()
    text = re.sub(r"^(translation|traducci[oó]n)\s*:\s*", "", text, flags=re.IGNORECASE)
    return text.strip().strip("\"'“”«»").strip()
