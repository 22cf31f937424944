"""Unit tests for the pure prompt and answer-checking logic."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.prompts import (
    EXAMPLES,
    PROMPT,
    cited_indices,
    detect_language,
    format_rows,
    is_echo,
    prompt_rows,
    is_refusal,
    section_lines,
    missing_concepts,
    missing_field_message,
    numbers_in,
    strip_citation_markers,
    ungrounded_numbers,
)

MACBOOK = Document(
    id="TS-LAP-001",
    page_content='MacBook Pro 14" M2\nsku: TS-LAP-001\ncategory: Laptops\nprice: 1999.00\nspecs: 16GB RAM; 512GB SSD',
    metadata={"id": "TS-LAP-001", "name": 'MacBook Pro 14" M2', "price": 1999.0, "category": "Laptops"},
)
IPHONE = Document(
    id="TS-PHN-001",
    page_content="iPhone 15\nsku: TS-PHN-001\nprice: 799.00\ncolors: Blue; Pink; Yellow; Green; Black",
    metadata={"id": "TS-PHN-001", "name": "iPhone 15", "price": 799.0, "colors": "Blue; Pink; Yellow; Green; Black"},
)
PIZZA = Document(
    id="BI-010",
    page_content="Pizza Margherita\nid: BI-010\ncategoría: Pizzas\nprecio: 14.00\ndietas: vegetariano",
    metadata={"id": "BI-010", "name": "Pizza Margherita", "price": 14.0},
)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("How much RAM does the MacBook Pro have?", "en"),
        ("¿Qué laptop me recomiendas para programar?", "es"),
        ("cuanto cuesta el iphon 15", "es"),
        ("Tienen opciones vegetarianas", "es"),
        ("Hacen delivery?", "es"),
        ("Do you have gluten-free pizzas?", "en"),
        ("What colors does the iPhone 15 come in?", "en"),
        ("precio del MacBook Air", "es"),
    ],
)
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_format_rows_is_numbered_and_compact():
    text = format_rows([MACBOOK, IPHONE])
    assert text == (  # the sku line is dropped: answers cite rows by number
        '[1] MacBook Pro 14" M2\ncategory: Laptops | price: 1999.00 | specs: 16GB RAM; 512GB SSD\n'
        "[2] iPhone 15\nprice: 799.00 | colors: Blue; Pink; Yellow; Green; Black"
    )
    assert "sku: TS-PHN-001" in format_rows([IPHONE], "What is TS-PHN-001?")  # unless the question gives it


HOURS = Document(
    id="policies#hours", page_content="Store hours\n- Address: 350 Congress Avenue.\n- Monday to Saturday: 10 am - 8 pm.\n"
    "- Sunday: 11 am - 6 pm.\n- Closed on Christmas Day.", metadata={"id": "policies#hours", "name": "Store hours", "kind": "section"},
)


def test_format_rows_keeps_the_section_lines_the_question_is_about():
    assert format_rows([HOURS], "What time do you open on Sunday?") == "[1] Store hours\n- Sunday: 11 am - 6 pm."
    # no shared word (a Spanish question over English policies): the whole section
    assert format_rows([HOURS], "¿A qué hora abren?").count("|") == 3


def test_format_rows_clips_fields_the_question_does_not_ask_about_when_many_rows():
    long = Document(id="x", page_content="Long\nspecs: " + "; ".join(f"feature {n} of many" for n in range(20)) +
                    "\ndescription: ideal for video editing", metadata={"id": "x", "name": "Long", "kind": "row"})
    text = format_rows([long, MACBOOK, IPHONE], "Which laptop for video editing?")
    assert "feature 19" not in text and " …" in text
    assert "ideal for video editing" in text
    assert "feature 19" in format_rows([long], "Which laptop for video editing?")  # one row: nothing clipped


@pytest.mark.parametrize(("answer", "question", "echo"), [
    ("Sí, reparan pantallas rotas.", "¿Reparan pantallas rotas?", True),
    ("Yes, we have a happy hour.", "Do you have a happy hour?", True),
    ("No se puede ir con mascotas.", "¿Se puede ir con mascotas?", True),
    ("Yes, the iPhone 15 comes in blue.", "Does the iPhone 15 come in blue?", False),  # a row says so
    ("The MacBook Pro has 16GB RAM.", "How much RAM does the MacBook Pro have?", False),  # new facts
])
def test_echo_answers_without_row_support_are_detected(answer, question, echo):
    assert is_echo(answer, question, [MACBOOK, IPHONE]) is echo


def test_a_yes_about_a_named_product_needs_a_row_word_besides_its_name():
    vitamix = Document(id="v", page_content="Vitamix E310 Explorian Blender\ndescription: 48 oz container, 10 speeds",
                       metadata={"name": "Vitamix E310 Explorian Blender"})
    names = ["Vitamix E310 Explorian Blender"]
    q = "Is the Vitamix E310 blender dishwasher safe?"
    assert is_echo("Yes, the Vitamix E310 blender is dishwasher safe.", q, [vitamix], names)
    assert not is_echo("Yes, the Vitamix E310 blender is dishwasher safe.", q, [vitamix])  # its name alone used to pass
    assert not is_echo("Yes, the Vitamix E310 has 10 speeds.", "Does the Vitamix E310 have speeds?", [vitamix], names)
    assert not is_echo("The Vitamix E310 Explorian Blender.", q, [vitamix], names)  # nothing said besides the name


def test_prompt_has_fixed_system_prefix_and_language_instruction():
    msgs = PROMPT.format_messages(context="[1] x", question="¿Hacen delivery?", language="Spanish", currency="US dollars ($)")
    assert msgs[0].type == "system" and "{" not in msgs[0].content
    assert msgs[-1].content.endswith("Question: ¿Hacen delivery?\nAnswer in Spanish.")
    assert "prices in US dollars ($)" in msgs[-1].content
    # Everything before the question (system prompt + worked examples) must be identical for every
    # question, so llama.cpp reuses its KV cache for that prefix.
    other = PROMPT.format_messages(context="[1] y", question="q", language="English", currency="euros (€)")
    assert [m.content for m in other[:-1]] == [m.content for m in msgs[:-1]]
    assert [m.type for m in msgs[1:-1]] == ["human", "ai"] * len(EXAMPLES)


def test_missing_field_detected_when_no_row_has_it():
    missing = missing_concepts("¿Cuántas calorías tiene la Pizza Margherita?", [PIZZA])
    assert [c.name["en"] for c in missing] == ["calories"]
    assert missing_field_message(missing, [PIZZA], "es") == "El catálogo no indica las calorías de «Pizza Margherita»."
    assert missing_field_message(missing, [PIZZA], "en") == "The catalog does not list calories for “Pizza Margherita”."


@pytest.mark.parametrize(
    "question",
    ["How much does the iPhone 15 cost?", "¿Cuánto cuesta el iPhone 15?", "What colors does the iPhone 15 come in?",
     "How much RAM does the MacBook Pro have?", "¿Precio de la pizza margherita?"],
)
def test_no_missing_field_when_rows_have_it(question):
    assert missing_concepts(question, [MACBOOK, IPHONE, PIZZA]) == []


def test_price_asked_in_catalog_without_prices_is_caught():
    no_price = Document(id="x", page_content="Oat drink\nlactose free: yes", metadata={"id": "x", "name": "Oat drink"})
    assert [c.name["en"] for c in missing_concepts("How much is the oat drink?", [no_price])] == ["the price"]


def test_refusal_token_variants():
    assert is_refusal("NOT_IN_CATALOG")
    assert is_refusal(" not in catalog")
    assert is_refusal("NOT_IN_CATALOG.")
    assert is_refusal("NO_IN_CATALOG"), "the 1.5B model sometimes misspells the token"
    assert is_refusal("NO") and is_refusal("NOT_"), "a bare upper-case start of the token"
    assert not is_refusal("No.") and not is_refusal("No, the Spaghetti Carbonara is not vegetarian.")
    assert not is_refusal("The iPhone 15 costs $799.")


def test_numbers_are_normalised():
    assert numbers_in("It costs $1,999.00 or 1.999 euros, 12,50 and 0.5") == {"1999", "12.5", "0.5"}


def test_ungrounded_numbers_flags_invented_values():
    assert ungrounded_numbers("The MacBook Pro costs $1,999 with 16GB RAM.", "price?", [MACBOOK]) == []
    assert ungrounded_numbers("It has 45 kcal and costs $1999.", "q", [MACBOOK]) == ["45"]
    # numbers the staff member typed are not invented by the model
    assert ungrounded_numbers("Yes, the iPhone 15 is under 900.", "anything under 900?", [IPHONE]) == []


def test_citations_explicit_then_by_name_then_top_row():
    docs = [MACBOOK, IPHONE]
    assert cited_indices("It is $799 [2].", docs) == [1]
    assert cited_indices("The iPhone 15 costs $799.", docs) == [1]
    assert cited_indices("That one costs 1999.", docs) == [0]
    assert cited_indices("Yes.", docs) == [0]
    assert strip_citation_markers("It is $799 [2].") == "It is $799."


def test_weight_evidence_matches_whole_words_only():
    """'gram' inside 'programming' is not a weight: the guard must still refuse to invent one."""
    laptop = Document(id="L", page_content="MacBook Pro\ndescription: Ideal for programming", metadata={"name": "MacBook Pro"})
    assert [c.name["en"] for c in missing_concepts("How much does the MacBook Pro weigh?", [laptop])] == ["the weight"]
    heavy = Document(id="H", page_content="Kettle\nspecs: 1.2 kg", metadata={"name": "Kettle"})
    assert missing_concepts("How much does the kettle weigh?", [heavy]) == []


def test_unknown_model_codes():
    from rag.prompts import unknown_codes

    words = {"galaxy", "s9", "a54", "16gb", "m2", "4k"}
    assert unknown_codes("What's the price of the Samsung Galaxy S24?", words) == ["s24"]
    assert unknown_codes("¿Tienen monitores 4K?", words) == []
    assert unknown_codes("Is the Galaxy A54 in stock? TS-ACC-003 under 1000", words) == []


PAYMENT = Document(id="policies#payment", page_content="Payment methods\n- Cash in store only.",
                   metadata={"id": "policies#payment", "name": "Payment methods", "kind": "section"})


def test_prompt_rows_drop_sections_that_share_no_word_when_another_does():
    assert prompt_rows([HOURS, PAYMENT], "What time do you open on Sunday?") == [HOURS]
    assert prompt_rows([HOURS, PAYMENT], "¿A qué hora abren?") == [HOURS, PAYMENT]  # no shared word anywhere
    assert prompt_rows([PAYMENT, HOURS], "What time do you open on Sunday?") == [PAYMENT, HOURS]  # the top row stays


def test_prompt_rows_for_a_question_about_the_shop_keep_two_sections_and_only_named_products():
    other = Document(id="policies#returns", page_content="Returns\n- 30 days.", metadata={"kind": "section", "name": "Returns"})
    rows = prompt_rows([PAYMENT, HOURS, other, MACBOOK, IPHONE], "Can I pay cash or return an iPhone in the store?")
    assert rows == [PAYMENT, HOURS, IPHONE]
    # a question about a product keeps its rows and at most one section
    assert prompt_rows([IPHONE, PAYMENT, MACBOOK, HOURS], "iPhone 15 colors") == [IPHONE, PAYMENT, MACBOOK]


def test_section_lines_fuse_shared_words_and_meaning():
    lines = ["Abierto de martes a domingo.", "Domingo: 12:00–21:00.", "Lunes: cerrado.", "Cocina hasta las 22:30."]
    # no shared word ("Monday" over Spanish lines): the retriever's meaning order decides
    assert section_lines(lines, {"monda", "open"}, "2,0,1,3", limit=2) == ["Abierto de martes a domingo.", "Lunes: cerrado."]
    assert section_lines(lines, {"domin"}, "", limit=4) == lines[:2]  # words only
    assert section_lines(lines, set(), "", limit=2) == lines  # nothing to go by: every line


def test_a_named_product_no_row_has_is_unknown_whatever_similar_rows_exist():
    from rag.prompts import unknown_names

    words = {"lenovo", "legion", "asus", "zenbook", "kanji", "tv", "samsung"}
    assert unknown_names("How much is the Sony VAIO SX14?", words) == ["Sony", "VAIO"]
    assert unknown_names("¿Cuánto sale la tele TCL de 50 pulgadas?", words) == ["TCL"]
    assert unknown_names("¿Cuánto cuesta la botella de Beronia Edición Limitada?", {"beronia", "edicion", "limitada"}) == []
    assert unknown_names("How much is the Lenovo Legion?", words) == []  # sentence start and known words
    assert unknown_names("Does the Kanji TV work with my Chromecast?", words) == []  # the customer's own thing
    assert unknown_names("How much is the Kanji 65 inch QLED TV in US dollars?", words | {"qled"}) == []


def test_unknown_codes_accept_a_prefix_of_a_longer_code_and_skip_the_customers_own_model():
    from rag.prompts import unknown_codes

    words = {"rt42k5060sl", "mower", "deck"}
    assert unknown_codes("What is the capacity of the Samsung RT42 fridge?", words) == []
    assert unknown_codes("Will the mower deck kit work on an LA165?", words) == []
    assert unknown_codes("Will it fit in an Amana DLE330RAW?", words) == []
    assert unknown_codes("How much is the RT38?", words) == ["rt38"]


def test_a_number_must_belong_to_the_row_its_sentence_names():
    from rag.prompts import misattributed_numbers

    rows = [MACBOOK, IPHONE]
    assert misattributed_numbers('The MacBook Pro 14" M2 costs 799.', "How much is the MacBook?", rows) == ["799"]
    assert misattributed_numbers('The MacBook Pro 14" M2 costs 1,999.00.', "How much is the MacBook?", rows) == []
    assert misattributed_numbers("Ours start at 799.", "cheapest?", rows) == []  # names no row: left to the other check
    both = 'The iPhone 15 costs 799 and the MacBook Pro 14" M2 costs 1999.'
    assert misattributed_numbers(both, "compare", rows) == []


@pytest.mark.parametrize(("question", "row_text", "missing"), [
    ("What colour is the phone case?", "Phone case\ndescription: a slim case in matte black", []),
    ("¿De qué color es la funda?", "Funda\ndescripción: funda de silicona roja", []),
    ("What colour is the charger?", "Charger\ndescription: reduced size, 65 W", ["the colours"]),  # "red" is not in "reduced"
    ("How much is in a pack?", "Yogur natural\nformato: pack 4 x 125 g", []),
    ("How many units come in the box?", "Tornillos\nformato: caja de 100 unidades", []),
    ("How many calories does it have?", "Granola\nnutrition: energía 450 kcal/100 g", []),
])
def test_the_asked_field_guard_reads_values_and_descriptions(question, row_text, missing):
    doc = Document(id="r", page_content=row_text, metadata={"id": "r", "name": row_text.split("\n")[0]})
    assert [c.name["en"] for c in missing_concepts(question, [doc])] == missing


def test_a_measure_must_be_in_a_row_with_its_unit():
    """The small model turns prices into sizes ("la tabla tiene 14 cm"); a measure no row states is withheld."""
    from rag.prompts import mismeasured

    menu = Document(id="m", page_content="Lomo ibérico\ncategoria: IBÉRICOS\nmedia_tabla: 7.5\ntabla: 14", metadata={})
    laptop = Document(id="l", page_content="Swift 3\nInches: 14\nRam: 8GB\nWeight: 1.6kg\nCpu: Intel Core i5 8250U 1.6GHz",
                      metadata={})
    tv = Document(id="t", page_content='TV LED Kanji 40" HD Smart', metadata={})
    assert mismeasured("La tabla tiene 14 cm.", [menu]) == ["14 cm"]
    assert mismeasured("The media tabla weighs 7.5 grams.", [menu]) == ["7.5 g"]
    assert mismeasured("It is 14 inches, 8 GB of RAM, 1.6 kg and 1.6 GHz.", [laptop]) == []  # unit in the header too
    assert mismeasured("El TV Kanji es de 40 pulgadas.", [tv]) == [] and mismeasured("Es de 50 pulgadas.", [tv]) == ["50 inch"]
    # the asker's own measure is no claim: the Rheem row says "125", the question "125 litros"
    rheem = Document(id="r", page_content="Termot. Rheem 125 elect colgar\nPrecio tarjeta: 718149", metadata={})
    answer = "El termotanque Rheem de 125 litros para colgar tiene un precio de 718149."
    assert mismeasured(answer, [rheem], "¿Qué precio tiene el termotanque Rheem de 125 litros para colgar?") == []
    assert mismeasured(answer, [rheem]) == ["125 l"]


def test_a_short_model_code_names_the_row_whose_code_it_starts():
    """Staff type "RT42" for the "RT42DG6730B1": the fridge's capacity in its row is about that fridge."""
    from rag.prompts import misattributed_numbers, names_match, shared_words

    rows = [Document(id=i, page_content=f"{n}\nPrecio tarjeta: {p}", metadata={"id": i, "name": n, "price": p, "kind": "row"})
            for i, n, p in (("1", "Heladera Samsung RB31FSRNDSA 328lts Silver", 1590309.0),
                            ("2", "Heladera Samsung RT42DG6730B1 No Frost (424 lts bruto) Black", 1599899.0))]
    question = "What is the capacity of the Samsung RT42 fridge?"
    assert names_match(question, rows[1]) and not names_match(question, rows[0])
    assert misattributed_numbers("424 liters (424 lts bruto)", question, rows) == []
    assert misattributed_numbers("328 liters", question, rows) == ["328"]
    assert shared_words({"samsu", "rt42"}, {"samsu", "rt42dg6730b1"}) == 2
    assert not names_match("¿Cuánto sale la Samsung R4?", rows[1])  # two characters are no code


