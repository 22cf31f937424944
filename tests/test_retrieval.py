"""Retrieval on the real sample index (real e5, real Chroma); no LLM, so these run fast."""

from __future__ import annotations

from dataclasses import replace

import pytest
from langchain_core.documents import Document

from rag.direct import direct_answer
from rag.money import Money
from rag.query import Query, StoreFacts
from rag.evaluate import answer_correct, EvalItem, load_items, retrieval_ranks, score
from rag.factory import build_retriever
from rag.filters import QueryFilter, matches, parse_filters
from rag.prompts import detect_language

USD = StoreFacts(Money("USD", "en"))  # the techstore sample prices in dollars (as its policies say)

from .conftest import DATA


@pytest.fixture(scope="module")
def retrievers(session_settings, sample_index, embeddings):
    return {s: build_retriever(session_settings, sample_index, embeddings, s) for s in ("techstore", "bella-italia")}


@pytest.mark.parametrize(
    ("store", "question", "first"),
    [
        ("techstore", "What colors does the iPhone 15 come in?", "TS-PHN-001"),  # full name beats "Case for iPhone 15"
        ("techstore", "what is TS-ACC-003?", "TS-ACC-003"),  # exact SKU always first
        ("techstore", "cuanto cuesta el iphon 15", None),  # typo: must still be in the top rows
        ("bella-italia", "¿Cuál es la pasta más barata?", "BI-015"),  # cheapest in a category
        ("bella-italia", "Is the carbonara vegetarian?", "BI-011"),  # named dish, not a vegetarian list
    ],
)
def test_the_right_row_comes_first(retrievers, store, question, first):
    ids = [d.id for d in retrievers[store].invoke(question)]
    if first:
        assert ids[0] == first, ids
    else:
        assert "TS-PHN-001" in ids, ids


def test_asked_concept_pulls_in_the_policy_section(retrievers):
    ids = [d.id for d in retrievers["techstore"].invoke("How long is the warranty on a Lenovo laptop?")]
    assert "policies#warranty" in ids


def test_filtered_list_contains_only_matching_rows(retrievers):
    r = retrievers["techstore"]
    docs = r.invoke("Which laptops are under $1,000?")
    laptops = [d for d in docs if d.metadata.get("category") == "Laptops"]
    assert len(laptops) == 6
    assert all(d.metadata["price"] <= 1000 for d in docs)
    meaning = r.interpret("Which laptops are under $1,000?")
    assert meaning.list_question and meaning.matching == 6
    answer = direct_answer(Query("", "en", tuple(docs), meaning, USD))
    assert answer.text.splitlines()[0] == "From the catalog (Laptops, price ≤ $1,000.00):"
    assert answer.text.splitlines()[1] == "- Lenovo IdeaPad Slim 3 15 — $449.00"
    assert len(answer.cited) == 6


def test_dietary_list_is_complete_and_counted(retrievers):
    r = retrievers["bella-italia"]
    q = "¿Tienen opciones vegetarianas?"
    docs, meaning = r.invoke(q), r.interpret(q)
    assert all(matches(d, QueryFilter(tags=("vegetarian",))) for d in docs)
    answer = direct_answer(Query("", "es", tuple(docs), meaning, USD))
    assert answer.text.startswith("Opciones del catálogo (vegetariano):\n- Sorbete de Limón — $5.00")
    assert answer.text.endswith(f"… y {meaning.matching - 12} más.")


def test_named_dish_yes_no_uses_its_own_tags(retrievers):
    r = retrievers["bella-italia"]
    for q, expected in [("Is the carbonara vegetarian?", "No, “Spaghetti Carbonara” is not vegetarian according to the catalog."),
                        ("¿La Pizza Margherita es vegetariana?", "Sí, «Pizza Margherita» es vegetariano según el catálogo. "
                                                                 "Descripción: ")]:
        meaning = r.interpret(q)
        docs = r.focus(r.invoke(q), meaning)
        assert direct_answer(Query(q, "en" if q.startswith("Is") else "es", tuple(docs), meaning, USD)).text.startswith(expected)


def test_focus_keeps_only_the_named_product(retrievers):
    r = retrievers["techstore"]
    q = "How much does the iPhone 15 cost?"
    docs = r.focus(r.invoke(q), r.interpret(q))
    assert [d.id for d in docs] == ["TS-PHN-001"]


def test_vector_mode_is_the_plain_baseline(session_settings, sample_index, embeddings):
    r = build_retriever(session_settings.model_copy(update={"retrieval": "vector"}), sample_index, embeddings, "techstore")
    assert len(r.invoke("Which laptops are under $1,000?")) == session_settings.top_k
    assert r.interpret("anything") .filter == QueryFilter()


