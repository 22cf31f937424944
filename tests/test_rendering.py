"""Data never becomes Markdown (``app_pages.components.md``) and downloads never carry formulas.

The escaping is checked with a real CommonMark parser (markdown-it-py, with GFM tables and
strikethrough) and against the patterns Streamlit 1.67's frontend applies to text *after*
parsing (copied from its ``StreamlitMarkdown`` bundle: GFM autolink literals, remark-emoji,
``:material/…:`` icons, ``:streamlit:``), where a backslash escape no longer counts.
"""

from __future__ import annotations

import csv
import html
import io
import re

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from app_pages.components import WORD_JOINER, md, md_stream
from tools.export import FORMULA_START, safe_csv_bytes

EVIL = {
    "image": "![t](https://example.com/beacon.png)",
    "link": "[Pay here](https://pay.example.com/now) or [ref][1]\n[1]: https://evil.example.com",
    "backticks": "`price` (USD)",
    "html": '<img src=x onerror="alert(1)"> <b>bold</b> <!-- c -->',
    "latex": "$x$ off: was $799 … now $$y$$",
    "emphasis": "**50%** _off_ *today* ~~old~~ ~one~ __u__",
    "blocks": "# Head\n## Sub\n> quote\n- item\n+ plus\n* star\n1. first\n2) second\nSetext\n===\n---",
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "directives": ":red[Sale] :small[x] :blue-badge[new] Colour:help :shimmer[…]",
    "shortcodes": ":smile: :+1: :material/home: :streamlit: :fire:",
    "autolinks": "www.evil.com https://evil.com ftp://evil.com me@evil.com <https://evil.com>",
    "entities": "&lt;b&gt; &#91;x&#93; &amp; &copy;",
    "backslash": "C:\\path\\ \\*not bold\\* end\\",
}

PARSER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

# What Streamlit 1.67's frontend looks for in text nodes after parsing (StreamlitMarkdown.js).
AFTER_PARSE = {
    "url": re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.I),
    "email": re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)"),
    "emoji": re.compile(r":\+1:|:-1:|:[\w-]+:", re.A),
    "streamlit": re.compile(r":streamlit:"),
}


def visible(markdown: str) -> tuple[set[str], str]:
    """The HTML tags CommonMark makes of ``markdown``, and the text a reader sees."""
    out = PARSER.render(markdown)
    tags = set(re.findall(r"<(\w+)", out)) - {"p", "br"}
    text = re.sub(r"<br />\n", "\n", out).replace("<p>", "").replace("</p>", "")
    return tags, html.unescape(text).strip()


def test_md_examples_word_for_word():
    assert md("$799 … $999") == "\\$799 … \\$999"
    assert md(EVIL["image"]) == f"!\\[t\\](https:{WORD_JOINER}//example.com/beacon.png)"
    assert md("`price` (USD)") == "\\`price\\` (USD)"
    assert md("<img src=x>") == "\\<img src=x>"
    assert md("- a\n1. b") == "\\- a  \n1\\. b"
    assert md(":red[x] Colour:help :smile:") == f"\\:red\\[x\\] Colour\\:help :{WORD_JOINER}smile:"
    assert md("me@shop.com www.shop.com") == f"me@{WORD_JOINER}shop.com www{WORD_JOINER}.shop.com"
    # Ordinary catalog text keeps its look: prices, times, ids, dashes, ampersands, colons before a space.
    for text in ("iPhone 15 — 799.00", "10:00-14:00", "Price: 5", "TS-PHN-001", "Dolce & Gabbana", "a -> b (c)"):
        assert md(text) == text


@pytest.mark.parametrize("name", EVIL)
def test_escaped_text_renders_as_written_with_no_markup(name):
    text = EVIL[name]
    escaped = md(text)
    tags, seen = visible(escaped)
    assert tags == set(), (escaped, tags)  # no <a>, <img>, <code>, <em>, <h1>, <li>, <table>, <del>, raw HTML…
    assert seen.replace(WORD_JOINER, "") == text.strip()
    for kind, pattern in AFTER_PARSE.items():
        assert not pattern.search(seen), (kind, seen)
    assert ":material/" not in escaped  # Streamlit rewrites this in the raw source, before parsing
    assert not re.search(r"(?<!\\):[A-Za-z]", escaped)  # a directive (:name / :name[...]) starts so
    assert not re.search(r"(?<!\\)\$", escaped)  # Streamlit's LaTeX needs an unescaped $


TOKENS = [*"ab1 \n\t\r:/.@w[]()!`*_$~|<>&#;-+=", "www", "https://", "me@x.co", ":smile:", "  - ", "\n1. "]
TEXT = st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=TEXT, cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6))
@example(text="\r >", cuts=[])  # a carriage return is a line end for both (found by a CI run)
@example(text="a\r\n> b", cuts=[2])  # "\r" | "\n" across two pieces: one line end, not two
def test_streamed_pieces_are_escaped_exactly_like_the_whole_text(text, cuts):
    bounds = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True)]
    assert "".join(md_stream(pieces)) == md(text)


def test_csv_download_writes_formula_cells_as_text():
    df = pd.DataFrame({
        "id": ["A-1", "A-2", "A-3", "A-4", "A-5", "A-6", "A-7", "A-8"],
        "=HYPERLINK(\"http://x\")": [f"{c}cmd|' /C calc'!A0" for c in FORMULA_START] + ["'=already text", "plain"],
        "price": [-5.0, 1, 2, 3, 4, 5, None, 7],
    })
    data = safe_csv_bytes(df)
    assert data.startswith("\ufeff".encode())  # Excel reads the accents of UTF-8 with a BOM
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["id", "'=HYPERLINK(\"http://x\")", "price"]
    assert [r[1] for r in rows[1:]] == [f"'{c}cmd|' /C calc'!A0" for c in FORMULA_START] + ["'=already text", "plain"]
    assert [r[2] for r in rows[1:]] == ["-5.0", "1.0", "2.0", "3.0", "4.0", "5.0", "", "7.0"]  # numbers stay numbers