KANJI = [Document(id=i, page_content=f"{n}\nprice: {p}", metadata={"id": i, "name": n, "price": p, "kind": "row"})
         for i, n, p in (("1", "Paellera eléctrica Kanji KJH-PE15005S", 68869.0), ("2", "Pava eléctrica Kanji 1.7 lts", 36989.0),
                         ("3", "Ventilador de pie Kanji 20 pulgadas", 56989.0))]


def test_the_row_a_question_is_about_and_a_bare_number_from_another_row():
    from rag.prompts import asked_row, misattributed_numbers

    q = "¿Cuánto sale la paellera eléctrica Kanji?"
    assert asked_row(q, KANJI).id == "1"
    assert asked_row("¿Qué tienen de Kanji?", KANJI) is None  # one shared word, and a tie
    assert misattributed_numbers("Cuesta 36989.", q, KANJI) == ["36989"]  # the pava's price
    assert misattributed_numbers("Cuesta 68869.", q, KANJI) == []


def test_a_number_for_a_product_no_row_is_must_come_from_the_one_row_the_names_fit():
    """"The Kanji air fryer costs 68.869": the question's names fit three Kanji rows, none of them a fryer."""
    from rag.prompts import misattributed_numbers

    q = "How much is the Kanji air fryer?"
    assert misattributed_numbers("The Kanji Air Fryer costs 68.869.", q, KANJI) == ["68869"]
    one = "How much is the Kanji KJH-PE15005S?"  # the code fits one row: its number is that row's
    assert misattributed_numbers("It costs 68.869.", one, KANJI) == []
    assert misattributed_numbers("It costs 36.989.", one, KANJI) == ["36989"]
    assert misattributed_numbers("They start at 36.989.", "what is cheapest?", KANJI) == []  # no name: left alone