@pytest.mark.parametrize("store", ["techstore", "bella-italia"])
def test_dev_set_retrieval_recall(retrievers, store):
    """The shipped dev sets: every gold row is found in the top 10, nearly all in the top 5."""
    from rag.evaluate import evaluate

    result = evaluate(load_items(DATA / f"dev_{store}.jsonl"), retrievers[store])
    assert result["metrics"]["recall@10"] == 1.0
    assert result["metrics"]["recall@5"] >= 0.95


def test_parse_filters():
    cats = {"Laptops", "Pastas"}
    f = parse_filters("Which laptops are under $1,000?", cats)
    assert (f.max_price, f.categories, f.wants_list) == (1000.0, ("Laptops",), True)
    assert parse_filters("¿platos sin gluten por menos de 15 dólares?", cats).tags == ("gluten-free",)
    assert parse_filters("¿platos sin gluten por menos de 15 dólares?", cats).max_price == 15.0
    assert parse_filters("¿Cuál es la pasta más barata?", cats).sort == "asc"
    assert parse_filters("opciones veganas", cats).tags == ("vegan",)
    assert parse_filters("How much is the iPhone 15?", cats) == QueryFilter()


def test_eval_scoring_is_exact():
    item = EvalItem("q", gold_ids=["A"], expect_any=["799", "$799"], expect_all=["iPhone"])
    assert answer_correct(item, "The iPhone 15 costs $799.", False)
    assert not answer_correct(item, "The iPhone 15 costs $999.", False)
    assert not answer_correct(item, "It costs $799.", False)
    assert not answer_correct(item, "Sorry, that is not in the catalog.", True)
    assert answer_correct(EvalItem("q", refuse=True), "Sorry", True)
    assert retrieval_ranks(["B"], ["A", "B"]) == 2 and retrieval_ranks(["Z"], ["A"]) is None
    rows = [
        {"gold_ids": ["A"], "rank": 1, "refuse": False, "correct": True, "refused": False, "ungrounded": [], "timings": {"total_s": 1.0}},
        {"gold_ids": ["B"], "rank": 6, "refuse": False, "correct": False, "refused": True, "ungrounded": [], "timings": {"total_s": 3.0}},
        {"gold_ids": [], "rank": None, "refuse": True, "correct": True, "refused": True, "ungrounded": [], "timings": {"total_s": 2.0}},
    ]
    m = score(rows)
    assert (m["recall@1"], m["recall@5"], m["recall@10"], m["mrr"]) == (0.5, 0.5, 1.0, round((1 + 1 / 6) / 2, 3))
    assert (m["answer_accuracy"], m["refusal_recall"], m["false_refusals"]) == (0.5, 1.0, 0.5)
    assert m["total_s_p50"] == 2.0 and m["numbers_grounded"] == 1.0 and m["withheld"] == 0.0
    withheld = {"gold_ids": [], "rank": None, "refuse": False, "correct": False, "refused": True, "ungrounded": ["9"], "timings": {}}
    stated_wrong = {**rows[0], "ungrounded": ["7"]}
    m = score([rows[0], stated_wrong, withheld])
    assert (m["numbers_grounded"], m["withheld"]) == (0.5, round(1 / 3, 3))


def test_eval_file_errors_name_the_line(tmp_path):
    from rag.errors import CatalogFileError

    f = tmp_path / "set.jsonl"
    f.write_text('{"question": "ok"}\n{"question": \n', encoding="utf-8")
    with pytest.raises(CatalogFileError, match=r"set.jsonl, line 2: not valid JSON"):
        load_items(f)


def test_direct_answer_is_none_for_open_questions():
    docs = [Document(id="x", page_content="X", metadata={"name": "X", "price": 1.0})]
    from rag.retrieval import Interpretation

    assert direct_answer(Query("", "en", tuple(docs), Interpretation(filter=QueryFilter()))) is None
    assert direct_answer(Query("", "en", tuple(docs), None)) is None


def test_stock_question_about_a_named_product_is_answered_from_the_stock_field(retrievers):
    r = retrievers["techstore"]
    q = "¿Tienen en stock el Samsung Galaxy A54?"
    meaning = r.interpret(q)
    answer = direct_answer(Query(q, "es", tuple(r.focus(r.invoke(q), meaning)), meaning, USD))
    assert answer.text == "No, «Samsung Galaxy A54 5G» está agotado (0 en stock)."
    assert answer.cited == ("TS-PHN-006",)


def test_unknown_model_code_is_flagged(retrievers):
    assert retrievers["techstore"].interpret("What's the price of the Samsung Galaxy S24?").unknown_codes == ("s24",)
    assert retrievers["techstore"].interpret("How much is the Galaxy A54?").unknown_codes == ()


@pytest.mark.parametrize(("store", "question", "named"), [
    ("techstore", "How big is the screen on the iPad mini?", ["TS-TAB-004"]),  # without "(6th generation)"
    ("techstore", "Which has more RAM, the ThinkPad X1 Carbon or the ThinkPad T14?", ["TS-LAP-004", "TS-LAP-005"]),
    ("techstore", "How much is the iPhone 15 Pro?", ["TS-PHN-002"]),  # not also the iPhone 15
    ("techstore", "How much are the AirPods Pro?", ["TS-ACC-001"]),
])
def test_products_are_named_the_way_staff_say_them(retrievers, store, question, named):
    assert list(retrievers[store].interpret(question).full_name_ids) == named


