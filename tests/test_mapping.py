"""Tests for column-role detection, price parsing, ids and the row -> Document contract."""

from __future__ import annotations

import hashlib
import json

import pytest

from ingest.mapping import (
    ROLES,
    ColumnMapping,
    content_hash,
    currency_hint,
    currency_in_text,
    detect_roles,
    field_keys,
    parse_price,
    row_to_document,
    section_id,
    slugify,
)
from rag.store import EMBED_DESCRIPTION_CHARS, EMBED_FIELD_CHARS, EMBED_MAX_CHARS, EMBED_TEXT_VERSION, embedding_text

CHROMA_TYPES = (str, int, float, bool)


def assert_chroma_safe(metadata: dict) -> None:
    for key, value in metadata.items():
        assert isinstance(key, str) and key
        assert isinstance(value, CHROMA_TYPES), (key, value)
        assert value != "", key


# --------------------------------------------------------------------------- roles


def test_english_headers_get_every_role() -> None:
    headers = ["SKU", "Name", "Price", "Currency", "Category", "Brand", "Description", "Qty", "Tags", "Color",
               "Price per kg", "Pack size", "Nutrition", "Subcategory", "Allergens"]
    mapping = detect_roles(headers)
    assert mapping.roles == {
        "SKU": "id", "Name": "name", "Price": "price", "Currency": "currency", "Category": "category",
        "Brand": "brand", "Description": "description", "Qty": "stock", "Tags": "tags",
        "Price per kg": "unit_price", "Pack size": "format", "Nutrition": "nutrition", "Subcategory": "category",
        "Color": "colours", "Allergens": "allergens",
    }
    assert set(mapping.roles.values()) == set(ROLES) - {"price_option"}  # portion prices are named in a mapping
    assert mapping.headers == tuple(headers)


def test_spanish_headers() -> None:
    mapping = detect_roles(["nombre", "precio", "categoría", "descripción"])
    assert mapping.roles == {"nombre": "name", "precio": "price", "categoría": "category", "descripción": "description"}


@pytest.mark.parametrize(
    ("header", "role"),
    [
        ("Item ID", "id"), ("product_id", "id"), ("Código", "id"), (" CODIGO ", "id"), ("Referencia", "id"),
        ("Artículo", "id"), ("ref", "id"), ("Título", "name"), ("Plato", "name"), ("Dish", "name"),
        ("ITEM", "name"), ("Producto", "name"), ("Price (USD)", "price"), ("Precio ($)", "price"),
        ("precio_usd", "price"), ("PVP", "price"), ("Coste", "price"), ("costo", "price"),
        ("Importe", "price"), ("Moneda", "currency"), ("Divisa", "currency"), ("Tipo", "category"),
        ("Sección", "category"), ("Department", "category"), ("Fabricante", "brand"),
        ("Manufacturer", "brand"), ("Detalles", "description"), ("desc", "description"),
        ("Existencias", "stock"), ("Cantidad", "stock"), ("Disponibles", "stock"), ("inventory", "stock"),
        ("units", "stock"), ("Etiquetas", "tags"), ("Dietas", "tags"), ("Dietary", "tags"), ("labels", "tags"),
    ],
)
def test_header_variants(header: str, role: str) -> None:
    assert detect_roles([header]).roles == {header.strip(): role}


@pytest.mark.parametrize("header", ["Notas", "Weight (kg)", "Comentarios", ""])
def test_unknown_headers_get_no_role(header: str) -> None:
    assert detect_roles([header]).roles == {}


def test_each_role_goes_to_the_first_matching_column() -> None:
    mapping = detect_roles(["title", "name", "precio", "price"])
    assert mapping.roles == {"title": "name", "precio": "price"}
    assert mapping.header_for("name") == "title"
    assert mapping.header_for("brand") is None


def test_headers_are_cleaned() -> None:
    mapping = detect_roles(["\ufeffSKU ", "  Name\t", "", "Name"])
    assert mapping.headers == ("SKU", "Name", "column 3", "Name (2)")
    assert mapping.roles == {"SKU": "id", "Name": "name"}


def test_overrides_win_over_detection() -> None:
    mapping = detect_roles(["Artikelnr", "Bezeichnung", "name", "Preis"], {"Artikelnr": "id", "Bezeichnung": "name"})
    assert mapping.roles == {"Artikelnr": "id", "Bezeichnung": "name"}
    assert mapping.header_for("name") == "Bezeichnung"


def test_override_keys_match_case_and_accent_insensitively() -> None:
    mapping = detect_roles(["ArtikelNr", "Descripción"], {"artikelnr": "id", "descripcion": "name"})
    assert mapping.roles == {"ArtikelNr": "id", "Descripción": "name"}