def test_a_model_code_is_compared_whole():
    """"RT32K5070WW" names the white fridge, not the silver RT32k5070S8 that starts the same: its price is no misattribution."""
    from rag.prompts import misattributed_numbers

    fridges = [Document(id=i, page_content=f"{n}\nPrecio: {p}", metadata={"id": i, "name": n, "kind": "row", "price": p})
               for i, n, p in (("w", "Heladera Samsung RT32K5070WW No Fr 321lts", 1209989.0),
                               ("s", "Heladera Samsung RT32k5070S8 Silver No Fr 321lts", 1265989.0))]
    q = "cuanto sale la eladera samsumg RT32K5070WW"
    assert misattributed_numbers("El precio de la eladera Samsung RT32K5070WW es 1209989.", q, fridges) == []
    assert misattributed_numbers("El precio de la eladera Samsung RT32K5070WW es 1265989.", q, fridges) == ["1265989"]


def test_a_lowercase_question_takes_its_numbers_from_the_rows_its_words_name():
    """"the jabalí stew" names no row by a capital, but its words are the Ragout de jabalí's, not the Pan's."""
    from rag.prompts import misattributed_numbers

    menu = [Document(id=i, page_content=f"{n}\nracion: {p}", metadata={"id": i, "name": n, "kind": "row", "racion": p})
            for i, n, p in (("r", "Ragout de jabalí", 14.0), ("p", "Pan", 2.5), ("c", "Croquetas de jamón", 9.0))]
    q = "What's the price of the jabalí stew?"
    assert misattributed_numbers("The price of the wild boar stew is 2.5 euros.", q, menu) == ["2.5"]
    assert misattributed_numbers("The price of the wild boar stew is 14 euros.", q, menu) == []
    assert misattributed_numbers("Prices start at 2.5 euros.", "what is cheapest?", menu) == []  # no name word: any row