def _direct(r, question, language):
    docs, meaning = r.retrieve(question)
    return direct_answer(Query(question, language, tuple(r.focus(docs, meaning)), meaning, USD))


def test_price_comparison_and_total_come_from_the_rows(retrievers):
    r = retrievers["techstore"]
    cmp = _direct(r, "¿Qué es más barato, el iPhone 15 o el Google Pixel 8?", "es")
    assert cmp.text == "«Google Pixel 8» es más barato: $649.00, frente a «iPhone 15» ($799.00)."
    assert set(cmp.cited) == {"TS-PHN-001", "TS-PHN-007"}
    total = _direct(r, "How much would an iPhone 15 plus AirPods Pro cost together?", "en")
    assert total.text == "Together: $1,048.00 — iPhone 15 ($799.00) + AirPods Pro (2nd generation) ($249.00)."
    # quantities are not guessed: left to the model
    assert _direct(r, "How much would two iPhone 15 plus AirPods Pro cost together?", "en") is None


def test_do_you_have_a_kind_of_product_lists_the_rows_of_that_kind(retrievers):
    watches = _direct(retrievers["techstore"], "What smartwatches do you sell?", "en")
    assert watches.text.startswith("In the catalog:\n") and set(watches.cited) == {"TS-ACC-013", "TS-ACC-014"}
    monitors = _direct(retrievers["techstore"], "¿Tienen monitores 4K?", "es")
    assert monitors.text.startswith("Sí, en el catálogo:\n") and monitors.cited == ("TS-ACC-011",)
    desserts = _direct(retrievers["bella-italia"], "¿Qué postres tienen?", "es")
    assert len(desserts.cited) == 6
    # no row name has the asked word (Spanish over English names): the model reads the rows
    assert _direct(retrievers["techstore"], "¿Tienen auriculares?", "es") is None


def test_recommendations_quote_the_rows_whose_description_fits_the_need(retrievers):
    r = retrievers["techstore"]
    video = _direct(r, "Which laptop would you recommend for video editing?", "en")
    assert video.text.startswith("From the catalog, for that:\n") and set(video.cited) == {"TS-LAP-001", "TS-LAP-006"}
    assert "Ideal for video editing" in video.text
    gaming = _direct(r, "Do you have any laptop good for gaming?", "en")
    assert gaming.cited == ("TS-LAP-010",)
    # a need no description states in the question's words (Spanish over English rows): left to the model
    assert _direct(r, "¿Qué teléfono me recomiendas para mi abuela?", "es") is None
    # the words a dictionary added for a Spanish question (rag.bridge) are no need: "cheap" and "battery" would pick
    # the tablet whose description says them for "un teléfono barato con buena batería"
    tablet = Document(id="t", page_content="Fire HD 10", metadata={"id": "t", "name": "Amazon Fire HD 10", "kind": "row",
                      "category": "Tablets", "price": 139.99, "description": "Our cheapest tablet, 13h battery."})
    asked = "¿Me recomiendas un teléfono barato con buena batería? cheap good battery"
    q = Query(asked, "es", (tablet,), r.interpret(asked), StoreFacts())
    assert direct_answer(q) is not None and direct_answer(replace(q, bridged=("cheap", "good", "battery"))) is None


def test_a_spanish_recommendation_never_quotes_english_descriptions(retrievers):
    """'programar' matches 'programming' in English rows: list the rows, but answer in Spanish (bug from CI)."""
    found = _direct(retrievers["techstore"], "¿Qué laptop me recomiendas para programar?", "es")
    assert found.text.startswith("Según el catálogo, la ficha de estos lo menciona:\n- ")
    assert "TS-LAP-001" in found.cited and "Ideal for" not in found.text
    assert detect_language(found.text) == "es"


def test_ids_and_allergens_are_answered_from_the_row(retrievers):
    assert _direct(retrievers["techstore"], "What is TS-ACC-003?", "en").text.startswith(
        "TS-ACC-003 is “Apple 20W USB-C Power Adapter” ($19.00). A compact wall charger")
    assert _direct(retrievers["techstore"], "How much is TS-ACC-003?", "en").text == "“Apple 20W USB-C Power Adapter” costs $19.00."
    b = retrievers["bella-italia"]
    assert _direct(b, "¿El Tiramisú lleva huevo?", "es").text == "Sí, «Tiramisú» lleva huevo (alérgenos: gluten; huevo; lácteos)."
    assert _direct(b, "Does the tiramisu contain nuts?", "en").text.startswith("Not listed: the allergens of “Tiramisú”")
    assert _direct(b, "¿El Tiramisú lleva cebolla?", "es") is None  # not an allergen: its absence proves nothing