def test_override_for_missing_column_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    mapping = detect_roles(["name"], {"Artikelnr": "id"})
    assert mapping.roles == {"name": "name"}
    assert "Artikelnr" in caplog.text


def test_unknown_role_names_the_valid_roles() -> None:
    with pytest.raises(ValueError, match="unknown role 'precio'") as info:
        detect_roles(["Preis"], {"Preis": "precio"})
    assert ", ".join(ROLES) in str(info.value)


def test_one_role_for_two_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="both"):
        detect_roles(["a", "b"], {"a": "name", "b": "name"})


# --------------------------------------------------------------------------- prices


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,999.00", (1999.0, "USD")),
        ("1.999,50 €", (1999.5, "EUR")),
        ("15", (15.0, None)),
        ("12,50", (12.5, None)),
        ("12.5", (12.5, None)),
        ("€12", (12.0, "EUR")),
        ("USD 12.50", (12.5, "USD")),
        ("12.50 mxn", (12.5, "MXN")),
        ("£3.20", (3.2, "GBP")),
        ("R$ 10,90", (10.9, "BRL")),
        ("1 999,50 €", (1999.5, "EUR")),
        ("1'999.50", (1999.5, None)),
        ("1,234,567", (1234567.0, None)),
        ("0.125", (0.125, None)),
        ("$12.000", (12000.0, "USD")),
        ("-3.5", (-3.5, None)),
        ("  7 ", (7.0, None)),
    ],
)
def test_parse_price(text: str, expected: tuple[float, str | None]) -> None:
    assert parse_price(text) == expected


@pytest.mark.parametrize("text", ["abc", "", "12-15", "1.2.3", "12 apples", "gratis", "12 15"])
def test_parse_price_refuses_non_numbers(text: str) -> None:
    with pytest.raises(ValueError):
        parse_price(text)


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Crème Brûlée (large)", "creme-brulee-large"),
        ("Ñandú", "nandu"),
        ("  Hello,  World!  ", "hello-world"),
        ("!!!", ""),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_section_id() -> None:
    assert section_id("policies", "Store hours & location") == "policies#store-hours-location"
    assert section_id("info", "Formas de pago") == "info#formas-de-pago"
    assert section_id("info", "¿Envíos a domicilio?") == "info#envios-a-domicilio"


# --------------------------------------------------------------------------- row_to_document

HEADERS = ["SKU", "Nombre", "Precio", "Categoría", "Stock", "Notas", "Etiquetas"]
ROW = {
    "SKU": " A-100 ", "Nombre": "Lasaña  de la casa", "Precio": "12,50 €", "Categoría": "Platos",
    "Stock": "7", "Notas": "", "Etiquetas": "vegetariano, sin nueces",
}


def sample_document(line: int = 2, **changes: str):
    return row_to_document({**ROW, **changes}, mapping=detect_roles(HEADERS), source="data/menu.csv", line=line)


def test_page_content_format() -> None:
    assert sample_document().page_content == (
        "Lasaña de la casa\n"
        "SKU: A-100\n"
        "Precio: 12,50 €\n"
        "Categoría: Platos\n"
        "Stock: 7\n"
        "Etiquetas: vegetariano, sin nueces"
    )


def test_metadata_contract() -> None:
    document = sample_document()
    assert document.id == "A-100"
    expected = {
        "id": "A-100", "name": "Lasaña de la casa", "source": "menu.csv", "line": 2, "kind": "row",
        "price": 12.5, "currency": "EUR", "category": "Platos", "stock": 7, "tags": "vegetariano, sin nueces",
    }
    assert {k: v for k, v in document.metadata.items() if k != "content_hash"} == expected
    assert isinstance(document.metadata["price"], float)
    assert isinstance(document.metadata["stock"], int)
    assert_chroma_safe(document.metadata)


