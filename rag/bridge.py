"""The words of a question in another language than the catalog's, looked up in a bilingual dictionary.

"Do you have clams?" shares no word with "Almejas Cambados", and the word checks (the unknown-subject
refusal, the named row, the price rule) read words. The packaged multilingual embeddings do not bridge
single product words reliably: measured on the Spanish menu, "clams" is closer to "Mejillones" than to
"Almejas", and "sushi" or "pizza" (not on the menu) score as high as "oxtail" does against "Rabo de toro".
The answering model, asked to translate, leaves words untranslated or mistranslates them
(:mod:`rag.translate`).

A dictionary lists every translation of a word ("wall": muro, pared; "fan": seguidor, ventilador), and
the catalog chooses among them: a translation is kept only when every one of its words is in the catalog.
The kept words are added to what the retriever searches and the rules read; the model still reads the
question as asked. Words the catalog already has ("Liliana", "Atma", model codes) are not looked up.

The dictionary is Apertium's English-Spanish pair (Debian package ``apertium-eng-spa``, GPL-2, used
through its ``lt-proc`` binary; nothing of it ships with this project). Without it, questions are
searched as asked.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from rag.text import STOPWORDS, normalise, tokenize

logger = logging.getLogger(__name__)

PAIRS = {("en", "es"): "eng-spa", ("es", "en"): "spa-eng"}
CONTENT_TAGS = ("<n>", "<adj>")  # product words: nouns and adjectives ("wild", "boar"), not verbs
CACHE_SIZE = 512
TIMEOUT_S = 5.0
_UNIT = re.compile(r"\^([^/$]*)/([^$]*)\$")  # lt-proc stream: ^surface/analysis1/analysis2$


class Dictionary:
    """Apertium's bilingual dictionary through ``lt-proc`` (thread-safe, cached per word)."""

    def __init__(self, directory: Path, lt_proc: str = "lt-proc") -> None:
        self.directory = Path(directory)
        self.lt_proc = shutil.which(lt_proc)
        self._cache: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def _files(self, pair: str) -> tuple[Path, Path]:
        return self.directory / f"{pair}.automorf.bin", self.directory / f"{pair}.autobil.bin"

    def available(self, source: str, target: str) -> bool:
        """Can words be translated from ``source`` into ``target`` on this machine?"""
        pair = PAIRS.get((source, target))
        return bool(pair and self.lt_proc and all(f.is_file() for f in self._files(pair)))

    def _run(self, binary: Path, text: str, *flags: str) -> str:
        done = subprocess.run([self.lt_proc, *flags, str(binary)], input=text, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=True)
        return done.stdout

    def translations(self, words: Iterable[str], source: str, target: str) -> dict[str, tuple[str, ...]]:
        """Every dictionary translation of each word (nouns and adjectives), ``{}`` when the pair is missing.

        A multi-word unit the dictionary knows ("washing machine") is looked up whole, under each of its words.
        """
        words = [w for w in dict.fromkeys(words) if w]
        if not words or not self.available(source, target):
            return {}
        pair = PAIRS[(source, target)]
        out: dict[str, tuple[str, ...]] = {}
        with self._lock:
            todo = [w for w in words if (pair, w) not in self._cache]
        if todo:
            try:
                found = self._lookup(todo, pair)
            except (OSError, subprocess.SubprocessError) as exc:  # a broken install must not fail the question
                logger.warning("the %s dictionary failed (%s); searching the question as asked", pair, exc)
                return {}
            with self._lock:
                for w in todo:
                    self._cache[(pair, w)] = found.get(w, ())
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        with self._lock:
            for w in words:
                if self._cache.get((pair, w)):
                    out[w] = self._cache[(pair, w)]
        return out

    def _lookup(self, words: list[str], pair: str) -> dict[str, tuple[str, ...]]:
        morph, bidix = self._files(pair)
        analysed = self._run(morph, " ".join(words) + "\n", "-w")  # -w: dictionary case ("Fan" -> fan)
        units: list[tuple[str, str]] = []  # (surface, "^lemma<tags>$")
        for surface, readings in _UNIT.findall(analysed):
            for reading in readings.split("/"):
                if not reading.startswith("*") and any(t in reading for t in CONTENT_TAGS):
                    units.append((surface, f"^{reading}$"))
        if not units:
            return {}
        translated = _UNIT.findall(self._run(bidix, " ".join(u for _, u in units) + "\n", "-b"))
        found: dict[str, list[str]] = {}
        for (surface, _), (_, targets) in zip(units, translated, strict=False):
            for t in targets.split("/"):
                text = re.sub(r"<[^>]*>", "", t).replace("#", "").replace("+", " ").strip()
                if text and not text.startswith("@"):
                    for w in surface.split():
                        found.setdefault(w, [])
                        if text not in found[w]:
                            found[w].append(text)
        return {w: tuple(ts) for w, ts in found.items()}


def bridge(question: str, source: str, target: str, catalog_words: set[str], dictionary: Dictionary) -> dict[str, list[str]]:
    """The question's words the catalog does not have, each with its translations (in ``target``) the catalog does.

    ``catalog_words`` are the catalog's tokens (:func:`rag.text.tokenize`). "How much are the mussels?" over a
    Spanish menu gives ``{"mussels": ["mejillones"]}`` when a row says "Mejillones"; "fan" gives "ventilador"
    (not "seguidor") in a shop that sells fans. Words with no kept translation are left out.
    """
    words = [w for w in re.findall(r"[^\W\d_]+", question)
             if len(w) >= 3 and normalise(w) not in STOPWORDS and not set(tokenize(w)) & catalog_words]
    kept: dict[str, list[str]] = {}
    for word, options in dictionary.translations(words, source, target).items():
        for text in options:
            toks = tokenize(text)
            if toks and all(t in catalog_words for t in toks) and text not in kept.get(word, []):
                kept.setdefault(word, []).append(text)
    return kept


def in_catalog_words(question: str, found: dict[str, list[str]]) -> str:
    """The question with each bridged word replaced by its catalog words: "Do you have clams?" -> "Do you have almeja?".

    The rules and the search read every asked word in the rows' language, so "clams" is no unknown word
    beside "almeja".
    """
    for word, texts in found.items():
        question = re.sub(rf"(?<![^\W\d_]){re.escape(word)}(?![^\W\d_])", " ".join(texts), question)
    return question


def subject_words(found: dict[str, list[str]], name_words: set[str]) -> dict[str, list[str]]:
    """The part of a :func:`bridge` in the catalog's product names and categories (``name_words``): the subject.

    "clams" -> "almeja" names a dish; "barato" -> "cheap" (a description's word) is how the question asks, not what.
    """
    kept = {w: [t for t in texts if set(tokenize(t)) <= name_words] for w, texts in found.items()}
    return {w: texts for w, texts in kept.items() if texts}


def words_of(found: dict[str, list[str]]) -> tuple[str, ...]:
    """The catalog words of a :func:`bridge`, each once, in the question's order."""
    return tuple(dict.fromkeys(t for texts in found.values() for t in texts))