def test_typo_of_a_catalog_word_is_not_an_unknown_subject(retrievers):
    b = retrievers["bella-italia"]
    assert not b.interpret("tienen lasagna?").unknown_subject  # Lasaña
    assert b.interpret("¿Tienen sushi?").unknown_subject


def test_colours_are_listed_as_the_row_writes_them(retrievers):
    r = retrievers["techstore"]
    assert _direct(r, "¿Qué colores tiene el Google Pixel 8?", "es").text == "«Google Pixel 8» viene en: Obsidian, Hazel, Rose."
    assert _direct(r, "Does the iPad mini come in pink?", "en").text.startswith("Yes, “iPad mini (6th generation)” comes in Pink.")
    # price and colours in one question: both, not just the colours
    assert _direct(r, "¿Cuánto cuesta el MacBook Pro 14 y de qué colores lo tienen?", "es").text == \
        "«MacBook Pro 14\" M2» cuesta $1,999.00 y viene en: Space Grey, Silver."


def test_a_typo_in_a_product_name_still_names_it(retrievers):
    """'iphon 15' names the iPhone 15 by its words' prefixes, and not the iPhone 15 Pro."""
    meaning = retrievers["techstore"].interpret("cuanto cuesta el iphon 15")
    assert meaning.full_name_ids == ("TS-PHN-001",)
    assert _direct(retrievers["techstore"], "cuanto cuesta el iphon 15", "es").text == "«iPhone 15» cuesta $799.00."


def test_opening_hours_are_answered_from_the_hours_section(retrievers):
    b = retrievers["bella-italia"]
    monday = _direct(b, "Are you open on Monday?", "en")
    assert (monday.text, monday.cited) == ("No, we are closed on Mondays.", ("info#horario",))
    assert _direct(b, "¿A qué hora abren los domingos?", "es").text == "Los domingos abrimos a las 12:00 y cerramos a las 21:00."
    assert _direct(retrievers["techstore"], "What time do you open on Sunday?", "en").text == \
        "On Sundays we open at 11:00 am and close at 6:00 pm."


def test_allergen_lists_come_from_the_allergen_field(retrievers):
    b = retrievers["bella-italia"]
    avoid = _direct(b, "Tengo alergia a los frutos secos, ¿qué platos debo evitar?", "es")
    assert avoid.text.startswith("Según su lista de alérgenos, llevan frutos secos:\n")
    assert set(avoid.cited) == {"BI-006", "BI-009", "BI-018", "BI-038", "BI-041"}
    free = _direct(b, "¿Qué postres sin huevo tienen?", "es")
    assert free.text.startswith("Opciones del catálogo (Postres, sin huevo):") and "BI-036" not in free.cited  # tiramisú
    # a named dish is still a yes/no from its own list
    assert _direct(b, "¿El Tiramisú lleva huevo?", "es").text.startswith("Sí, «Tiramisú» lleva huevo")


def test_a_filtered_kind_no_row_has_is_left_to_the_policy_that_speaks_of_it(retrievers):
    """No pizza is tagged gluten-free, but 'any pizza on a gluten-free base' is a policy line: no exact list."""
    b = retrievers["bella-italia"]
    assert _direct(b, "Do you have gluten-free pizzas?", "en") is None
    assert b.invoke("Do you have gluten-free pizzas?")[0].id == "info#alergias-e-intolerancias"


def test_section_lines_are_ranked_by_meaning_across_languages(retrievers):
    from rag.prompts import format_rows, prompt_rows

    q = "Are you open on Monday?"
    docs = retrievers["bella-italia"].invoke(q)
    assert docs[0].id == "info#horario" and docs[0].metadata["line_rank"]
    assert "Lunes: cerrado." in format_rows(prompt_rows(docs, q), q)


def test_missing_battery_capacity_is_caught_before_the_model(retrievers):
    from rag.prompts import missing_concepts

    docs = retrievers["techstore"].invoke("What is the battery capacity in mAh of the iPhone 15?")
    assert [c.name["en"] for c in missing_concepts("What is the battery capacity in mAh of the iPhone 15?", docs)] == \
        ["the battery capacity (mAh)"]


def test_a_named_sub_category_is_answered_from_that_level_only():
    """'The cheapest in the yogurt section' must not pick the cheaper milk of the parent category."""
    def row(i, name, cat, sub, price):
        return Document(id=i, page_content=name, metadata={"id": i, "name": name, "kind": "row", "category": cat,
                                                           "subcategoría": sub, "price": price})

    docs = (row("1", "Leche entera", "Lácteos", "Leches", 0.99), row("2", "Yogur natural", "Lácteos", "Yogures", 1.25),
            row("3", "Yogur griego", "Lácteos", "Yogures", 1.89))
    from rag.retrieval import Interpretation

    store = StoreFacts(Money("EUR", "es"), {"category": ("category", "subcategoría")})
    meaning = Interpretation(filter=parse_filters("¿Cuál es el yogur más barato de la sección yogures?", {"Lácteos", "Leches", "Yogures"}))
    answer = direct_answer(Query("¿Cuál es el yogur más barato?", "es", docs, meaning, store))
    assert answer.text == "El producto más barato de Yogures es «Yogur natural», a 1,25 €." and answer.rule == "cheapest"