# ePQA-like: one product, several snippet rows with the same name; another product beside it
SNIPPETS = [Document(id=i, page_content=f"{n}\n{t}", metadata={"id": i, "name": n, "kind": "row"}) for i, n, t in (
    ("a1", "SPT SD-9241SS Countertop Dishwasher", "description: fits under most cabinets"),
    ("a2", "SPT SD-9241SS Countertop Dishwasher", "description: the unit weighs 121.3 pounds"),
    ("b1", "SPT SD-2224 Countertop Dishwasher", "description: weighs 88 pounds"))]


def test_rows_that_share_a_name_are_one_product():
    """A fact from any snippet of the asked product is its fact; a number of the other product is still withheld."""
    from rag.prompts import aliases_of, asked_rows, misattributed_numbers, rows_named

    q = "How much does the SPT SD-9241SS portable dishwasher weigh?"
    assert [d.id for d in asked_rows(q, SNIPPETS)] == ["a1", "a2"]
    assert rows_named("The SPT SD-9241SS Countertop Dishwasher weighs 121.3 pounds.", aliases_of(SNIPPETS)) == {0, 1}
    assert misattributed_numbers("It weighs 121.3 pounds.", q, SNIPPETS) == []
    assert misattributed_numbers("The SPT SD-9241SS Countertop Dishwasher weighs 121.3 pounds.", q, SNIPPETS) == []
    assert misattributed_numbers("It weighs 88 pounds.", q, SNIPPETS) == ["88"]
    assert [c.name["en"] for c in missing_concepts(q, SNIPPETS)] == []  # the weight is in the second snippet
    assert [d.id for d in asked_rows("How much does the Countertop Dishwasher SD-9241SS weigh?", SNIPPETS)] == ["a1", "a2"]
    singer = "How much does the Singer 4423 portable dishwasher weigh?"  # a brand no row has: not that product
    assert asked_rows(singer, SNIPPETS) == [] and misattributed_numbers("It weighs 121.3 pounds.", singer, SNIPPETS) == ["121.3"]


