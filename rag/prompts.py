"""Prompt assembly and the deterministic checks around the LLM (pure functions).

The small local model is good at phrasing and bad at knowing when to stop, so everything
that can be decided without it is decided here: the language of the answer, whether the
question asks for a field that none of the retrieved rows has, the refusal text, which rows
the answer cites, and whether every number in the answer appears in a cited row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate

from rag.filters import is_row, product_key
from rag.lexicon import WORDS
from rag.text import head_and_lines, name_aliases, normalise, phrase, tokenize

REFUSAL_TOKEN = "NOT_IN_CATALOG"

# Short and fixed, so llama.cpp reuses its KV cache for this prefix on every question.
SYSTEM_PROMPT = (
    "You are a shop assistant. Answer ONLY from the catalog rows in the user message. "
    "Copy names, prices and specs exactly as written in the rows; never guess or add facts. "
    "Only say the shop sells or does something if a row says so. "
    "If no row answers the question, reply with exactly " + REFUSAL_TOKEN + ". "
    "Be brief: one to three full sentences that name the product and the facts asked for, quoting the row "
    "(for a yes/no question, the row fact that decides it). No preamble."
)

HUMAN_TEMPLATE = "Catalog rows (prices in {currency}):\n{context}\n\nQuestion: {question}\nAnswer in {language}."

# Worked examples from a made-up hardware shop, placed after the system prompt: they are part of the
# fixed prefix, so llama.cpp keeps their KV cache and they cost no time after the first question.
# Measured on the dev sets' LLM-answered questions (55/62 right with these four, 53/62 without, 54/62
# with eleven): a "no" that a row states, a conditional yes across languages, a list, and the refusal
# of a brand no row has. More examples made the model copy their facts into real answers.
_PAYMENT = "[1] Payment\n- Visa and Mastercard, in store and online. | - We do not accept checks."
_CAKES = "[1] Tartas\n- Todas las tartas pueden hacerse sin azúcar por $2 más. | - Encargos con 24 horas de antelación."
_DRILLS = ("[1] Bosch PSR 18 Drill\ncategory: Tools | price: 89.00 | specs: 18 V cordless; 2 batteries included\n"
           "[2] Makita HP457 Drill\ncategory: Tools | price: 75.00 | specs: 18 V cordless; 1 battery\n"
           "[3] Einhell TC-ID 650\ncategory: Tools | price: 39.00 | specs: corded, 650 W")
EXAMPLES: tuple[tuple[str, str, str, str], ...] = (  # (rows, question, language, answer)
    (_PAYMENT, "¿Aceptan cheques?", "Spanish", "No, no aceptamos cheques."),
    (_CAKES, "Do you have sugar-free cakes?", "English", "Yes, any cake can be made sugar-free for $2 extra."),
    (_DRILLS, "¿Qué taladros inalámbricos tienen?", "Spanish",
     "Tenemos el Bosch PSR 18 Drill ($89.00) y el Makita HP457 Drill ($75.00)."),
    (_DRILLS, "¿Tienen taladros DeWalt?", "Spanish", REFUSAL_TOKEN),
)


def _example_messages() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for rows, question, language, answer in EXAMPLES:
        human = HUMAN_TEMPLATE.format(currency="US dollars ($)", context=rows, question=question, language=language)
        out += [("human", human.replace("{", "{{").replace("}", "}}")), ("ai", answer)]
    return out


PROMPT = ChatPromptTemplate.from_messages([("system", SYSTEM_PROMPT), *_example_messages(), ("human", HUMAN_TEMPLATE)])


def warmup_messages():
    """The fixed prefix (system prompt + worked examples) with a dummy question: computed once per model load."""
    return PROMPT.format_messages(context="[1] -", question="-", language="English", currency="-")


_ES_WORDS = {
    "que", "qué", "cuanto", "cuánto", "cuanta", "cuánta", "cuantos", "cuántos", "cuál", "cual", "cuáles",
    "tienen", "tiene", "tienes", "hay", "el", "la", "los", "las", "de", "del", "para", "con", "sin", "es",
    "son", "cuesta", "cuestan", "precio", "hacen", "hace", "me", "recomiendas", "recomienda", "y", "o",
    "un", "una", "por", "opciones", "puedo", "quiero", "dónde", "donde", "cómo", "como", "abren", "horario",
    "garantía", "garantia", "productos", "platos", "vegetarianas", "vegetariano", "vegetarianos", "envío",
    "más", "mas", "barato", "barata", "colores", "está", "esta", "están", "tenéis", "teneis",
    "venden", "vendéis", "algún", "alguna", "alguno", "cuántas", "cuantas", "calorías", "domingos", "lunes",
}
_EN_WORDS = {
    "what", "how", "much", "many", "does", "do", "is", "are", "the", "a", "an", "of", "for", "with", "which",
    "you", "have", "has", "cost", "price", "any", "can", "i", "in", "on", "and", "or", "sell", "there",
    "recommend", "your", "open", "when", "where", "it", "that", "this", "than", "cheaper", "under", "colors",
}


_EN_OPENER = re.compile(r"^\W*(is|are|do|does|did|what|what's|which|how|can|could|would|will|where|when|who|why|have|has)\b")


def detect_language(text: str) -> str:
    """'es' or 'en' from inverted punctuation, accents and function words (good enough for questions)."""
    lowered = text.lower()
    if "¿" in lowered or "¡" in lowered:
        return "es"
    if _EN_OPENER.match(lowered):  # "Is there dairy in the salchichón ibérico?": Spanish names, English question
        return "en"
    if "ñ" in lowered:
        return "es"
    words = re.findall(r"[a-záéíóúüñ]+", lowered)
    es = sum(w in _ES_WORDS for w in words) + 2 * sum(bool(re.search(r"[áéíóú]", w)) for w in words)
    en = sum(w in _EN_WORDS for w in words)
    return "es" if es > en else "en"


MAX_PROMPT_ROWS = 5  # prompt length is latency on 2 cores (prefill measured at ~80 tokens/s)
MAX_PROMPT_SECTIONS = 2
MAX_SECTION_LINES = 4  # of the first policy section in the prompt
MAX_OTHER_SECTION_LINES = 2  # of each further section


def prompt_rows(docs: Sequence[Document], question: str, limit: int = MAX_PROMPT_ROWS) -> list[Document]:
    """The rows the model sees (and may cite), in retrieval order; the top-ranked one always stays.

    Prompt length is latency and noise is the small model's undoing, so: at most ``limit`` rows;
    when the best match is a policy section the question is about the shop, and only the top
    :data:`MAX_PROMPT_SECTIONS` sections plus the products it names by a word of their name stay;
    otherwise products plus at most one section. Sections that share no word with the question
    are left out when another section does.
    """
    asked = {t for t in tokenize(question) if len(t) >= 3 or any(c.isdigit() for c in t)}
    docs = list(docs[:limit])
    if not docs:
        return docs

    def is_section(d: Document) -> bool:
        return not is_row(d)

    sections = [d for d in docs if is_section(d)]
    if any(asked & set(tokenize(d.page_content)) for d in sections):
        docs = [d for n, d in enumerate(docs) if n == 0 or not is_section(d) or asked & set(tokenize(d.page_content))]
    if is_section(docs[0]):
        named = [d for d in docs if not is_section(d) and asked & set(tokenize(str(d.metadata.get("name", ""))))]
        return [d for d in docs if is_section(d)][:MAX_PROMPT_SECTIONS] + named
    first_section = next((d for d in docs if is_section(d)), None)
    return [d for d in docs if not is_section(d) or d is first_section]


CLIP_CHARS = 110


def format_rows(docs: Sequence[Document], question: str = "") -> str:
    """Numbered, compact rows: the first line of each doc is its name, the rest joined by ' | '.

    Prompt length is latency (prefill runs at ~80 tokens/s on 2 cores), so the rows are cut
    to what the question needs: a row drops its id line (answers cite rows by number); a
    policy section keeps its best lines by words and meaning (see :func:`section_lines`: four
    for the first section, two for others); and when more than two rows share the prompt, a
    field that shares no word with the question is clipped.
    """
    asked = {t for t in tokenize(question) if len(t) >= 3 or any(c.isdigit() for c in t)}
    q = normalise(question)
    many = len(docs) > 2
    blocks = []
    sections = 0
    for i, doc in enumerate(docs, start=1):
        head, rest = head_and_lines(doc.page_content)
        head = head or str(doc.metadata.get("name", ""))
        if not is_row(doc):
            sections += 1
            rest = section_lines(rest, asked, str(doc.metadata.get("line_rank", "")),
                                 MAX_SECTION_LINES if sections == 1 else MAX_OTHER_SECTION_LINES)
        else:
            doc_id = normalise(str(doc.metadata.get("id", "")))
            rest = [ln for ln in rest if not (doc_id and normalise(ln).endswith(f": {doc_id}") and doc_id not in q)]
            if many:
                rest = [ln if asked & set(tokenize(ln)) else _clip(ln) for ln in rest]
        blocks.append(f"[{i}] {head}" + (f"\n{' | '.join(rest)}" if rest else ""))
    return "\n".join(blocks)


def section_lines(lines: list[str], asked: set[str], line_rank: str = "", limit: int = MAX_SECTION_LINES) -> list[str]:
    """The lines of a policy section worth showing, in their own order.

    Two rankings are fused (reciprocal rank): shared words with the question, and meaning
    (``line_rank``, the retriever's embedding order, which also works across languages).
    Without either, every line is kept.
    """
    score = [0.0] * len(lines)
    overlap = [len(asked & set(tokenize(ln))) for ln in lines]
    lexical = sorted((n for n in range(len(lines)) if overlap[n]), key=lambda n: -overlap[n])
    semantic = [int(n) for n in line_rank.split(",") if n.isdigit() and int(n) < len(lines)]
    for ranking in (lexical, semantic):
        for r, n in enumerate(ranking):
            score[n] += 1.0 / (2 + r)
    if not any(score):
        return lines
    best = sorted(range(len(lines)), key=lambda n: -score[n])[:limit]
    return [lines[n] for n in sorted(best) if score[n]]


def _clip(line: str) -> str:
    if len(line) <= CLIP_CHARS:
        return line
    cut = line[:CLIP_CHARS]
    for sep in ("; ", ". ", ", ", " "):
        if sep in cut[CLIP_CHARS // 2:]:
            return cut[: cut.rindex(sep)] + " …"
    return cut + " …"


def currency_label(code: str) -> str:
    return {"USD": "US dollars ($)", "EUR": "euros (€)", "GBP": "pounds (£)", "MXN": "Mexican pesos ($)"}.get(code, code)


# --------------------------------------------------------------------------- field guard


COLOUR_WORDS = (  # whole words (see has_evidence), both languages
    "black", "white", "red", "blue", "green", "yellow", "grey", "gray", "silver", "gold", "pink", "purple", "orange",
    "brown", "beige", "negro", "negra", "blanco", "blanca", "rojo", "roja", "azul", "verde", "amarillo", "amarilla",
    "gris", "plateado", "plateada", "dorado", "dorada", "rosa", "morado", "morada", "naranja", "marron", "inox",
    "grafito", "graphite", "acero", "steel", "titanio", "titanium", "cromado", "chrome", "plata", "transparente",
)


@dataclass(frozen=True)
class FieldConcept:
    """A kind of fact a question can ask for, with words that show a row has it."""

    name: dict[str, str]  # language -> how to say it in a refusal
    asks: tuple[str, ...]  # regexes on the normalised question
    evidence: tuple[str, ...]  # substrings on the normalised row text / metadata keys


CONCEPTS: tuple[FieldConcept, ...] = (
    FieldConcept({"en": "calories", "es": "las calorías"}, (r"\bcalori", r"\bkcal\b", r"\bkilocalori", r"\bkilojoule", r"\bkj\b"), ("calori", "kcal", "kj", "energ", "nutri")),
    FieldConcept({"en": "the weight", "es": "el peso"}, (r"\bweigh", r"\bpeso\b", r"\bpesa\b", r"\bcuanto pesa"), ("weight", "peso", "kg", "grams", "gramos", "lbs", "oz", "pounds", "libras")),
    FieldConcept({"en": "the dimensions", "es": "las dimensiones"}, (r"\bdimension", r"\bmedidas\b", r"\bhow tall\b", r"\bhow wide\b"), ("dimension", "dimensions", "medidas", "mm", "cm")),
    # "how much is in a pack" asks a quantity, not a price; "how many units come in the box" is not stock
    FieldConcept({"en": "the price", "es": "el precio"}, (r"\bprice", r"\bprecio", r"\bcost", r"\bcuest", r"\bcuanto vale", r"\bhow much (is|are)\b(?! (in|inside)\b)(?!.*\b(contain|weigh|hold)\b)"), ("price", "precio", "$", "€", "cost", "pvp", "importe", "tarifa")),
    FieldConcept({"en": "the stock level", "es": "las existencias"}, (r"\bin stock\b", r"\bstock\b(?!.*\b(box|pack|caja|paquete)\b)", r"\bunits? left\b", r"\bexistencias\b", r"\bquedan\b", r"\bunidades (hay|quedan|disponibles|en stock)\b"), ("stock", "existencias", "qty", "quantity", "cantidad", "unidades", "units", "saldo", "disponible")),
    # a colour named in a description ("funda roja") is evidence too, not only a colour column
    FieldConcept({"en": "the colours", "es": "los colores"}, (r"\bcolou?rs?\b", r"\bcolores\b"), ("color", "colour", "colores", *COLOUR_WORDS)),
    FieldConcept({"en": "the warranty", "es": "la garantía"}, (r"\bwarrant", r"\bgarantia"), ("warrant", "garantia")),
    FieldConcept({"en": "the battery capacity (mAh)", "es": "la capacidad de la batería (mAh)"}, (r"\bmah\b", r"\bbattery capacity\b", r"\bcapacidad de (la )?bateria\b", r"\bmiliamperios\b"), ("mah", "miliamperio")),
    FieldConcept({"en": "the energy rating", "es": "la clase de eficiencia energética"}, (r"\beficiencia energetica\b", r"\bclase energetica\b", r"\benergy (rating|class|efficiency|label)\b", r"\betiqueta energetica\b"), ("a+", "a++", "a+++", "clase a", "class a", "energy", "energetica", "eficiencia")),
    FieldConcept({"en": "the release date", "es": "la fecha de lanzamiento"}, (r"\brelease date\b", r"\bwhen was .* released\b", r"\bfecha de lanzamiento\b"), ("release", "lanzamiento")),
)


def doc_text(doc: Document) -> str:
    keys = " ".join(str(k) for k in doc.metadata)
    return normalise(f"{doc.page_content} {keys}")


def has_evidence(text: str, concept: FieldConcept) -> bool:
    """Does normalised row text mention the concept? Words match whole ("gram" is not in "programming")."""
    return any((e in text) if not e.isalpha() else re.search(rf"\b{re.escape(e)}{_END if e in COLOUR_WORDS else ''}", text)
               is not None for e in concept.evidence)


_END = r"\b"  # colour words match whole ("red" is not in "reduced")


MIN_ASKED_OVERLAP = 2  # words a question must share with one row's name, more than with any other, to be about it


def asked_rows(question: str, docs: Sequence[Document]) -> list[Document]:
    """The rows of the one product the question is about, when its name shares clearly the most words with it.

    "¿Cuánto sale la paellera eléctrica Kanji?" among three Kanji rows is about the paellera. Words
    are compared as prefixes (typos, plurals, abbreviations: :func:`shared_words`) and numbers count
    ("ventilador 20 pulgadas"); a tie
    between different names, fewer than :data:`MIN_ASKED_OVERLAP` shared words, or a name in the
    question the rows do not have (:func:`unknown_names`), is no answer. Rows with the same name (the snippets of one product, a dish listed once per portion) are one
    product: they are returned together, first the best-ranked.
    """
    asked = _asked_tokens(question)
    names = [phrase(str(d.metadata.get("name", ""))) if is_row(d) else None for d in docs]
    score: dict[str, int] = {}
    for d, name in zip(docs, names, strict=True):
        if name is not None and name not in score:
            score[name] = shared_words(asked, set(tokenize(str(d.metadata.get("name", "")))))
    ranked = sorted(score.values(), reverse=True)
    if not ranked or ranked[0] < MIN_ASKED_OVERLAP or (len(ranked) > 1 and ranked[1] == ranked[0]):
        return []
    best = next(n for n, v in score.items() if v == ranked[0])
    rows = [d for d, name in zip(docs, names, strict=True) if name == best]
    # "the Singer Heavy Duty 4423" is not the Brother SE400 sewing machine, however many words they share
    words = {w for d in rows for w in re.findall(r"[a-z0-9]+", normalise(f"{d.metadata.get('name', '')} {d.page_content}"))}
    return [] if unknown_names(question, words) else rows


def _asked_tokens(question: str) -> set[str]:
    """The question's tokens a row name is compared on (:func:`shared_words`): words of 3+ letters and numbers."""
    return {t for t in tokenize(question) if len(t) >= 3 or t.isdigit()}


MIN_ABBREVIATION = 4  # letters of a row word that may stand for a longer question word ("elec" for "eléctrico")


def shared_words(asked: set[str], words: set[str]) -> int:
    """How many question tokens a row's name words match: equal, or abbreviated in the row.

    Stock exports shorten words ("Termot. Señorial Zafiro 40 elec", "Vent. Pared"): a row word of at least
    :data:`MIN_ABBREVIATION` letters that starts a question word counts as that word.
    """
    short = {w for w in words if len(w) >= MIN_ABBREVIATION and w.isalpha()}
    return sum(t in words or any(t.startswith(w) for w in short) or code_prefixes(t, words) for t in asked)


MIN_CODE_PREFIX = 3  # characters of a model code that may stand for the row's longer code ("RT42" for "RT42DG6730B1")


def code_prefixes(token: str, words) -> bool:
    """Is ``token`` a model code (letters and digits) that starts one of ``words``? Staff type the short code."""
    return (len(token) >= MIN_CODE_PREFIX and _CODE_RE.fullmatch(token) is not None
            and any(w.startswith(token) for w in words))


def asked_row(question: str, docs: Sequence[Document]) -> Document | None:
    """The best-ranked of :func:`asked_rows` (None: the question names no one product clearly)."""
    rows = asked_rows(question, docs)
    return rows[0] if rows else None


def names_match(question: str, doc: Document) -> bool:
    """Does the row carry every name word (capitalised, in capitals, a model code) and number of the question?

    "¿Cuánto sale la heladera Gafa de 300 litros?" is not about a Drean 300-litre fridge, however many
    other words they share.
    """
    text = f"{doc.metadata.get('name', '')} {doc.page_content}"
    row = set(tokenize(text)) | set(phrase(text).split())  # codes are compared whole
    names, codes = question_names(question)
    return (all(t in row for t in names) and all(t in row or code_prefixes(t, row) for t in codes)
            and numbers_in(question) <= numbers_in(text) | _row_numbers(doc))


def question_names(question: str) -> tuple[set[str], set[str]]:
    """The question's name words (capitalised or in capitals, not its first word) and model codes.

    Model codes ("X1", "S24", "RT32K5070WW") are kept whole; amounts go by their value (:func:`numbers_in`), so
    "6,5 kg" is "6.5kg" and "125 litros" is "125lts".
    """
    names = {t for m in _NAME_WORD.finditer(question) if question[: m.start()].strip(" ¿¡\"'«“(")
             for t in tokenize(m.group())}
    # whole: "RT32K5070WW" is not the RT32k5070S8, though both start "rt32k" (:func:`rag.text.tokenize`'s prefix)
    codes = {w for w in phrase(question).split() if any(c.isdigit() for c in w) and not _AMOUNT.fullmatch(w)}
    return names, codes


_AMOUNT = re.compile(r"\d+[a-z]{0,3}")


def _row_numbers(doc: Document) -> set[str]:
    return numbers_in(doc.page_content) | {canon_number(str(v)) for v in doc.metadata.values() if isinstance(v, (int, float))}


def missing_concepts(question: str, docs: Sequence[Document]) -> list[FieldConcept]:
    """Concepts the question asks for that the rows do not mention: the row the question is about
    (see :func:`asked_row`) and the shop's sections, else any retrieved row."""
    q = normalise(question)
    about = asked_rows(question, docs)
    if about:
        docs = about + [d for d in docs if not is_row(d)]
    texts = [doc_text(d) for d in docs]
    return [c for c in CONCEPTS if any(re.search(p, q) for p in c.asks) and not any(has_evidence(t, c) for t in texts)]


_CODE_RE = re.compile(r"\b(?=[a-z0-9]*[a-z])(?=[a-z0-9]*\d)[a-z0-9]{2,}\b")


# "Will it fit on an LA165?", "¿sirve para mi Moto G?": what follows names the customer's own thing, not a product.
_THEIR_OWN = re.compile(r"\b(on|in|with|for|from|into|fit|fits|compatible|replace|replaces|para|con|de mi|en mi|a mi)"
                        r"(\s+(an?|my|the|mi|un|una|el|la|mis|los))?(\s+[a-z]+)?$")


def _their_own(question: str, start: int) -> bool:
    return _THEIR_OWN.search(normalise(question[:start]).rstrip()) is not None


def unknown_codes(question: str, corpus_words: set[str]) -> list[str]:
    """Model codes in the question ("S24", "PS5") that start no word of any row: that product is not sold.

    A prefix of a longer code counts as known ("RT42" of "RT42K5060SL"); a code that names the
    customer's own appliance ("will it fit my LA165?") is not a product asked about.
    """
    q = normalise(question)
    return [m.group() for m in _CODE_RE.finditer(q)
            if m.group() not in corpus_words and not _their_own(question, m.start())
            and not any(w.startswith(m.group()) for w in corpus_words if w[:2] == m.group()[:2])]


# A capitalised word inside a question ("the LG Gram", "una tele Sony") or an all-caps brand ("TCL") is a
# name: when no row has it, the product named is not sold, whatever similar rows retrieval found.
_NAME_WORD = re.compile(r"(?<![\w¿¡])(?:[A-ZÁÉÍÓÚÑ]{2,}[a-z]?\b|[A-ZÁÉÍÓÚÑ][a-záéíóúüñ]+(?:[A-ZÁÉÍÓÚÑ][a-záéíóúüñ]*)*)")
_NOT_NAMES = {
    "i", "im", "ive", "id", "ok", "hi", "hello", "hola", "please", "thanks", "gracias", "yes", "no", "si",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "lunes", "martes", "miercoles",
    "jueves", "viernes", "sabado", "domingo", "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december", "english", "spanish", "ingles", "espanol",
    "usd", "us", "eur", "euro", "euros", "tv", "pc", "usb", "faq", "what", "which", "how", "do", "does", "is",
    "are", "can", "the", "and", "que", "cual", "cuanto", "cuanta", "tienen", "hay", "me",
}


NEAR_NAME_LEN = 6  # a misspelt name this long is matched to a close catalog word ("Samsumg"); "Casar" is not "casa"


def unknown_names(question: str, corpus_words: set[str], near=None) -> list[str]:
    """Names in the question (capitalised inside it, or in capitals) that appear in no row.

    The first word of the question and of each sentence is not a name by its capital alone.
    ``near(word)`` may return catalog words a misspelt name is close to (then it is known).
    """
    out = []
    for m in _NAME_WORD.finditer(question):
        before = question[: m.start()].rstrip(" \"'«“(")
        if not before or before[-1] in ".!?¿¡:" and not m.group().isupper():
            continue  # sentence start: "Which…", "¿Tienen…"
        word = normalise(m.group())
        if word in _NOT_NAMES or word in corpus_words or len(word) < 2:
            continue
        if (near is not None and len(word) >= NEAR_NAME_LEN and near(word)) or _their_own(question, m.start()):
            continue
        out.append(m.group())
    return out


def missing_field_message(concepts: Sequence[FieldConcept], docs: Sequence[Document], language: str) -> str:
    w = WORDS[language]
    what = " / ".join(c.name.get(language, c.name["en"]) for c in concepts)
    subject = docs[0].metadata.get("name") if docs else None
    return w.missing_field.format(what=what, subject=w.missing_subject.format(name=subject) if subject else "")


# --------------------------------------------------------------------------- answer checks


_REFUSAL_RE = re.compile(r"\bNOT?[_ ]?IN[_ ]?(THE[_ ]?)?CATAL", re.IGNORECASE)


def is_refusal(text: str) -> bool:
    """The model's refusal token, tolerating the small model's misspellings ("NO_IN_CATALOG") and its
    habit of stopping after the token's first word: a bare upper-case "NO" says nothing else."""
    t = text.strip()
    return bool(_REFUSAL_RE.search(t[:40])) or t.rstrip("._") in {"NO", "NOT"}


_NUM_RE = re.compile(r"(?<![\w.])\d{1,3}(?:[.,]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?")


def canon_number(raw: str) -> str:
    """'1,999.00' / '1.999' / '1999' -> '1999'; '0.5' -> '0.5'; '12,50' -> '12.5'."""
    s = raw
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", s):  # 1,999 or 1.999 thousands
        s = re.sub(r"[.,]", "", s)
    elif re.fullmatch(r"\d{1,3}(?:,\d{3})+\.\d+", s):
        s = s.replace(",", "")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d+", s):
        s = s.replace(".", "").replace(",", ".")
    else:
        s = s.replace(",", ".")
    whole, _, frac = s.partition(".")
    whole = whole.lstrip("0") or "0"
    frac = frac.rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def numbers_in(text: str) -> set[str]:
    text = re.sub(r"(?m)^\s*\d{1,2}[.)]\s", " ", text)  # list numbering "1. " is not a stated fact
    return {canon_number(m.group()) for m in _NUM_RE.finditer(text)}


def ungrounded_numbers(answer: str, question: str, docs: Sequence[Document]) -> list[str]:
    """Numbers stated in the answer that appear neither in the question nor in any given row."""
    known = numbers_in(question).union(*(_row_numbers(d) for d in docs))
    return sorted(n for n in numbers_in(answer) if n not in known)


def aliases_of(docs: Sequence[Document | None]) -> list[tuple[str, int]]:
    """(how staff say a row's name, the row's position), longest first; None entries are skipped."""
    return sorted(((alias, i) for i, d in enumerate(docs) if d is not None
                   for alias in name_aliases(str(d.metadata.get("name", "")), str(d.metadata.get("brand", "")))),
                  key=lambda x: -len(x[0]))


def rows_named(text: str, aliases: list[tuple[str, int]]) -> set[int]:
    """Positions of the rows ``text`` names. Longest names first (in full or as staff say them), each match
    blanked out, so "iPhone 15" does not also match inside "iPhone 15 Pro". Rows that share a name (the
    snippets of one product, a dish listed once per portion) are all named by it."""
    t, hits, matched = f" {phrase(text)} ", set(), set()
    for alias, i in aliases:
        if alias and (alias in matched or f" {alias} " in t):
            hits.add(i)
            matched.add(alias)
            t = t.replace(f" {alias} ", "  ")
    return hits


SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")  # where an answer's sentences split


def misattributed_numbers(answer: str, question: str, docs: Sequence[Document]) -> list[str]:
    """Numbers stated in a sentence that names a row but that this row (or another row named in the
    same sentence) does not hold: "the X costs 24.50" when 24.50 is the price of the Y.

    A number that some cited row holds passes :func:`ungrounded_numbers`; it must also belong to the
    product the sentence is about. A sentence that names no row ("Cuesta 36989.") is about the row
    the question names (:func:`asked_row`): a number only another row holds is flagged.
    """
    known = numbers_in(question)
    about = asked_rows(question, docs)
    others = set().union(*(_row_numbers(d) for d in docs if d not in about and is_row(d)))
    own = set().union(*(_row_numbers(d) for d in about))
    aliases = aliases_of([d if is_row(d) else None for d in docs])
    # "The Atma air fryer costs 68.869" when 68.869 is the price of an Atma waffle maker, one of four Atma
    # products the question's names fit: a sentence naming no row takes its numbers from the products it fits
    fitting = _fitting_products(question, docs)
    wrong: set[str] = set()
    for sentence in SENTENCE.split(answer):
        stated = numbers_in(sentence) - known
        if not stated:
            continue
        named = rows_named(sentence, aliases)
        if not named:
            if about:
                wrong |= (stated & others) - own
            else:  # the number must come from a product the question fits (:func:`_fitting_products`)
                wrong |= {n for n in stated if (holders := [d for d in docs if is_row(d) and n in _row_numbers(d)])
                          and not any(product_key(d) in fitting for d in holders)}
            continue
        holds = set().union(*(_row_numbers(docs[i]) for i in named))
        holds |= set().union(*(numbers_in(str(docs[i].metadata.get("name", ""))) for i in named))
        wrong |= stated - holds
    return sorted(wrong)


def _fitting_products(question: str, docs: Sequence[Document]) -> set:
    """The products (:func:`rag.filters.product_key`) a sentence naming no row may take a number from.

    With name words or codes in the question, the one product they fit (none when several do). Without: the
    products whose names share the most words with it ("the jabalí stew" is the Ragout de jabalí), every product
    when no name shares a word ("What is the cheapest?").
    """
    rows = [d for d in docs if is_row(d)]
    if any(question_names(question)):
        fits = {product_key(d) for d in rows if names_match(question, d)}
        return fits if len(fits) == 1 else set()
    asked = _asked_tokens(question)
    shared = {product_key(d): shared_words(asked, set(tokenize(str(d.metadata.get("name", ""))))) for d in rows}
    best = max(shared.values(), default=0)
    return {k for k, n in shared.items() if n == best} if best else set(shared)


# A number stated with a unit must be in a row with that unit: "la tabla tiene 14 cm" when 14 is the
# table's price, "7.5 grams" when 7.5 is a portion price. Units by dimension, both languages.
UNITS: dict[str, tuple[str, ...]] = {
    "mm": ("mm", "milimetros", "millimeters", "millimetres"),
    "cm": ("cm", "centimetros", "centimeters", "centimetres"),
    "m": ("metros", "meters", "metres"),
    "inch": ('"', "”", "''", "inch", "inches", "pulgadas", "pulgada", "pulg", "in"),
    "g": ("g", "gr", "grs", "gramos", "gramo", "grams", "gram"),
    "kg": ("kg", "kgs", "kilos", "kilo", "kilogramos", "kilograms"),
    "ml": ("ml", "mililitros", "milliliters", "millilitres", "cl", "centilitros"),
    "l": ("l", "lt", "lts", "litros", "litro", "liters", "litres", "liter", "litre"),
    "gb": ("gb",), "tb": ("tb",), "mah": ("mah",), "ghz": ("ghz",), "hz": ("hz",),
    "w": ("w", "watts", "vatios", "watios"), "v": ("v", "volts", "voltios"),
    "kcal": ("kcal", "calorias", "calories", "cal"),
    "year": ("años", "anos", "years", "year", "año"), "month": ("meses", "months", "mes", "month"),
    "units": ("unidades", "units", "uds", "unid"),
}
_UNIT_OF = {v: u for u, variants in UNITS.items() for v in variants}
_UNIT_RE = re.compile(r"(\d+(?:[.,]\d+)?)\s?(" + "|".join(sorted((re.escape(v) for v in _UNIT_OF), key=len, reverse=True))
                      + r")(?![a-z0-9])")


def _measures(text: str) -> set[tuple[str, str]]:
    """(number, unit) pairs written in ``text``: '1.37kg' -> ('1.37', 'kg'), '15.6"' -> ('15.6', 'inch')."""
    return {(canon_number(n), _UNIT_OF[u]) for n, u in _UNIT_RE.findall(normalise(text).replace("”", '"'))}


# "header: value" pairs, one per line or several in one cell ("collapsed length (in): 14.02, collapsed length (mm): 356")
_FIELD = re.compile(r"([^:\n,;{}]+):([^\n,;{}]+(?:,\d[^\n,;{}]*)*)")


def _row_measures(doc: Document) -> set[tuple[str, str]]:
    """A row's measures: written with their unit, or under a header that names it ('Inches: 15.6', 'Peso (kg): 2')."""
    found = _measures(doc.page_content)
    for header, value in _FIELD.findall(normalise(doc.page_content)):
        units = {_UNIT_OF[w] for w in re.findall(r"[a-z]+", header) if w in _UNIT_OF}
        found |= {(n, u) for n in numbers_in(value) for u in units}
    stock = doc.metadata.get("stock")
    if isinstance(stock, (int, float)):  # "quedan 2 unidades": the stock count, whatever its header
        found.add((canon_number(str(stock)), "units"))
    return found


def measure_words(question: str, doc: Document) -> set[str]:
    """Tokens of the unit words of measures the question states and the row has: "25 inch" for a row that says 25"."""
    units = {unit for _, unit in _measures(question) & _row_measures(doc)}
    return {t for u in units for v in UNITS[u] for t in tokenize(v)}


def mismeasured(answer: str, docs: Sequence[Document], question: str = "") -> list[str]:
    """Measures the answer states ("14 cm", "7.5 grams") that no given row has with that unit.

    A measure the question states ("el termotanque Rheem de 125 litros") is the asker's, not a claim.
    """
    known = _measures(question).union(*(_row_measures(d) for d in docs))
    return sorted(f"{n} {u}" for n, u in _measures(answer) if (n, u) not in known)


def cited_indices(answer: str, docs: Sequence[Document]) -> list[int]:
    """Which rows (0-based) the answer draws on.

    Explicit ``[n]`` markers win; otherwise rows whose name, id or distinctive numbers appear
    in the answer; otherwise the top row (the answer was generated mostly from it).
    """
    explicit = sorted({int(n) - 1 for n in re.findall(r"\[(\d{1,2})\]", answer) if 0 < int(n) <= len(docs)})
    if explicit:
        return explicit
    a_nums = numbers_in(answer)
    hits = rows_named(answer, aliases_of(docs))
    for i, d in enumerate(docs):
        doc_id = normalise(str(d.metadata.get("id", "")))
        price = d.metadata.get("price")
        if (doc_id and doc_id in normalise(answer)) or (
            not hits and isinstance(price, (int, float)) and canon_number(f"{price:.2f}") in a_nums
        ):
            hits.add(i)
    if not hits and a_nums:  # "Teléfono: (02) 245-6789." cites the row holding those numbers
        cover = [len(a_nums & numbers_in(d.page_content)) for d in docs]
        if max(cover, default=0):
            hits.add(cover.index(max(cover)))
    hits = sorted(hits)
    return hits or ([0] if docs else [])


def strip_citation_markers(text: str) -> str:
    return re.sub(r"\s*\[\d{1,2}\]", "", text).strip()


# Words that add nothing to an echo: "Sí, tienen vino." / "Yes, we have a happy hour."
_ECHO_FILLER = {
    "si", "yes", "no", "not", "we", "they", "you", "our", "puede", "puedo", "podem", "tenem", "ofrec", "offer", "sell",
    "sold", "vende", "claro", "sure", "cours", "can", "will", "dont", "doesn", "does", "do", "here", "aqui", "also",
}


def is_echo(answer: str, question: str, docs: Sequence[Document], names: Sequence[str] = ()) -> bool:
    """An answer that only restates the question, in words no row has, cites no catalog fact.

    The small model answers yes/no questions it has no row for by echoing them ("Sí,
    reparan pantallas rotas."); such an answer is not evidence and is treated as "not in
    the catalog". "Sí, lleva huevo." is kept: a row has the word "huevo". ``names``: the
    products the question names; their words are set aside on both sides, so "Yes, the Vitamix
    E310 blender is dishwasher safe." is an echo when no row says "dishwasher".
    """
    named = set().union(*(tokenize(n) for n in names))
    said = set(tokenize(answer)) - _ECHO_FILLER - named
    stated = numbers_in(answer) - set().union(*(numbers_in(n) for n in names))  # "E310" is a name, not a fact
    if (names and not said) or said - set(tokenize(question)) or stated:
        return False
    in_rows = {t for d in docs for t in tokenize(d.page_content)} - named
    return not (said & in_rows)