def _menu():
    def row(i, name, cat, **prices):
        meta = {"id": i, "name": name, "kind": "row", "category": cat, **prices, "price": min(prices.values())}
        return Document(id=i, page_content=name, metadata=meta)

    docs = (row("jamon", "Jamón ibérico", "IBÉRICOS", tapa=4.5, media_tabla=12.5, tabla=22.0),
            row("queso", "Queso payoyo", "QUESOS", media_tabla=8.0, tabla=15.0),
            row("lomo", "Lomo ibérico", "IBÉRICOS", tapa=3.5, tabla=24.0))
    store = StoreFacts(Money("EUR", "es"), {"category": ("category",), "price_option": ("tapa", "media_tabla", "tabla")})
    return docs, store


@pytest.mark.parametrize(("question", "full", "expected"), [
    ("¿Cuánto cuesta el Jamón ibérico?", ("jamon",), "«Jamón ibérico»: tapa 4,50 €, media tabla 12,50 €, tabla 22,00 €."),
    ("¿Cuánto cuesta la media tabla de Jamón ibérico?", ("jamon",), "«Jamón ibérico», media tabla: 12,50 €."),
    ("¿En qué tamaños se sirve el Queso payoyo?", ("queso",), "«Queso payoyo»: media tabla 8,00 €, tabla 15,00 €."),
    ("¿Cuánto cuesta la tapa de Queso payoyo?", ("queso",),
     "«Queso payoyo» no se sirve en tapa; se sirve en: media tabla 8,00 €, tabla 15,00 €."),
    ("¿Cuál es el ibérico más caro?", (), "El producto más caro de IBÉRICOS es «Lomo ibérico», a 24,00 € (tabla)."),
    ("¿Cuál es el ibérico más barato en media tabla?", (), "El producto más barato de IBÉRICOS es «Jamón ibérico», a 12,50 € (media tabla)."),
])
def test_prices_per_portion_or_size(question, full, expected):
    from rag.retrieval import Interpretation

    docs, store = _menu()
    meaning = Interpretation(filter=parse_filters(question, {"IBÉRICOS", "QUESOS"}), named_ids=full, full_name_ids=full)
    assert direct_answer(Query(question, "es", docs, meaning, store)).text == expected


def test_a_question_naming_two_sections_is_about_the_one_it_covers_best():
    from rag.filters import named_sections

    sections = {"AIRE ACONDICIONADO", "Freidora", "TELEVISORES"}
    assert named_sections("¿Cuál es la freidora de aire más barata?", sections) == ("Freidora",)
    assert named_sections("el televisor más barato", sections) == ("TELEVISORES",)
    assert named_sections("¿qué aires acondicionados tienen?", sections) == ("AIRE ACONDICIONADO",)


def test_stock_of_the_row_the_question_names():
    from rag.retrieval import Interpretation

    def row(i, name, stock):
        return Document(id=i, page_content=name, metadata={"id": i, "name": name, "kind": "row", "stock": stock})

    docs = (row("1", "Termotanque Señorial Zafiro 40 eléctrico", 2), row("2", "Termotanque Señorial Zafiro 65 gas", 5))
    q = "¿Cuántas unidades quedan del termotanque Zafiro 40 eléctrico?"
    answer = direct_answer(Query(q, "es", docs, Interpretation(filter=parse_filters(q)), USD))
    assert answer.text == "Sí, quedan 2 unidades de «Termotanque Señorial Zafiro 40 eléctrico»." and answer.rule == "stock"
    box = "¿Cuántas unidades vienen en la caja del termotanque Zafiro 40?"
    assert direct_answer(Query(box, "es", docs, Interpretation(filter=parse_filters(box)), USD)) is None


def test_a_long_name_asked_by_some_of_its_words_gets_its_price_only_when_the_names_match():
    from rag.retrieval import Interpretation

    def row(i, name, price):
        return Document(id=i, page_content=name, metadata={"id": i, "name": name, "kind": "row", "price": price})

    docs = (row("1", "Paellera eléctrica Kanji KJH-PE15005S", 68869.0), row("2", "Pava eléctrica Kanji 1.7 lts", 36989.0),
            row("3", "Heladera Drean HDR300F11 300 lts No Frost", 911099.0))
    ars = StoreFacts(Money("", "es"))

    def ask(q):
        found = direct_answer(Query(q, "es", docs, Interpretation(filter=parse_filters(q)), ars))
        return found.text if found else None

    assert ask("¿Cuánto sale la paellera eléctrica Kanji?") == "«Paellera eléctrica Kanji KJH-PE15005S» cuesta 68.869."
    assert ask("¿Cuánto sale la heladera Gafa de 300 litros?") is None  # another brand: not the Drean's price


