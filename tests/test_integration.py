"""End to end with the real models: sample catalogs -> e5 + Chroma -> Qwen2.5 1.5B (llama.cpp).

Each case states what a correct answer must contain (facts from the sample catalogs) and
which row must be cited. Phrasing is free; facts, language and refusals are not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.chain import ask
from rag.prompts import detect_language, normalise

from .conftest import ROOT

# (store, question, strings of which at least one must appear, id that must be among the cited rows)
FACTS = [
    ("techstore", "How much RAM does the MacBook Pro have?", ["16gb", "16 gb"], "TS-LAP-001"),
    ("techstore", "How much does the iPhone 15 cost?", ["799"], "TS-PHN-001"),
    ("techstore", "¿Cuánto cuesta el iPhone 15 Pro?", ["999"], "TS-PHN-002"),
    ("techstore", "What colors does the iPhone 15 come in?", ["pink"], "TS-PHN-001"),
    ("techstore", "Does the AirPods Pro have noise cancellation?", ["noise", "anc", "yes"], "TS-ACC-001"),
    ("techstore", "¿Cuál es la garantía de los productos?", ["1 año", "un año", "1 year", "2 años", "dos años"], "policies#warranty"),
    ("techstore", "¿Qué laptop me recomiendas para programar?", ["macbook", "thinkpad", "xps", "zenbook", "spectre"], None),
    ("techstore", "Which laptops are under $1,000?", ["449", "579", "649"], "TS-LAP-014"),
    ("techstore", "what is TS-ACC-003?", ["20w", "20 w", "adapter", "adaptador", "charger", "cargador"], "TS-ACC-003"),
    ("bella-italia", "¿Tienen opciones vegetarianas?", ["margherita", "caprese", "risotto", "fettuccine", "ravioli", "tiramis"], None),
    ("bella-italia", "¿Hacen delivery?", ["5 km", "domicilio", "reparto", "delivery"], "info#delivery"),
    ("bella-italia", "¿Cuánto cuesta la Lasaña de la Casa?", ["18"], "BI-012"),
    ("bella-italia", "How much is the Spaghetti Carbonara?", ["15"], "BI-011"),
    ("bella-italia", "Is the carbonara vegetarian?", ["no"], "BI-011"),
    ("bella-italia", "¿A qué hora abren los domingos?", ["a las 12:00"], "info#horario"),  # was the closing time
    ("bella-italia", "Are you open on Monday?", ["closed"], "info#horario"),  # over a Spanish "Lunes: cerrado."
    ("bella-italia", "¿Cuál es la pasta más barata?", ["arrabbiata"], "BI-015"),
]

REFUSALS = [
    ("techstore", "How much is the Samsung Galaxy S24?"),
    ("techstore", "Do you sell the PlayStation 5?"),
    ("bella-italia", "¿Tienen sushi?"),
    ("bella-italia", "¿Cuántas calorías tiene la pizza margherita?"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("store", "question", "any_of", "cited"), FACTS)
def test_answers_state_catalog_facts_in_the_question_language(chains, store, question, any_of, cited):
    ans = ask(chains[store], question)
    text = normalise(ans.answer)
    assert not ans.refused, f"refused: {ans.answer}"
    assert any(normalise(s) in text for s in any_of), f"{ans.answer!r} lacks any of {any_of}"
    if cited:
        assert cited in [d.id for d in ans.sources], f"{cited} not cited; cited {[d.id for d in ans.sources]}"
    assert ans.sources, "an answer must cite the rows it came from"
    assert ans.ungrounded == [], f"numbers not in any cited row: {ans.ungrounded}"
    assert detect_language(ans.answer) == detect_language(question), f"answered in the wrong language: {ans.answer!r}"


@pytest.mark.slow
@pytest.mark.parametrize(("store", "question"), REFUSALS, ids=[q for _, q in REFUSALS])
def test_out_of_catalog_questions_are_refused_plainly(chains, store, question):
    ans = ask(chains[store], question)
    assert ans.refused, f"should refuse, answered: {ans.answer!r}"
    assert ans.sources == []
    lang = detect_language(question)
    assert ("catálogo" if lang == "es" else "catalog") in ans.answer


@pytest.mark.slow
def test_stores_never_answer_from_each_other(chains):
    ans = ask(chains["techstore"], "How much is the Spaghetti Carbonara?")
    assert ans.refused or all(d.id.startswith(("TS-", "policies#")) for d in ans.sources)
    assert all(d.id.startswith(("TS-", "policies#")) for d in ans.retrieved)


@pytest.mark.slow
def test_reingesting_the_samples_adds_nothing(session_settings, sample_index):
    from ingest.pipeline import run

    reports = run(settings=session_settings)
    assert {r.store for r in reports} == {"techstore", "bella-italia"}
    for r in reports:
        assert (r.added, r.updated, r.removed, r.embedded) == ([], {}, [], 0)
        assert r.unchanged > 40


@pytest.mark.slow
def test_cli_ask_json(session_settings, sample_index):
    env = {"CATALOG_DATA_DIR": str(session_settings.data_dir), "CATALOG_MODEL_DIR": str(session_settings.model_cache_dir),
           "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "rag", "ask", "--json", "--store", "bella-italia", "¿Cuánto cuesta la Pizza Margherita?"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert set(data) >= {"answer", "refused", "sources", "timings"}
    assert "14" in data["answer"] and data["refused"] is False
    assert data["sources"][0]["id"] == "BI-020" and data["sources"][0]["name"] == "Pizza Margherita"
    assert {"retrieval_s", "first_token_s", "total_s"} <= set(data["timings"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "The question is empty"),
        (["ask", "x" * 20_000], "The question is 20,000 characters long"),
        (["ask", "--store", "no-such-store", "hola"], "The store 'no-such-store' has no index yet"),
    ],
)
def test_cli_bad_input_exits_nonzero_with_a_message(session_settings, sample_index, args, message):
    env = {"CATALOG_DATA_DIR": str(session_settings.data_dir), "CATALOG_MODEL_DIR": str(session_settings.model_cache_dir),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert message in out.stderr


@pytest.mark.slow
def test_a_question_can_be_searched_in_the_catalogs_language(session_settings, sample_index, embeddings, llm):
    """translate_questions=true: the model translates the question into the menu's Spanish before the search;
    the answer stays in English and comes from the row."""
    from rag.claims import wrong_language
    from rag.factory import build_store_chain
    from rag.translate import Translator

    spanish = Translator(llm)("Do you have the salmon with lemon?", "es")
    assert detect_language(spanish) == "es" and "salm" in normalise(spanish) and "limon" in normalise(spanish)
    settings = session_settings.model_copy(update={"translate_questions": True})
    chain = build_store_chain(settings, sample_index, embeddings, llm, "bella-italia")
    ans = ask(chain, "Do you have the salmon with lemon?")
    assert ans.searched_as == spanish and ans.to_dict()["searched_as"] == spanish
    assert not ans.refused and "BI-033" in [d.id for d in ans.sources]
    assert wrong_language(ans.answer, "en", ans.question, ans.sources) is None, ans.answer  # names are Spanish, the rest English
    plain = build_store_chain(session_settings.model_copy(update={"bilingual_dictionary": None}), sample_index,
                              embeddings, llm, "bella-italia")
    assert ask(plain, "Do you have the salmon with lemon?").searched_as == ""  # off by default


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/share/apertium/apertium-eng-spa/eng-spa.autobil.bin").is_file(),
                    reason="apertium-eng-spa is not installed (sudo apt install apertium-eng-spa)")
def test_an_english_question_finds_the_spanish_menus_word_through_the_dictionary(session_settings, sample_index,
                                                                                  embeddings, llm):
    """"How much is the chicken parmesan?" shares no word with "Pollo a la Parmesana" but "parmesan": the dictionary
    adds the menu's "pollo", and the price comes from that row (by default; rag.bridge)."""
    from rag.factory import build_store_chain

    chain = build_store_chain(session_settings, sample_index, embeddings, llm, "bella-italia")
    ans = ask(chain, "How much is the chicken parmesan?")
    assert "pollo" in ans.searched_as and not ans.refused, ans
    assert "19" in ans.answer and ans.sources[0].id == "BI-029", ans.answer
    assert ask(chain, "Do you have sushi?").refused  # nothing in the menu to bridge to
