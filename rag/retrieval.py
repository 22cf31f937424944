"""Hybrid retrieval over a store: vector search + BM25, fused by reciprocal rank.

Vectors find paraphrases and other languages; BM25 finds the exact words staff type
(model numbers, "carbonara", "M2"); an id/SKU or a full product name typed in the question
comes first. Structured constraints (see :mod:`rag.filters`) are applied on metadata.
The retriever looks the store's live collection up on every call, so it follows a
re-ingest without a restart and rebuilds its lexical index only when the version changes.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr
from rank_bm25 import BM25Okapi

from rag.filters import (EXISTS, FILTER_TOKENS, RECOMMEND, QueryFilter, has_tag, in_sections, is_row, matches, of_kind,
                         parse_filters, product_key, section_coverage, section_values, without_tags)
from rag.prompts import CONCEPTS, doc_text, has_evidence, question_names, unknown_codes, unknown_names
from rag.store import CatalogIndex, as_documents, get_all
from rag.text import PREFIX_LEN, STOPWORDS, head_and_lines, name_aliases, normalise, phrase, phrase_key, tokenize

logger = logging.getLogger(__name__)

RRF_K = 60
EXACT_ID_BOOST = 1.0  # an id/SKU typed in the question always wins
FULL_NAME_BOOST = 0.5  # "iPhone 15" named in full beats "Case for iPhone 15"
# "What smartwatches do you sell?" / "¿Qué postres tienen?": asks which rows of a kind exist.
KIND_LIST = re.compile(r"^\W*(what|which|que|cuales?)\b.*\b(do you (sell|have|carry|offer)|tienen|teneis|venden|vendeis|hay|ofrecen)\b")
KIND_WORDS = re.compile(r"\b(what|which|que|cuales?|do you|sell|have|carry|offer|stock|any|some|algun[oa]?s?|tienen|teneis|"
                        r"venden|vendeis|ofrecen|hay|you|kinds? of|types? of|tipos? de)\b")
MAX_SECTION_LINES_EMBEDDED = 60  # a long PDF page is ranked by its first lines only
NOT_A_NAME_END = {"sin", "with", "for", "and", "con", "de", "di", "al", "alla", "alle", "e"}  # "Pasta sin …" names nothing
GENERIC = {"pro", "plus", "max", "mini", "the", "de", "la", "con", "al", "and", "with", "for", "para"}


@dataclass(frozen=True)
class Interpretation:
    """How the retriever read a question: its constraints and the rows it names."""

    filter: QueryFilter
    named_ids: tuple[str, ...] = ()  # rows named by a distinctive word or in full, best first
    full_name_ids: tuple[str, ...] = ()  # rows whose whole name is in the question
    exact_ids: tuple[str, ...] = ()  # ids/SKUs typed in the question
    list_question: bool = False  # asks for several rows (filters applied as hard constraints)
    matching: int = 0  # rows satisfying the hard constraints of a list question
    unknown_codes: tuple[str, ...] = ()  # model codes ("s24") found in no row of the store
    unknown_subject: bool = False  # "¿Tienen sushi?": no word of what is asked for appears in any row
    kind_ids: tuple[str, ...] = ()  # "¿Tienen monitores 4K?": every row whose name/category has all the asked words


MAX_WORD_ENDING = 2  # letters a one-word name may differ by at its end ("croquetas"/"croqueta", "iphon"/"iphone")


class LexicalIndex:
    """BM25 plus name/id lookups over one collection version (built once per version)."""

    def __init__(self, docs: list[Document], category_keys: tuple[str, ...] = ()) -> None:
        self.docs = docs
        self.category_keys = tuple(category_keys) or ("category",)
        corpus = [tokenize(f"{d.page_content} {d.metadata.get('id', '')}") for d in docs]
        self.bm25 = BM25Okapi(corpus) if corpus else None
        self.position = {d.id: k for k, d in enumerate(docs)}
        self.by_id = {normalise(str(d.metadata.get("id", d.id))): k for k, d in enumerate(docs)}
        self.categories = {v for d in docs for v in section_values(d, self.category_keys)}
        self.category_tokens = {t for c in self.categories for t in tokenize(c)}
        self.name_tokens = [set(tokenize(str(d.metadata.get("name", "")))) - GENERIC - self.category_tokens for d in docs]
        # how many *products* have a name word: rows with the same name (a dish per portion, the Q&A snippets
        # of one product) are one product, so "Cup4Cup" stays distinctive however many rows carry it
        names_with: dict[str, set[str]] = {}
        for d, toks in zip(docs, self.name_tokens, strict=True):
            for t in toks:
                names_with.setdefault(t, set()).add(product_key(d))
        self.name_df: dict[str, int] = {t: len(names) for t, names in names_with.items()}
        self.name_vocab = {  # product-name words ("pro", "air"), for "¿y el Pro?" follow-ups
            t for d in docs if is_row(d) for t in tokenize(str(d.metadata.get("name", "")))
        }
        self.phrases = [phrase(str(d.metadata.get("name", ""))) for d in docs]
        alias_rows: dict[str, set[int]] = {}
        starts: dict[str, set[int]] = {}  # the first 2+ words of every name (and alias) -> rows
        for k, d in enumerate(docs):
            for a in name_aliases(str(d.metadata.get("name", "")), str(d.metadata.get("brand", ""))):
                alias_rows.setdefault(a, set()).add(k)
                words = a.split()
                for j in range(2, len(words) + 1):
                    if words[j - 1] not in STOPWORDS and words[j - 1] not in NOT_A_NAME_END:
                        starts.setdefault(" ".join(words[:j]), set()).add(k)
        # "the MacBook Pro" names the one product whose name starts so ("MacBook Pro 14\" M2"); "MacBook Air" names none
        for start, rows in starts.items():
            if start not in alias_rows and len({self.phrases[k] for k in rows}) == 1:
                alias_rows[start] = rows
        # A shortened name shared by two products names neither ("ipad pro 13" for the M2 and M4 models);
        # rows with the very same name are one product's rows (e.g. several Q&A snippets) and are named together.
        # Aliases are matched by their words' prefixes (see :func:`phrase_key`): "iphon 15" names the iPhone 15.
        key_rows: dict[str, set[int]] = {}
        for a, rows in alias_rows.items():
            key_rows.setdefault(phrase_key(a), set()).update(rows)
        self.aliases = {a: tuple(sorted(rows)) for a, rows in key_rows.items() if len({self.phrases[k] for k in rows}) == 1}
        self.one_word: dict[str, set[str]] = {}  # a one-word alias's key -> its words in full ("cabra" -> {"cabrales"})
        for a in alias_rows:
            if " " not in a and phrase_key(a) in self.aliases:
                self.one_word.setdefault(phrase_key(a), set()).add(a)
        self.kind_words = [
            re.findall(r"[a-z0-9]+", normalise(" ".join([str(d.metadata.get("name", "")), *section_values(d, self.category_keys)])))
            if is_row(d) else [] for d in docs
        ]
        self.texts = [doc_text(d) for d in docs]
        self.words = {w for t in self.texts for w in re.findall(r"[a-z0-9]+", t)}
        self.word_list = sorted(w for w in self.words if len(w) >= 4 and w.isalpha())
        self.vocab = {t for toks in corpus for t in toks}

    def search(self, query: str, n: int) -> list[int]:
        """Indices of the ``n`` best BM25 matches with a positive score, best first."""
        if self.bm25 is None:
            return []
        scores = np.asarray(self.bm25.get_scores(tokenize(query)))
        order = np.argsort(-scores, kind="stable")[:n]
        return [int(i) for i in order if scores[i] > 0]

    def exact_ids(self, query: str) -> list[int]:
        codes = re.findall(r"[a-z0-9]+(?:[-_][a-z0-9]+)+|[a-z]*\d[a-z0-9]*", normalise(query))
        return [self.by_id[c] for c in codes if c in self.by_id]

    def full_names(self, query: str) -> list[int]:
        """Rows named in the question in full or by an alias (see :func:`name_aliases`).

        A name inside a longer matched name doesn't count: "iPhone 15 Pro" does not name "iPhone 15".
        """
        q = f" {phrase_key(query)} "
        words = phrase(query).split()
        # a name of one word is named by that word, give or take a plural or a typo at its end: "cabra" is not "Cabrales"
        hits = sorted((a for a in self.aliases if f" {a} " in q and (a not in self.one_word or any(
            w[:PREFIX_LEN] == a and abs(len(w) - len(full)) <= MAX_WORD_ENDING for w in words for full in self.one_word[a]))),
            key=len, reverse=True)
        kept: list[str] = []
        rows: list[int] = []
        for a in hits:
            named = self.aliases[a]
            if any(a in longer and self.aliases[longer] != named for longer in kept):
                continue
            kept.append(a)
            rows.extend(k for k in named if k not in rows)
        return rows

    def near_words(self, text: str) -> list[str]:
        """Catalog words a typo or spelling variant in ``text`` is close to ("lasagna" ~ "lasana" for Lasaña)."""
        return [w for q in re.findall(r"[a-z]{4,}", normalise(text)) if q not in STOPWORDS
                for w in difflib.get_close_matches(q, self.word_list, n=1, cutoff=0.85)]

    def kind(self, query: str) -> list[int]:
        """Rows of the kind a "do you have / what X do you sell" question asks for.

        Every asked word must match a word of the row's name or category, by prefix
        ("monitores" ~ "monitor") or as part of a compound ("smartwatches" ~ "watch").
        """
        q = normalise(query)
        if not (EXISTS.search(q) or KIND_LIST.search(q)):
            return []
        asked = [w for w in re.findall(r"[a-z0-9]+", KIND_WORDS.sub(" ", EXISTS.sub(" ", q))) if w not in STOPWORDS]
        if not asked:
            return []

        def has(words: list[str], w: str) -> bool:
            return any(v[:PREFIX_LEN] == w[:PREFIX_LEN] or (len(v.rstrip("0123456789")) >= 4 and v.rstrip("0123456789") in w)
                       for v in words)

        spellings = {w: [w, *self.near_words(w)] for w in asked}  # "lasagna" is also read as "lasana" (Lasaña)
        return [k for k, words in enumerate(self.kind_words)
                if words and all(any(has(words, v) for v in spellings[w]) for w in asked)]

    def named(self, query: str) -> list[int]:
        """Rows named by a distinctive name word ("carbonara", "zenbook") or in full, best match first."""
        q = set(tokenize(query)) - FILTER_TOKENS
        scored = {i: 100 for i in self.full_names(query)}
        for i, toks in enumerate(self.name_tokens):
            if any(self.name_df[t] <= 3 and not t.isdigit() for t in toks & q):
                scored.setdefault(i, len(toks & q))
        return sorted(scored, key=lambda i: -scored[i])


class CatalogRetriever(BaseRetriever):
    """LangChain retriever for one store; returns up to ``k`` rows, best first.

    Each returned document carries ``metadata['score']`` (fused score) for display/eval.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: CatalogIndex
    store: str
    embeddings: Any
    embedding_id: str
    k: int = 4
    list_k: int = 8  # rows given to the LLM for "which/what options" questions
    filtered_list_k: int = 30  # rows for filtered lists, which are answered from metadata (no prompt cost)
    mode: str = "hybrid"  # or "vector" (the plain baseline: no BM25, no filters)
    candidates: int = 20
    filtered_candidates: int = 200

    _lexical: LexicalIndex | None = PrivateAttr(default=None)
    _version: str | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _line_vectors: dict[str, Any] = PrivateAttr(default_factory=dict)  # section id -> its line vectors (this version)

    def lexical(self) -> tuple[Any, Any, LexicalIndex]:
        """(store info, live collection, lexical index of that collection)."""
        info, col = self.index.live_collection(self.store, self.embedding_id)
        with self._lock:
            if self._version != info.collection:
                docs = as_documents(get_all(col, ["documents", "metadatas"]))
                self._lexical = LexicalIndex(docs, tuple(info.fields.get("category", ())))
                self._version = info.collection
                self._line_vectors.clear()
            return info, col, self._lexical

    def interpret(self, query: str) -> Interpretation:
        """Constraints and named rows of a question (the chain uses this for exact, deterministic answers)."""
        if self.mode != "hybrid":
            return Interpretation(filter=QueryFilter())
        _, _, lex = self.lexical()
        return self._interpret(query, lex)

    def contextualize(self, question: str, history):
        """Resolve a follow-up question against the chat history (see :mod:`rag.followup`)."""
        from rag.followup import Contextualized, contextualize

        if self.mode != "hybrid" or not history:
            return Contextualized(question, question)
        _, _, lex = self.lexical()
        return contextualize(question, history, lex)

    def known_words(self) -> set[str]:
        """The store's search tokens (:func:`rag.text.tokenize`): what a bridged word must be (:mod:`rag.bridge`)."""
        if self.mode != "hybrid":
            return set()
        return self.lexical()[2].vocab

    def name_words(self) -> set[str]:
        """The search tokens of the store's product names and category values: the words a question's subject is in."""
        if self.mode != "hybrid":
            return set()
        lex = self.lexical()[2]
        return lex.name_vocab | lex.category_tokens

    @staticmethod
    def focus(docs: list[Document], meaning: Interpretation) -> list[Document]:
        """The rows the LLM should see: only the named product(s) when the question names them.

        A small model given "iPhone 15" and "iPhone 15 Pro" will mix up their prices; when
        the question names one product we answer from that row (plus policy/info sections).
        """
        if meaning.list_question:
            return docs
        wanted = set(meaning.exact_ids or meaning.full_name_ids or meaning.named_ids[:3])
        if not wanted:
            return docs
        # rows that share a wanted row's name are the same product's rows: they stay, in retrieval order
        names = {product_key(d) for d in docs if d.id in wanted}
        focused = [d for d in docs if d.id in wanted or not is_row(d) or product_key(d) in names]
        return focused if any(d.id in wanted for d in focused) else docs

    @staticmethod
    def _filter_words(query: str, lex: LexicalIndex) -> str:
        """The question without the dietary words that are the named product's own name.

        "Does Cup4Cup multipurpose gluten free flour contain almond flour?" names the Cup4Cup flour by
        "Cup4Cup"; its "gluten free" is that product's name, not a filter, so the question is a yes/no
        about one product and not a list of gluten-free products.
        """
        tags = parse_filters(query).tags
        if not tags:
            return query
        rest = without_tags(query, tags)
        best = lex.named(rest)[:1]
        unique = bool(best) and any(lex.name_df.get(t) == 1 for t in set(tokenize(rest)) & lex.name_tokens[best[0]])
        name = str(lex.docs[best[0]].metadata.get("name", "")) if unique else ""  # named by a word only it has
        own = [t for t in tags if name and has_tag(name, t)]
        return without_tags(query, own) if own else query

    @staticmethod
    def _interpret(query: str, lex: LexicalIndex) -> Interpretation:
        filt = parse_filters(CatalogRetriever._filter_words(query, lex), lex.categories)
        full = tuple(lex.docs[i].id for i in lex.full_names(query))
        # "el hervidor eléctrico Liliana" is no Kanji "Hervidora", however distinctive that word: a row named by a
        # word must carry the shop's names the question writes (brands, lines: the capitalised words it has)
        brands = {t for t in question_names(query)[0] if t in lex.vocab}
        named = tuple(lex.docs[i].id for i in lex.named(query) if not brands or lex.docs[i].id in full
                      or brands <= set(tokenize(f"{lex.docs[i].metadata.get('name', '')} {lex.docs[i].page_content}")))
        exact = tuple(lex.docs[i].id for i in lex.exact_ids(query))
        # a recommendation weighs several rows even when a word of the question is in some product name ("power")
        # (a policy section named by a word of its heading, "alergia", does not make a list question about one thing)
        named_rows = [i for i in named if is_row(lex.docs[lex.position[i]])]
        list_question = filt.wants_list and not exact and (not named_rows or (bool(RECOMMEND.search(normalise(query))) and not full))
        matching = 0
        if list_question and filt.hard:
            rows = [d for d in lex.docs if is_row(d) and matches(d, filt)]
            scoped = [d for d in rows if in_sections(d, filt.categories, lex.category_keys)]
            matching = len(scoped or rows)
        asked = [t for t in tokenize(EXISTS.sub(" ", normalise(query))) if len(t) >= 3]
        unknown_subject = (bool(EXISTS.search(normalise(query))) and bool(asked) and not any(t in lex.vocab for t in asked)
                           and not lex.near_words(EXISTS.sub(" ", normalise(query))))
        kind = () if (filt.hard or full or exact) else tuple(lex.docs[i].id for i in lex.kind(query))
        # "How much is the Sony VAIO?" when no row says Sony: a named product the shop does not sell
        unknown = tuple(unknown_codes(query, lex.words)) + tuple(
            n for n in unknown_names(query, lex.words, lex.near_words) if not (full or exact))
        return Interpretation(filt, named, full, exact, list_question, matching, unknown, unknown_subject, kind)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return self.retrieve(query)[0]

    def retrieve(self, query: str) -> tuple[list[Document], Interpretation]:
        """The rows for a question and how it was read, in one pass (the chain needs both)."""
        if self.mode != "hybrid":
            info, col = self.index.live_collection(self.store, self.embedding_id)
            pool, fused, _ = self._vector(col, query, min(self.candidates, max(info.count, 1)))
            return self._top(pool, fused, self.k), Interpretation(filter=QueryFilter())
        info, col, lex = self.lexical()
        meaning = self._interpret(query, lex)
        filt = meaning.filter
        hard = filt.hard and meaning.list_question
        n = min(self.filtered_candidates if hard else self.candidates, max(info.count, 1))
        pool, fused, vector = self._vector(col, query, n)

        def bump(doc: Document, amount: float) -> None:
            pool.setdefault(doc.id, Document(id=doc.id, page_content=doc.page_content, metadata=dict(doc.metadata)))
            fused[doc.id] = fused.get(doc.id, 0.0) + amount

        for rank, idx in enumerate(lex.search(query, n)):
            bump(lex.docs[idx], 1.0 / (RRF_K + rank + 1))
        for idx in lex.exact_ids(query):
            bump(lex.docs[idx], EXACT_ID_BOOST)
        for idx in lex.full_names(query):
            bump(lex.docs[idx], FULL_NAME_BOOST)
        if hard:
            allowed = {d.id for d in lex.docs if matches(d, filt)}
            if allowed:  # a filter nothing satisfies is ignored rather than answering from nothing
                for d in lex.docs:
                    if d.id in allowed:
                        bump(d, 0.0)
                fused = {i: s for i, s in fused.items() if i in allowed}
        sections_asked = self._sections_asked(query, meaning, lex)
        if sections_asked:
            for doc_id in fused:
                if in_sections(pool[doc_id], filt.categories, lex.category_keys):
                    fused[doc_id] += 0.5 / (RRF_K + 1)
        for doc_id in meaning.kind_ids[: self.filtered_list_k]:
            bump(lex.docs[lex.position[doc_id]], FULL_NAME_BOOST)
        named_outside = bool(meaning.named_ids) and not self._named_in_sections(meaning, lex)
        if filt.sort and filt.categories and (not meaning.named_ids or (named_outside and sections_asked)):
            self._rank_by_price(lex, fused, filt, bump)  # "the cheapest gaming laptop": not the "Surface Laptop"
        k = self.k
        if meaning.list_question:
            k = max(self.k, self.filtered_list_k if hard else self.list_k)
        k = max(k, min(len(meaning.kind_ids), self.filtered_list_k))
        self._cover_asked_concepts(query, lex, fused, k, bump)
        top = self._top(pool, fused, k)
        self._rank_section_lines(top, vector)
        return top, meaning

    def _vector(self, col, query: str, n: int) -> tuple[dict[str, Document], dict[str, float], list[float]]:
        """(candidate docs, their reciprocal-rank weights, the question's vector)."""
        vector = self.embeddings.embed_query(query)
        got = col.query(query_embeddings=[vector], n_results=n, include=["documents", "metadatas"])
        ids = got["ids"][0]
        pool = {
            i: Document(id=i, page_content=t or "", metadata=dict(m or {}))
            for i, t, m in zip(ids, got["documents"][0], got["metadatas"][0], strict=True)
        }
        return pool, {doc_id: 1.0 / (RRF_K + rank + 1) for rank, doc_id in enumerate(ids)}, vector

    def _rank_section_lines(self, docs: list[Document], vector: list[float]) -> None:
        """Mark each policy/info section with its lines ordered by meaning-similarity to the question.

        Lexical overlap cannot pick "Lunes: cerrado." for "Are you open on Monday?" (or the
        radius line for "¿Hasta dónde llevan los pedidos?"); the multilingual embeddings can.
        A section's line vectors are computed the first time it is retrieved, once per version.
        """
        q = np.asarray(vector, dtype=np.float32)
        for doc in docs:
            if is_row(doc):
                continue
            if doc.id not in self._line_vectors:
                _, lines = head_and_lines(doc.page_content)
                lines = lines[:MAX_SECTION_LINES_EMBEDDED]
                self._line_vectors[doc.id] = np.asarray(self.embeddings.embed_documents(lines), dtype=np.float32) if lines \
                    else np.zeros((0, q.size), dtype=np.float32)
            sims = self._line_vectors[doc.id] @ q
            doc.metadata["line_rank"] = ",".join(str(i) for i in np.argsort(-sims, kind="stable"))

    @staticmethod
    def _named_in_sections(meaning: Interpretation, lex: LexicalIndex) -> bool:
        """Is the best-named row (a policy section counts as in) in one of the sections the question names?"""
        best = [lex.docs[lex.position[i]] for i in meaning.named_ids[:1] if i in lex.position]
        return bool(best) and (not is_row(best[0]) or in_sections(best[0], meaning.filter.categories, lex.category_keys))

    @staticmethod
    def _sections_asked(query: str, meaning: Interpretation, lex: LexicalIndex) -> bool:
        """Do the section words of the question ask for a section, or describe a product it names?

        "¿Cuánto sale la paellera eléctrica Kanji?" names the paellera (section HOGAR) by a word of its
        own; "eléctrica", half of PAVA ELECTRICA, describes it and does not ask for that section, whose rows
        must not be lifted above it. A section named in full ("the cheapest gaming laptop": Gaming) is asked
        for when the product is named by one word only, which may be a common noun of the question ("Surface
        Laptop"); "la tosta de picadillo ibérico con crema de payoyo" names its dish by several words, and
        "ibérico" (all of IBÉRICOS) describes it.
        """
        f = meaning.filter
        if not f.categories:
            return False
        if not meaning.named_ids or CatalogRetriever._named_in_sections(meaning, lex):
            return True
        best = lex.position.get(meaning.named_ids[0])
        named_by = len(set(tokenize(query)) & lex.name_tokens[best]) if best is not None else 0
        return named_by < 2 and all(section_coverage(query, s) == 1.0 for s in f.categories)

    @staticmethod
    def _top(pool: dict[str, Document], fused: dict[str, float], k: int) -> list[Document]:
        out = []
        for doc_id in sorted(fused, key=lambda i: -fused[i])[:k]:
            doc = pool[doc_id]
            doc.metadata["score"] = round(fused[doc_id], 5)
            out.append(doc)
        return out

    @staticmethod
    def _rank_by_price(lex: LexicalIndex, fused, filt: QueryFilter, bump) -> None:
        """'The cheapest pasta': rows of the named category (or named like it: :func:`of_kind`), by price, go first."""
        priced = [
            d for d in lex.docs
            if of_kind(d, filt.categories, lex.category_keys) and isinstance(d.metadata.get("price"), (int, float))
            and (d.id in fused or not filt.hard)
        ]
        priced.sort(key=lambda d: d.metadata["price"], reverse=filt.sort == "desc")
        for rank, d in enumerate(priced):
            bump(d, 2.0 - rank * 0.01)

    @staticmethod
    def _cover_asked_concepts(query: str, lex: LexicalIndex, fused, k: int, bump) -> None:
        """If the question asks for e.g. the warranty and no top row mentions it, bring in the best row that does."""
        q = normalise(query)
        position = lex.position
        for concept in CONCEPTS:
            if not any(re.search(p, q) for p in concept.asks):
                continue
            top = sorted(fused, key=lambda i: -fused[i])[:k]
            if any(has_evidence(lex.texts[position[i]], concept) for i in top if i in position):
                continue
            for idx in lex.search(query, len(lex.docs)):
                if has_evidence(lex.texts[idx], concept):
                    floor = fused[top[-1]] if top else 0.0
                    bump(lex.docs[idx], max(0.0, floor - fused.get(lex.docs[idx].id, 0.0)) + 1e-6)
                    break