def test_amounts_in_a_question_match_a_row_by_value_however_they_are_written():
    from rag.prompts import names_match

    def row(name):
        return Document(id="1", page_content=name, metadata={"id": "1", "name": name, "kind": "row"})

    assert names_match("¿Cuánto sale el lavarropas Drean de 6,5 kg?", row("Lavarropas Drean Next 6.5kg"))
    assert names_match("¿Cuánto sale el termotanque de 125 litros?", row("Termotanque Rheem 125lts"))
    assert names_match("¿Precio del ThinkPad X1?", row("Lenovo ThinkPad X1 Carbon"))
    assert not names_match("¿Cuánto sale el lavarropas Drean de 8 kg?", row("Lavarropas Drean Next 6.5kg"))
    assert not names_match("¿Precio del ThinkPad X13?", row("Lenovo ThinkPad X1 Carbon"))
    assert not names_match("¿Cuánto sale la heladera Gafa de 300 litros?", row("Heladera Drean HDR300F11 300 lts"))


def test_an_abbreviated_row_name_is_still_the_row_the_question_names():
    """Stock exports shorten words: 'Termot. … 40 elec' is the 'termotanque Zafiro 40 eléctrico', not a tie."""
    from rag.prompts import asked_rows, shared_words
    from rag.retrieval import Interpretation

    def row(i, name, stock):
        return Document(id=i, page_content=name, metadata={"id": i, "name": name, "kind": "row", "stock": stock})

    docs = (row("1", "Termot. Señorial Zafiro 40 elec 30lts col. entr. sup.", 4),
            row("2", "Termot. Señorial Zafiro TESZP-20 20lts electrico", 1),
            row("3", "Termot. Señorial Zafiro 65 elec 50lts col. entr. sup.", 2))
    q = "¿Cuántas unidades hay del termotanque Zafiro 40 eléctrico?"
    assert [d.id for d in asked_rows(q, docs)] == ["1"]
    answer = direct_answer(Query(q, "es", docs, Interpretation(filter=parse_filters(q)), USD))
    assert (answer.text, answer.rule) == ("Sí, quedan 4 unidades de «Termot. Señorial Zafiro 40 elec 30lts col. entr. sup.».", "stock")
    # a short row word ("col") or a number ("40" in "400") does not stand for a longer word
    assert shared_words({"colga", "400"}, {"col", "40"}) == 0
    assert shared_words({"elect", "venti"}, {"elec", "vent"}) == 2


def test_a_word_describing_a_named_product_does_not_lift_a_section_above_it():
    """'la paellera eléctrica Kanji' names the paellera (HOGAR); 'eléctrica' does not ask for PAVA ELECTRICA."""
    from rag.retrieval import CatalogRetriever, Interpretation, LexicalIndex

    def row(i, name, cat):
        return Document(id=i, page_content=name, metadata={"id": i, "name": name, "kind": "row", "category": cat})

    lex = LexicalIndex([row("p", "Paellera Kanji Sevilla Electrica", "HOGAR"), row("k", "Pava Kanji Mate", "PAVA ELECTRICA"),
                        row("h", "Horno electrico Kanji 70Lts", "HORNO ELECTRICO")])
    q = "¿Cuánto sale la paellera eléctrica Kanji?"
    meaning = CatalogRetriever._interpret(q, lex)
    assert meaning.named_ids[0] == "p" and meaning.filter.categories == ("HORNO ELECTRICO", "PAVA ELECTRICA")
    assert not CatalogRetriever._sections_asked(q, meaning, lex)
    pavas = "¿Qué pavas eléctricas tienen?"
    assert CatalogRetriever._sections_asked(pavas, CatalogRetriever._interpret(pavas, lex), lex)
    assert CatalogRetriever._sections_asked(q, Interpretation(filter=meaning.filter), lex)  # no product named


def test_a_row_named_by_a_word_must_carry_the_brand_the_question_writes():
    """'el hervidor eléctrico Liliana' is no Kanji 'Hervidora': the Liliana pava is not hidden behind it."""
    from rag.retrieval import CatalogRetriever, LexicalIndex

    def row(i, name, cat):
        return Document(id=i, page_content=name, metadata={"id": i, "name": name, "kind": "row", "category": cat})

    lex = LexicalIndex([row("k", "Pava Kanji KJH-PE15005S Hervidora alum/plast", "PAVA ELECTRICA"),
                        row("l", "Pava Liliana AP992N digital 1.5lts", "PAVA ELECTRICA"), row("s", "Sandwichera Liliana AS989", "HOGAR")])
    assert CatalogRetriever._interpret("¿Qué precio tiene el hervidor eléctrico Liliana?", lex).named_ids == ("l", "s")
    assert CatalogRetriever._interpret("¿Qué precio tiene el hervidor eléctrico Kanji?", lex).named_ids == ("k",)
    assert CatalogRetriever._interpret("¿qué precio tiene el hervidor?", lex).named_ids == ("k",)  # no brand written


