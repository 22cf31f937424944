"""Text helpers shared by retrieval, prompts and the exact-answer rules (pure functions)."""

from __future__ import annotations

import re
import unicodedata


def normalise(text: str) -> str:
    """Lower-case, accents removed (so 'garantía' matches 'garantia')."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


PREFIX_LEN = 5  # crude stemming + typo tolerance: "vegetarianas"/"vegetarian" -> "veget", "iphon" ~ "iphone"
STOPWORDS = {
    "the", "a", "an", "of", "for", "and", "or", "is", "are", "do", "does", "you", "have", "has", "what", "which",
    "how", "much", "many", "in", "on", "with", "to", "it", "i", "me", "your", "any", "can", "there",
    "el", "la", "los", "las", "de", "del", "y", "o", "que", "es", "son", "un", "una", "en", "con", "para", "por",
    "mi", "tu", "se", "lo", "al", "hay", "tienen", "tiene", "cual", "cuanto", "cuanta", "como",
}


def tokenize(text: str) -> list[str]:
    """Accent-free lower-case word prefixes without stopwords; ids like TS-LAP-001 kept whole too."""
    norm = normalise(text)
    words = re.findall(r"[a-z0-9]+", norm)
    tokens = [w[:PREFIX_LEN] for w in words if w not in STOPWORDS]
    tokens += re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", norm)  # hyphenated codes as one token
    return tokens


def phrase(text: str) -> str:
    """Words only, normalised and space-separated: '"MacBook Pro 14\" M2"' -> 'macbook pro 14 m2'."""
    return " ".join(re.findall(r"[a-z0-9]+", normalise(text)))


def head_and_lines(text: str) -> tuple[str, list[str]]:
    """A document's first non-empty line (its name or heading) and the other non-empty lines, stripped."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[0], lines[1:]) if lines else ("", [])


def phrase_key(text: str) -> str:
    """A phrase with each word cut to its prefix, so a name matches through typos and plurals at the
    end of a word: 'cuanto cuesta el iphon 15' contains the key of 'iPhone 15' ('iphon 15')."""
    return " ".join(w[:PREFIX_LEN] for w in phrase(text).split())


_PARENS = re.compile(r"\([^)]*\)?")
_GENERATION = re.compile(r"\s+(gen\s*\d+|\d+(st|nd|rd|th)\s+gen(eration)?)\s*$")


def name_aliases(name: str, brand: str = "") -> set[str]:
    """How staff say a product's name: in full, without the parenthetical, brand or generation.

    "Lenovo ThinkPad X1 Carbon Gen 11" is asked about as "ThinkPad X1 Carbon", "iPad mini
    (6th generation)" as "iPad mini", "AirPods Pro (2nd generation)" as "AirPods Pro".
    """
    full = phrase(name)
    bare = phrase(_PARENS.sub(" ", normalise(name)))
    out = {full, bare, _GENERATION.sub("", full), _GENERATION.sub("", bare)}
    b = phrase(brand)
    if b:
        out |= {a[len(b) + 1:] for a in out if a.startswith(b + " ")}
    return {a for a in out if len(a) >= 3 and (" " in a or any(c.isdigit() for c in a) or a == full)}
