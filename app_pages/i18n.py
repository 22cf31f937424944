"""The app's own words in English and Spanish: ``t("ask.title")``, chosen per session.

Every text a page writes lives in one file per language, ``app_pages/locales/<lang>.toml`` (one table
per page; ``[ask] title = "…"`` is the key ``ask.title``). Both files hold the same keys with the same
``{placeholders}`` (tests/test_i18n.py checks it); a literal brace is written ``{{``. A list of two
strings is a count-dependent text for :func:`tn` (one, other).

The language of a session is the browser's (``st.context.locale``: ``es-*`` is Spanish, anything else
or unknown is English) until the sidebar switch picks one; the pick stays for the session. Answers
are not translated here: they follow the question's language (``rag.lexicon``).

Escaping stays the caller's job, as without translations: the texts are ours (Markdown allowed), the
values put into their placeholders are data, so a page passes ``md(value)``, or escapes the whole
result with ``md(t(...))`` when the text has no Markdown of its own.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import streamlit as st

from rag.errors import AssistantError

LANGUAGES = {"en": "English", "es": "Español"}  # each shown in its own language in the switch
DEFAULT = "en"
LOCALES = Path(__file__).resolve().parent / "locales"
STATE_KEY = "ui_language"  # the session's language; kept apart from the widget's key, which Streamlit
_SWITCH_KEY = "ui_language_switch"  # forgets on a run that does not draw it (the staff PIN form)
ERRORS = "errors."  # the table of translated core errors (AssistantError.key); English is the core's own


@functools.cache
def catalog(lang: str) -> dict[str, str | list[str]]:
    """All texts of ``lang`` by dotted key, read once per process."""
    with (LOCALES / f"{lang}.toml").open("rb") as f:
        return dict(_flatten(tomllib.load(f)))


def _flatten(table: dict, prefix: str = ""):
    for name, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def language_for_locale(locale: str | None) -> str:
    """The UI language for a browser language tag: 'es-MX' -> 'es'; 'en-GB', 'de-DE', '' or None -> 'en'."""
    primary = (locale or "").replace("_", "-").split("-")[0].strip().lower()
    return primary if primary in LANGUAGES else DEFAULT


def language() -> str:
    """This session's UI language: the switch's pick, else the browser's (read on the session's first run)."""
    lang = st.session_state.get(STATE_KEY)
    if lang not in LANGUAGES:
        lang = st.session_state[STATE_KEY] = language_for_locale(st.context.locale)
    return lang


def t(key: str, /, **params: object) -> str:
    """The text ``key`` in this session's language, its ``{placeholders}`` filled from ``params``."""
    return str(catalog(language())[key]).format(**params)


def template(key: str, /) -> str:
    """The text ``key`` unformatted, to fill later (a progress callback the core calls once per step)."""
    return str(catalog(language())[key])


def t_known(key: str, fallback: str, /) -> str:
    """The text ``key`` when the catalog has it, else ``fallback``: for names that may be ours or data
    (a sentiment label is ours, a fine-tuned model's own label is data and shown as written)."""
    return str(catalog(language()).get(key, fallback))


def tn(key: str, n: int, /, **params: object) -> str:
    """A count-dependent text: the first form when ``n`` is 1, else the second; ``{n}`` is the count."""
    one, other = catalog(language())[key]
    return (one if n == 1 else other).format(n=n, **params)


def error_text(exc: AssistantError) -> str:
    """A core error in the UI language when it carries a translated ``key``; otherwise its (English) message."""
    text = catalog(language()).get(f"{ERRORS}{exc.key}") if getattr(exc, "key", None) else None
    return str(text).format(**exc.params) if text is not None else str(exc)


def _switched() -> None:
    st.session_state[STATE_KEY] = st.session_state[_SWITCH_KEY]


def language_switch() -> None:
    """The sidebar's language picker (drawn on every page, before any gate, so the PIN form can be read)."""
    st.session_state[_SWITCH_KEY] = language()
    st.segmented_control(t("sidebar.language"), list(LANGUAGES), format_func=LANGUAGES.__getitem__,
                         key=_SWITCH_KEY, required=True, on_change=_switched)