def test_a_one_word_name_is_named_by_its_word_not_by_a_shorter_one_with_its_prefix():
    """'queso payoyo de cabra' does not name the Cabrales ('cabra' and 'cabrales' share their first 5 letters)."""
    from rag.retrieval import LexicalIndex

    def row(i, name):
        return Document(id=i, page_content=name, metadata={"id": i, "name": name, "kind": "row", "category": "QUESOS"})

    lex = LexicalIndex([row("c", "Cabrales"), row("p", "Queso payoyo cabra"), row("i", "iPhone"), row("q", "Croqueta")])
    assert lex.full_names("precio del quesso payoyo de cabra en media tabla") == []
    assert lex.full_names("¿Cuánto cuesta el Cabrales?") == [0]
    assert lex.full_names("¿Cuánto cuesta el cabral?") == [0]  # a typo at the end still names it
    assert lex.full_names("how much is the iphon") == [2] and lex.full_names("¿tienen croquetas?") == [3]


def test_a_section_named_in_full_is_asked_for_even_when_a_product_shares_a_word():
    """'the cheapest gaming laptop' asks for the Gaming section, not for the 'Surface Laptop'."""
    from rag.retrieval import CatalogRetriever, LexicalIndex

    def row(i, name, cat, price):
        return Document(id=i, page_content=name, metadata={"id": i, "name": name, "kind": "row", "category": cat, "price": price})

    lex = LexicalIndex([row("s1", "Surface Laptop", "Ultrabook", 1100.0), row("s2", "Surface Laptop", "Ultrabook", 1300.0),
                        row("g1", "FX550IK-DM018T", "Gaming", 699.0), row("g2", "Inspiron 5577", "Gaming", 879.0)])
    q = "Which is the cheapest gaming laptop?"
    meaning = CatalogRetriever._interpret(q, lex)
    assert meaning.named_ids[:1] == ("s1",) and meaning.filter.categories == ("Gaming",)
    assert CatalogRetriever._sections_asked(q, meaning, lex)
    # a dish named by several of its words keeps its place: "ibérico" describes it
    dish = LexicalIndex([row("t", "Tosta de picadillo con crema de payoyo", "SUGERENCIAS", 4.0),
                         row("j", "Jamón de bellota", "IBÉRICOS", 22.0), row("l", "Lomo de bellota", "IBÉRICOS", 19.0)])
    tosta = "¿Cuánto cuesta la tosta de picadillo ibérico con crema de payoyo?"
    assert not CatalogRetriever._sections_asked(tosta, CatalogRetriever._interpret(tosta, dish), dish)


def _snippets():
    def row(i, name, description):
        return Document(id=i, page_content=f"{name}\ndescription: {description}",
                        metadata={"id": i, "name": name, "kind": "row", "description": description})

    return (row("s1", "Shimano SH-M088L Cycling Shoes", "Fits true to size, I wear a 44."),
            row("s2", "Shimano SH-M088L Cycling Shoes", "Cleats are not included, they come with the pedals."),
            row("s3", "Shimano SH-M088L Cycling Shoes", "The soles are stiff enough for long rides."),
            row("g1", "Garmin Edge 530", "The cleats of my old shoes fit the pedals."))


def test_a_yes_no_question_about_one_product_is_answered_with_its_own_words():
    """'Do the X come with cleats?' quotes the snippet that speaks of cleats, never a guessed 'Yes'."""
    from rag.retrieval import Interpretation

    docs = _snippets()
    q = "Do the Shimano SH-M088L cycling shoes come with cleats?"
    answer = direct_answer(Query(q, "en", docs, Interpretation(filter=parse_filters(q)), USD))
    assert answer.rule == "evidence" and answer.cited == ("s2",)
    assert answer.text == ("What the catalog says about “Shimano SH-M088L Cycling Shoes”:\n"
                           "- “Cleats are not included, they come with the pedals.”")


@pytest.mark.parametrize("question", [
    "Do the Shimano SH-M088L cycling shoes come in red?",  # no snippet speaks of it: the model (or a refusal) decides
    "Do you have the Shimano SH-M088L shoes?",  # existence has its own rule
    "Do the Sidi Dragon shoes come with cleats?",  # another product: not these rows' evidence
    "¿Las zapatillas Shimano SH-M088L traen calas?",  # English snippets are not quoted into a Spanish answer
])
def test_no_evidence_is_quoted_when_the_rows_do_not_speak_of_it(question):
    from rag.retrieval import Interpretation

    answer = direct_answer(Query(question, "en", _snippets(), Interpretation(filter=parse_filters(question)), USD))
    assert answer is None or answer.rule != "evidence"