def test_content_hash_ignores_line_but_not_values() -> None:
    first, moved, changed = sample_document(line=2), sample_document(line=40), sample_document(Stock="8")
    assert first.metadata["content_hash"] == moved.metadata["content_hash"]
    assert first.metadata["content_hash"] != changed.metadata["content_hash"]
    rest = {k: v for k, v in first.metadata.items() if k not in ("line", "content_hash")}
    raw = EMBED_TEXT_VERSION + first.page_content + json.dumps(rest, sort_keys=True, ensure_ascii=False)
    assert first.metadata["content_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert content_hash(first.page_content, first.metadata) == first.metadata["content_hash"]


def test_id_falls_back_to_the_slug_of_the_name() -> None:
    document = sample_document(SKU="")
    assert document.id == "lasana-de-la-casa"
    assert "SKU" not in document.page_content


def test_id_falls_back_to_a_content_hash_without_id_or_name_columns() -> None:
    fields = {"Shade": "red", "Fit": "L"}
    document = row_to_document(fields, mapping=None, source="x.csv", line=3)
    assert document.page_content == "Shade: red\nFit: L"
    assert document.id == hashlib.sha256(document.page_content.encode()).hexdigest()[:16]
    assert document.metadata["name"] == "Shade: red"
    assert document.metadata["Shade"] == "red"


def test_name_without_a_sluggable_character_gets_a_hash_id() -> None:
    document = row_to_document({"name": "★★★", "price": "3"}, mapping=None, source="x.csv", line=2)
    assert len(document.id) == 16 and document.metadata["name"] == "★★★"


def test_row_without_name_or_id_is_refused() -> None:
    with pytest.raises(ValueError, match="row has no name or id: fill in the 'Nombre' column"):
        sample_document(SKU=" ", Nombre="")


def test_bad_price_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"price 'abc' is not a number: use digits like 19\.99"):
        sample_document(Precio="abc")


def test_stock_that_is_not_an_integer_stays_text() -> None:
    assert sample_document(Stock="pocos").metadata["stock"] == "pocos"


def test_currency_column_wins_over_the_symbol() -> None:
    mapping = detect_roles(["name", "price", "moneda"])
    fields = {"name": "Té", "price": "$5", "moneda": "mxn"}
    document = row_to_document(fields, mapping=mapping, source="x.csv", line=2)
    assert document.metadata["currency"] == "MXN"
    assert document.metadata["price"] == 5.0


def test_currency_from_the_price_header() -> None:
    document = row_to_document({"name": "Té", "Precio (USD)": "5"}, mapping=None, source="x.csv", line=2)
    assert document.metadata["currency"] == "USD"


def test_price_without_currency_has_no_currency_key() -> None:
    document = row_to_document({"name": "Té", "price": "5"}, mapping=None, source="x.csv", line=2)
    assert "currency" not in document.metadata


def test_plain_column_that_clashes_with_a_reserved_key_is_renamed() -> None:
    mapping = detect_roles(["Bezeichnung", "source", "price"], {"Bezeichnung": "name"})
    fields = {"Bezeichnung": "Tee", "source": "Kenya", "price": "3"}
    document = row_to_document(fields, mapping=mapping, source="x.csv", line=2)
    assert document.metadata["source"] == "x.csv"
    assert document.metadata["column source"] == "Kenya"


@pytest.mark.parametrize("header", ["chroma:document", "chroma:uri", "#score", "$and"])
def test_a_column_named_like_a_chroma_key_is_renamed(header: str) -> None:
    """chromadb refuses chroma:document, # and $ keys (the whole batch fails) and drops other chroma: keys."""
    document = row_to_document({"name": "Tea", header: "x"}, mapping=None, source="x.csv", line=2)
    assert document.metadata[f"column {header}"] == "x" and header not in document.metadata
    assert document.page_content == f"Tea\n{header}: x"


def test_numbers_too_large_for_chroma_stay_text_or_are_refused() -> None:
    document = row_to_document({"name": "Tea", "stock": "9" * 30}, mapping=None, source="x.csv", line=2)
    assert document.metadata["stock"] == "9" * 30  # Chroma would keep it as a float, losing digits
    with pytest.raises(ValueError, match=r"^price '10000000000000000000\.\.\.' is too large to be a price"):
        row_to_document({"name": "Tea", "price": 10**400}, mapping=None, source="x.json", line=1)


def test_native_numbers_from_json_or_excel() -> None:
    fields = {"name": "Café", "price": 3, "stock": 12.0, "weight": 0.25, "vegan": True, "notes": None}
    document = row_to_document(fields, mapping=None, source="x.json", line=1)
    assert document.metadata["price"] == 3.0
    assert document.metadata["stock"] == 12
    assert document.metadata["weight"] == "0.25"
    assert document.metadata["vegan"] == "true"
    assert "notes" not in document.metadata
    assert document.page_content == "Café\nprice: 3\nstock: 12\nweight: 0.25\nvegan: true"


def test_column_mapping_header_for() -> None:
    mapping = ColumnMapping(headers=("a", "b"), roles={"b": "price"})
    assert mapping.header_for("price") == "b"
    assert mapping.header_for("id") is None