def test_measures_of_several_fields_in_one_cell():
    from rag.prompts import mismeasured

    shock = Document(id="s", page_content='Bilstein 5100 Shock\nspecial_feature: { value:"body: 46mm smooth, collapsed length '
                     '(in): 14.02, collapsed length (mm): 356, extended length (in): 22.94, finish: zinc" }', metadata={})
    assert mismeasured("It is 14.02 inches (356 mm) collapsed and 22.94 inches extended.", [shock]) == []
    assert mismeasured("It is 356 inches long.", [shock]) == ["356 inch"]


def test_energy_rating_is_a_field_the_row_must_state():
    fridge = Document(id="f", page_content="Heladera Neba A 280 Ciclica 2 frios 280 Lts", metadata={"name": "Heladera Neba A 280"})
    samsung = Document(id="s", page_content="Heladera Samsung RT38 No Frost A+ 380 lts", metadata={"name": "Heladera Samsung RT38"})
    q = "¿Qué clase de eficiencia energética tiene la heladera Neba A 280?"
    assert [c.name["en"] for c in missing_concepts(q, [fridge, samsung])] == ["the energy rating"]  # the Samsung's A+ is not its
    assert missing_concepts("¿Qué eficiencia energética tiene la heladera Samsung RT38?", [fridge, samsung]) == []


def test_a_number_from_a_row_without_the_questions_brand_is_withheld():
    from rag.prompts import misattributed_numbers

    q = "How much is the Atma air fryer?"  # no row is clearly it; the number is a Kanji row's price
    assert misattributed_numbers("The Atma Air Fryer costs 68.869.", q, KANJI) == ["68869"]
    assert misattributed_numbers("It costs 68.869.", "How much is the electric paella pan?", KANJI) == []  # no names asked


def test_a_stock_count_must_be_a_rows_stock():
    from rag.prompts import mismeasured

    row = Document(id="z", page_content="Termot. Señorial Zafiro 40 elec\nSaldo disponible: 2",
                   metadata={"name": "Termot. Señorial Zafiro 40 elec", "stock": 2})
    assert mismeasured("40 unidades", [row]) == ["40 units"] and mismeasured("Quedan 2 unidades.", [row]) == []


def test_an_english_question_about_spanish_names_is_english():
    assert detect_language("Is there dairy in the salchichón ibérico de bellota?") == "en"
    assert detect_language("How much is the Lasaña de la Casa?") == "en"
    assert detect_language("¿Cuánto cuesta la lasaña?") == "es" and detect_language("cuanto cuesta la lasaña") == "es"