def test_a_portion_is_named_in_the_singular_or_the_plural():
    from rag.direct import asked_option

    keys = ("tapa", "media_tabla", "tabla", "copa", "botella")
    assert asked_option("¿Sirven el Pago Carraovejas por copas?", keys) == "copa"
    assert asked_option("dos medias tablas de lomo", keys) == "media_tabla"  # not "tabla"
    assert asked_option("¿precio de la media tabla de lomo?", keys) == "media_tabla"
    assert asked_option("¿Cuánto cuesta la botella de Cillar de Silos?", keys) == "botella"
    assert asked_option("¿Tienen copas de cristal?", ("tapa",)) is None


def test_the_cheapest_of_a_kind_includes_rows_filed_under_other_sections():
    """Stock exports file fryers under 'Freidora', 'HOGAR' and 'Stock': all are 'Freidora …' by name."""
    from rag.filters import of_kind
    from rag.retrieval import Interpretation

    def row(i, name, cat, price):
        return Document(id=i, page_content=name, metadata={"id": i, "name": name, "kind": "row", "category": cat, "price": price})

    docs = (row("1", "Freidora Steel Home sin aceite 5lts", "Freidora", 114129.0),
            row("2", "Freidora kanji de aire KJHAF1003 2.7lts", "Stock", 56899.0),
            row("3", "Pava Kanji KJH-PE15002M Mate", "Stock", 21989.0))
    q = "¿Cuál es la freidora de aire más barata?"
    meaning = Interpretation(filter=parse_filters(q, {"Freidora", "Stock", "AIRE ACONDICIONADO"}))
    answer = direct_answer(Query(q, "es", docs, meaning, StoreFacts(Money("", "es"))))
    assert answer.text == "El producto más barato de Freidora es «Freidora kanji de aire KJHAF1003 2.7lts», a 56.899."
    assert not of_kind(docs[2], ("Freidora",)) and of_kind(docs[0], ("Freidora",))
    sleeve = Document(id="s", page_content="", metadata={"name": "tomtoc 360 Protective Laptop Sleeve 14\"", "category": "Accessories"})
    assert not of_kind(sleeve, ("Laptops",))  # a sleeve for a laptop is not a laptop


def test_rows_sharing_a_name_are_one_product_for_naming_and_focus():
    """Ten Q&A snippets of 'Cup4Cup … Flour' keep 'Cup4Cup' distinctive, and focus keeps all of them."""
    from rag.retrieval import CatalogRetriever, LexicalIndex

    def row(i, name, description=""):
        return Document(id=i, page_content=f"{name}\n{description}",
                        metadata={"id": i, "name": name, "kind": "row", "description": description})

    flour = [row(f"c{k}", "Cup4Cup Gluten Free Flour, Multipurpose Flour", f"snippet {k} about almond flour") for k in range(6)]
    others = [row("b1", "Bob's Red Mill Gluten Free Flour"), row("b2", "King Arthur Gluten Free Flour")]
    lex = LexicalIndex([*flour, *others])
    assert lex.name_df["cup4c"] == 1
    q = "Does Cup4Cup multipurpose gluten free flour contain almond flour?"
    meaning = CatalogRetriever._interpret(q, lex)
    assert meaning.filter.tags == () and not meaning.list_question and meaning.named_ids[0].startswith("c")
    kept = CatalogRetriever.focus([flour[4], others[0], flour[1]], meaning)
    assert [d.id for d in kept] == ["c4", "c1"]
    # a dietary word that is a filter stays one: no product is named by another word
    assert CatalogRetriever._interpret("Which gluten free flours do you have?", lex).filter.tags == ("gluten-free",)


def test_a_long_quote_without_spaces_is_cut_at_the_limit():
    from rag.direct import QUOTE_CHARS, _quote

    assert _quote("x" * 400) == "x" * QUOTE_CHARS + " …"
    assert _quote("word " * 100).endswith("word …") and len(_quote("word " * 100)) <= QUOTE_CHARS + 2


def test_a_price_asked_in_translated_words_is_the_rows_price(retrievers):
    """"How much is the Liliana 25 inch wall fan?" over "Vent. Pared Liliana 25\"": "wall fan" came as "pared
    ventilador" (rag.bridge), "Vent." abbreviates ventilador and "25 inch" is the row's 25"."""
    r = retrievers["techstore"]
    fan = Document(id="f", page_content='Vent. Pared Liliana 25" VW25M\nPrecio: 160449',
                   metadata={"id": "f", "name": 'Vent. Pared Liliana 25" VW25M', "kind": "row", "price": 160449.0})
    asked = "How much is the Liliana 25 inch pared ventilador?"
    q = Query(asked, "en", (fan,), r.interpret(asked), StoreFacts(), bridged=("pared", "ventilador"))
    found = direct_answer(q)
    assert found is not None and found.rule == "price" and found.cited == ("f",)
    other = "How much is the Liliana 25 inch standing pared ventilador?"  # "standing" names nothing in the row
    assert direct_answer(replace(q, question=other, meaning=r.interpret(other))) is None
