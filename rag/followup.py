"""Follow-up questions: make "¿y el Pro?" mean "¿Cuánto cuesta el iPhone 15 Pro?".

Rewriting with the 1.5B model was tried and measured unreliable ("iPhone Pro", lost the dish
in "¿lleva huevo?") and costs an extra model call, so the rewrite is deterministic and
uses the catalog's own product names:

- *elliptical* follow-ups ("¿y el Pro?", "what about the Air?") reuse the previous question's
  predicate and swap in the product variant they name;
- *referential* ones ("¿lleva huevo?", "what colors does it come in?") get the previous
  subject attached.

Only the previous turn's *question* and the *names of the rows it cited* are used — never the
previous answer text — so history cannot leak facts into an answer that are not in the rows
retrieved for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.filters import parse_filters
from rag.text import normalise, tokenize

ELLIPSIS_START = re.compile(r"^\W*(y|e|o|and|or|what about|how about|and the|also|tambien|y el|y la|y los|y las)\b")
PRONOUN = re.compile(r"\b(it|its|they|them|this one|that one|ese|esa|eso|este|esta|esto|la tiene|lo tiene|los tiene)\b")
# Questions about an attribute with no product named: "¿lleva huevo?", "¿cuánto cuesta?", "what colours?"
ATTRIBUTE_START = re.compile(
    r"^\W*(lleva|contiene|tiene|trae|viene|cuanto (cuesta|vale|pesa)|que precio|de que colou?r|en que colores|"
    r"cuant[oa]s? (ram|memoria|quedan|unidades|hay)|quedan|"
    r"is it|does it|does that|how much is it|how much does it|what colou?rs?|which colou?rs?|how much ram|how many)\b"
)


@dataclass(frozen=True)
class Turn:
    """What a later question may refer back to: the question and the names of the rows its answer cited."""

    question: str
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contextualized:
    search: str  # what the retriever looks for
    question: str  # what the rules and checks read (and the LLM, unless ``asked_as`` is set)
    followup: bool = False
    asked_as: str = ""  # the question in the asker's language, when ``question`` is its translation (rag.translate)
    bridged: tuple[str, ...] = ()  # catalog words a dictionary put in place of the question's words (rag.bridge)

    @property
    def for_model(self) -> str:
        return self.asked_as or self.question


def contextualize(question: str, history: Sequence[Turn], lex) -> Contextualized:
    """Resolve a follow-up against the last turn; standalone questions pass through unchanged.

    ``lex`` is the store's :class:`rag.retrieval.LexicalIndex` (product names and tokenizer).
    """
    if not history or not history[-1].subjects:
        return Contextualized(question, question)
    prev = history[-1]
    q = normalise(question)
    rest = ELLIPSIS_START.sub(" ", q)  # "what about the Air?" -> " the air?"
    content = tokenize(rest)
    own_names = lex.full_names(question) or lex.exact_ids(question) or lex.named(question)
    filt = parse_filters(question, lex.categories)
    # "¿y el Pro?": only product-name words after the conjunction
    elliptical = rest != q and bool(content) and len(content) <= 3 and all(t in lex.name_vocab for t in content)
    # "¿lleva huevo?", "and is it vegan?", "what about the warranty?": the previous subject is meant
    asks_attribute = bool(ATTRIBUTE_START.search(rest.strip()) or (rest != q and content))
    refines_list = filt.wants_list or bool(filt.max_price or filt.min_price)  # "¿y vegetarianas?" narrows a list
    referential = not own_names and (bool(PRONOUN.search(q)) or (asks_attribute and not refines_list))
    if not (elliptical or referential):
        return Contextualized(question, question)

    subject = prev.subjects[0]
    if elliptical:
        variant = _variant(subject, rest, lex)
        return Contextualized(f"{variant} {question}", _swap_subject(prev.question, subject, variant), followup=True)
    # "¿y cuánto cuesta el Pro?": a new question about a variant of the subject
    variant_words = [t for t in content if t in lex.name_vocab and t not in set(tokenize(subject))]
    if variant_words:
        variant = _variant(subject, " ".join(variant_words), lex)
        if variant != subject and any(str(d.metadata.get("name", "")) == variant for d in lex.docs):
            own = re.sub(r"^(¿?)\s*(and|y|e)\s+", r"\1", question.strip(), flags=re.IGNORECASE)
            return Contextualized(f"{variant} {question}", _swap_subject(own, variant, variant), followup=True)
    return Contextualized(f"{subject} {question}", _name_subject(question, subject), followup=True)


def _name_subject(question: str, subject: str) -> str:
    """Put the subject where a reader expects it (the 1.5B model misreads "Subject: question").

    'and what colors does it come in?' -> 'what colors does iPhone 15 come in?';
    '¿lleva huevo?' -> '¿Spaghetti Carbonara lleva huevo?'; 'how much ram?' -> 'how much ram (MacBook Pro)?'
    """
    text = re.sub(r"^(¿?)\s*(and|y|e)\s+", r"\1", question.strip(), flags=re.IGNORECASE)
    m = PRONOUN.search(normalise(text))
    if m and len(normalise(text)) == len(text):  # same offsets after accent folding
        return text[: m.start()] + subject + text[m.end():]
    if text.startswith("¿"):
        return f"¿{subject} {text[1:]}"
    return f"{text.rstrip('?').rstrip()} ({subject})?"


def _swap_subject(previous: str, subject: str, variant: str) -> str:
    """'How much RAM does the MacBook Pro have?' + subject 'MacBook Pro 14" M2' -> '... the MacBook Air have?'."""
    subject_tokens = set(tokenize(subject))
    words = list(re.finditer(r"[\w\"'.-]+", previous))
    best: tuple[int, int] | None = None
    for i in range(len(words)):
        for j in range(i, len(words)):
            toks = set(tokenize(words[j].group()))
            if not toks or not toks <= subject_tokens:
                break
            if best is None or j - i > best[1] - best[0]:
                best = (i, j)
    if best is None:
        return f"{variant}: {previous}"
    start, end = words[best[0]].start(), words[best[1]].end()
    return previous[:start] + variant + previous[end:]


def _variant(subject: str, words: str, lex) -> str:
    """The catalog name meant by "the Pro"/"the Air" after `subject`, else subject head + those words."""
    subject_tokens = set(tokenize(subject))
    extra = set(tokenize(words)) - subject_tokens
    if not extra:
        return subject
    head = set(tokenize(subject.split()[0])) if subject.split() else set()
    best: tuple[int, int, str] | None = None
    for name in (str(d.metadata.get("name", "")) for d in lex.docs):
        toks = set(tokenize(name))
        if extra <= toks and head <= toks:
            key = (-len(toks & subject_tokens), len(toks), name)  # most shared with the subject, then shortest
            best = key if best is None or key < best else best
    if best:
        return best[2]
    kept = [w for w in re.findall(r"\w+", words) if set(tokenize(w)) & extra]
    return " ".join([subject.split()[0], *kept]) if subject.split() else " ".join(kept)