def test_embedding_text_is_what_identifies_the_row() -> None:
    long_specs = "Apple M2 Pro chip; 16GB RAM; 512GB SSD; 14.2-inch Liquid Retina XDR display; 18h battery"
    long_desc = ("A powerful pro laptop with a superb display and all-day battery. Ideal for programming, video "
                 "editing and music production, on the road or at the desk, with every port a studio needs.")
    doc = row_to_document({"sku": "TS-LAP-001", "name": "MacBook Pro 14", "category": "Laptops", "brand": "Apple",
                           "price": "1999.00", "stock": "7", "inches": "14.2", "specs": long_specs,
                           "description": long_desc}, mapping=None, source="p.csv", line=2)
    text = embedding_text(doc)
    parts = text.split(" | ")
    assert parts[:3] == ["MacBook Pro 14", "Laptops", "Apple"]
    assert "1999" not in text and "TS-LAP-001" not in text and "14.2" not in parts  # price, id, numbers-only field
    specs, desc = parts[3], parts[4]
    assert long_specs.startswith(specs) and len(specs) <= EMBED_FIELD_CHARS and not specs.endswith(";")
    assert long_desc.startswith(desc) and len(desc) <= EMBED_DESCRIPTION_CHARS and "programming" in desc
    assert len(text) < len(doc.page_content) * 0.8
    assert doc.page_content.count("music production") == 1  # the stored document keeps the whole row


def test_text_sections_are_embedded_whole() -> None:
    from langchain_core.documents import Document

    section = Document(page_content="Returns\n- 30 days with the receipt. " * 20, id="p#returns",
                       metadata={"id": "p#returns", "name": "Returns", "kind": "section"})
    assert embedding_text(section) == section.page_content


def test_no_document_is_embedded_past_the_model_window() -> None:
    """The embedder reads every token it is given: a 2 MB section took minutes for the same vector."""
    from langchain_core.documents import Document

    section = Document(page_content="Returns " + "within thirty days " * 10_000, id="p#r",
                       metadata={"id": "p#r", "name": "Returns", "kind": "section"})
    text = embedding_text(section)
    assert EMBED_MAX_CHARS - 20 < len(text) <= EMBED_MAX_CHARS and section.page_content.startswith(text)
    assert section.page_content[len(text)] == " ", "cut at a word boundary"
    row = row_to_document({"name": "Tea", **{f"field {i}": "green tea leaves " * 4 for i in range(60)}},
                          mapping=None, source="x.csv", line=2)
    assert len(embedding_text(row)) <= EMBED_MAX_CHARS


def test_a_letter_lost_to_a_bad_conversion_still_matches() -> None:
    """An ERP export whose accents became U+FFFD: Art\ufffdculo, Descripci\ufffdn, Agrupaci\ufffdn."""
    headers = ["Art\ufffdculo", "Descripci\ufffdn", "Dep\ufffdsito", "Saldo disponible", "Agrupaci\ufffdn", "Precio tarjeta"]
    assert detect_roles(headers).roles == {
        "Art\ufffdculo": "id", "Descripci\ufffdn": "name", "Saldo disponible": "stock",
        "Agrupaci\ufffdn": "category", "Precio tarjeta": "price",
    }


@pytest.mark.parametrize(("header", "role"), [
    ("Price_euros", "price"), ("laptop_ID", "id"), ("Company", "brand"), ("TypeName", "category"),
    ("Precio (€/kg)", "unit_price"), ("Precio por litro", "unit_price"), ("Formato", "format"),
    ("Información nutricional", "nutrition"), ("Subcategoría", "category"),
])
def test_more_header_shapes(header: str, role: str) -> None:
    assert detect_roles([header]).roles == {header: role}


def test_category_levels_and_portion_prices() -> None:
    """Several category columns are levels; portion prices of 0 are not offered, the lowest is the price."""
    headers = ["producto", "categoria", "subcategoria", "tapa", "racion"]
    mapping = detect_roles(headers, {"tapa": "price_option", "racion": "price_option"})
    doc = row_to_document({"producto": "Croquetas", "categoria": "Frituras", "subcategoria": "Caseras", "tapa": 0.0,
                           "racion": 9.5}, mapping=mapping, source="m.json", line=1)
    assert doc.metadata["category"] == "Frituras" and doc.metadata["subcategoria"] == "Caseras"
    assert doc.metadata["price"] == 9.5 and doc.metadata["racion"] == 9.5 and "tapa" not in doc.metadata
    assert "tapa" not in doc.page_content
    assert field_keys(mapping) == {"category": ["category", "subcategoria"], "price_option": ["tapa", "racion"]}


def test_currency_from_the_header_words_and_from_other_cells() -> None:
    assert currency_hint("Price_euros") == "EUR" and currency_hint("precio (€)") == "EUR" and currency_hint("Precio") is None
    assert currency_in_text("0,49 €/L") == "EUR" and currency_in_text("$1,799.99") == "USD"
    assert currency_in_text("Sardinas 2 euros/ unidad") == "EUR" and currency_in_text("6 x 1,5 L") is None
