"""Tests for reading every supported catalog format into Documents, with per-row errors."""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import loaders
from ingest.loaders import SUPPORTED_SUFFIXES, LoadResult, RowError, load_file
from ingest.mapping import field_keys
from rag.errors import CatalogFileError
from rag.settings import UploadLimits
from tests.xlsx_parts import write_xlsx_parts

CHROMA_TYPES = (str, int, float, bool)
SPANISH = ["Ñandú asado", "Lasaña", "crème brûlée"]


def write(directory: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = directory / name
    path.write_bytes(text.encode(encoding))
    return path


def assert_chroma_safe(result: LoadResult) -> None:
    ids = [doc.id for doc in result.documents]
    assert len(ids) == len(set(ids))
    for doc in result.documents:
        assert doc.id == doc.metadata["id"]
        assert {"id", "name", "source", "line", "kind", "content_hash"} <= set(doc.metadata)
        for key, value in doc.metadata.items():
            assert isinstance(value, CHROMA_TYPES), (key, value)
            assert value != "", key


def names(result: LoadResult) -> list[str]:
    return [doc.metadata["name"] for doc in result.documents]


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF: one page per list of text lines (an empty list makes a blank page)."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = {
        1: "<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{kids}] /Count {count} >>",
        3: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for i, lines in enumerate(pages):
        shown = " 0 -16 Td ".join(f"({line}) Tj" for line in lines)
        stream = f"BT /F1 12 Tf 72 720 Td {shown} ET" if lines else ""
        objects[4 + 2 * i] = (
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objects[5 + 2 * i] = f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream"
    out = b"%PDF-1.4\n"
    offsets = []
    for number in sorted(objects):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{objects[number]}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def make_xlsx(path: Path, sheets: dict[str, list[tuple]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    workbook.save(path)
    return path


# --------------------------------------------------------------------------- CSV / TSV


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiters(tmp_path: Path, delimiter: str) -> None:
    rows = [["sku", "name", "price", "category"], ["A1", "Pasta", "12,50", "Mains"], ["A2", "Soup", "4", "Starters"]]
    if delimiter == ",":
        rows[1][2] = "12.50"
    text = "\n".join(delimiter.join(row) for row in rows) + "\n"
    result = load_file(write(tmp_path, "menu.csv", text))
    assert result.errors == []
    assert names(result) == ["Pasta", "Soup"]
    assert result.documents[0].metadata["price"] == 12.5
    assert result.documents[1].metadata["category"] == "Starters"
    assert result.rows_seen == 2
    assert result.mapping is not None and result.mapping.header_for("id") == "sku"
    assert_chroma_safe(result)


def test_semicolon_file_with_decimal_commas(tmp_path: Path) -> None:
    text = "nombre;precio;descripción\nCafé;1,50;Con leche, azúcar, canela\nTé;1,20;Verde, negro\n"
    result = load_file(write(tmp_path, "bebidas.csv", text))
    assert [doc.metadata["price"] for doc in result.documents] == [1.5, 1.2]
    assert result.documents[0].metadata["description"] == "Con leche, azúcar, canela"


def test_tsv(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "stock.tsv", "code\ttitle\tqty\nX1\tLamp, blue\t3\nX2\tDesk\tmany\n"))
    assert names(result) == ["Lamp, blue", "Desk"]
    assert [doc.metadata["stock"] for doc in result.documents] == [3, "many"]


def test_csv_row_document(tmp_path: Path) -> None:
    text = "SKU,Name,Price,Brand,Color,Notes\nB-7,Kettle,$24.99,Acme,Red,\n"
    doc = load_file(write(tmp_path, "products.csv", text)).documents[0]
    assert doc.page_content == "Kettle\nSKU: B-7\nPrice: $24.99\nBrand: Acme\nColor: Red"
    assert doc.id == "B-7"
    meta = {k: v for k, v in doc.metadata.items() if k != "content_hash"}
    assert meta == {
        "id": "B-7", "name": "Kettle", "source": "products.csv", "line": 2, "kind": "row",
        "price": 24.99, "currency": "USD", "brand": "Acme", "colours": "Red",  # the colour role
    }


def test_quoted_newlines_keep_physical_line_numbers(tmp_path: Path) -> None:
    text = 'id,name,description\n1,Pasta,"Fresh\nhandmade\ndaily"\n2,Soup,Hot\n'
    result = load_file(write(tmp_path, "m.csv", text))
    assert result.errors == []
    assert [doc.metadata["line"] for doc in result.documents] == [2, 5]
    assert result.documents[0].metadata["description"] == "Fresh handmade daily"


def test_blank_rows_are_skipped_silently(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "m.csv", "id,name\n\n1,A\n,\n  ,  \n2,B\n"))
    assert result.errors == [] and names(result) == ["A", "B"]
    assert [doc.metadata["line"] for doc in result.documents] == [3, 6]


def test_name_slug_and_hash_ids(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "m.csv", "name,price\nCrème Brûlée,5\nTarta de Santiago,6\n"))
    assert [doc.id for doc in result.documents] == ["creme-brulee", "tarta-de-santiago"]
    no_names = load_file(write(tmp_path, "colors.csv", "color,size\nred,L\n"))
    assert len(no_names.documents[0].id) == 16


def test_duplicate_ids_keep_the_first_row(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "m.csv", "sku,name\nA1,Pasta\nA2,Soup\nA1,Salad\n"))
    assert names(result) == ["Pasta", "Soup"]
    [error] = result.errors
    assert str(error) == (
        f"{tmp_path / 'm.csv'}, line 4: duplicate id 'A1' (first seen on line 2): make ids unique in the 'sku' column"
    )


def test_duplicate_names_without_id_column_suggest_an_id_column(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "m.csv", "name,size\nPizza,S\nPizza,L\n"))
    assert len(result.documents) == 1
    assert "duplicate id 'pizza' (first seen on line 2)" in result.errors[0].reason
    assert "add an 'id' column" in result.errors[0].reason


def test_wrong_column_counts(tmp_path: Path) -> None:
    header = "sku,name,price,category,brand,stock,tags,description,color"
    good = "A1,Pasta,12,Mains,Acme,3,vegan,Fresh,red"
    too_many = "A2,Soup,4,Starters,Acme,3,vegan,Hot, spicy, and tasty,red"
    too_few = "A3,Flan,3"
    path = write(tmp_path, "menu.csv", "\n".join([header, good, too_many, too_few, good.replace("A1", "A4")]) + "\n")
    result = load_file(path)
    assert [doc.id for doc in result.documents] == ["A1", "A4"]
    many, few = result.errors
    assert str(many) == (
        f"{path}, line 3: row has 11 values but the header has 9 columns: put quotes around values that contain commas"
    )
    assert many.line == 3 and many.source == str(path)
    assert "line 4" in str(few) and "3 values" in few.reason and "9 columns" in few.reason
    assert "add the missing values" in few.reason
    assert result.rows_seen == 4


def test_trailing_empty_values_are_tolerated(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "m.csv", "id,name\n1,A,,\n"))
    assert result.errors == [] and names(result) == ["A"]


def test_bad_price_is_a_row_error(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "m.csv", "name,price\nA,abc\nB,2\n"))
    assert names(result) == ["B"]
    assert str(result.errors[0]).endswith("line 2: price 'abc' is not a number: use digits like 19.99")


def test_row_without_name_or_id(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "m.csv", "sku,name,price\n,,3\nA2,Soup,4\n"))
    assert result.errors[0].line == 2
    assert "row has no name or id: fill in the 'name' column" in result.errors[0].reason


def test_unmatched_quote_does_not_swallow_rows(tmp_path: Path) -> None:
    text = 'id,name,price\n1,Pasta,10\n2,"Soup,8\n3,Salad,7\n4,Flan,5\n'
    result = load_file(write(tmp_path, "m.csv", text))
    assert names(result) == ["Pasta", "Salad", "Flan"]
    [error] = result.errors
    assert error.line == 3
    assert "unmatched quote" in error.reason and "close the quote" in error.reason


def test_unmatched_quote_that_closes_later_is_reported(tmp_path: Path) -> None:
    text = 'id,name,price\n1,"Pasta,10\n2,Soup,8\n3,Salad,7\n4,Tea,3\n5,Flan",5\n6,Cake,4\n'
    result = load_file(write(tmp_path, "m.csv", text))
    assert names(result) == ["Soup", "Salad", "Tea", 'Flan"', "Cake"]
    assert result.errors[0].line == 2 and "unmatched quote" in result.errors[0].reason


def test_stray_quote_is_a_row_error(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "m.csv", 'id,name,price\n1,"Big" pizza,10\n2,Soup,8\n'))
    assert names(result) == ["Soup"]
    assert result.errors[0].line == 2
    assert "double any quote" in result.errors[0].reason


def test_spaces_after_delimiters_and_old_mac_line_ends(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "m.csv", 'id, name, price\r1, Tea, "3,50"\r2, Cake, 4\r'))
    assert result.errors == []
    assert [(doc.metadata["name"], doc.metadata["price"], doc.metadata["line"]) for doc in result.documents] == [
        ("Tea", 3.5, 2), ("Cake", 4.0, 3),
    ]


def test_inch_marks_inside_values_are_fine(tmp_path: Path) -> None:
    result = load_file(write(tmp_path, "m.csv", 'id,name,price\n1,Pizza 12" grande,10\n'))
    assert names(result) == ['Pizza 12" grande'] and result.errors == []


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"])
@pytest.mark.parametrize("suffix", [".csv", ".md"])
def test_encodings_round_trip(tmp_path: Path, encoding: str, suffix: str) -> None:
    if suffix == ".csv":
        text = "nombre;precio;descripción\r\n" + "".join(f"{n};12,50 €;Sabor único\r\n" for n in SPANISH)
    else:
        text = "".join(f"## {n}\n\nPrecio 12,50 €, sabor único.\n\n" for n in SPANISH)
    result = load_file(write(tmp_path, f"carta{suffix}", text, encoding))
    assert names(result) == SPANISH
    assert all("€" in doc.page_content and "único" in doc.page_content for doc in result.documents)
    if suffix == ".csv":
        assert result.mapping is not None and result.mapping.headers[0] == "nombre"
        assert all(doc.metadata["currency"] == "EUR" for doc in result.documents)


def test_latin1_round_trip(tmp_path: Path) -> None:
    text = "name,notes\n" + "".join(f"{n},año\n" for n in SPANISH)
    assert names(load_file(write(tmp_path, "m.csv", text, "latin-1"))) == SPANISH


# --------------------------------------------------------------------------- JSON / JSONL


def test_json_array(tmp_path: Path) -> None:
    items = [
        {
            "id": "P1", "name": "Tea", "price": 3.5, "tags": ["vegan", "hot"],
            "specs": {"size": "L", "cup": {"color": "red"}},
        },
        {"id": "P2", "name": "Cake", "price": "4,00 €", "stock": 2},
        "not an object",
    ]
    path = write(tmp_path, "menu.json", json.dumps(items))
    result = load_file(path)
    tea, cake = result.documents
    assert tea.metadata["price"] == 3.5 and tea.metadata["tags"] == "vegan, hot"
    assert tea.metadata["specs.size"] == "L" and tea.metadata["specs.cup.color"] == "red"
    assert tea.page_content == "Tea\nid: P1\nprice: 3.5\ntags: vegan, hot\nspecs.size: L\nspecs.cup.color: red"
    assert cake.metadata["currency"] == "EUR" and cake.metadata["stock"] == 2
    assert [doc.metadata["line"] for doc in result.documents] == [1, 2]
    [error] = result.errors
    assert str(error).startswith(f"{path}, item 3: item is not an object (found \"not an object\"): write each")
    assert_chroma_safe(result)


def test_json_object_of_arrays(tmp_path: Path) -> None:
    data = {"store": "La Esquina", "products": [{"name": "Tea"}, {"name": "Cake"}], "drinks": [{"name": "Soda"}]}
    result = load_file(write(tmp_path, "shop.json", json.dumps(data, ensure_ascii=False)))
    assert names(result) == ["Tea", "Cake", "Soda"]
    assert [doc.metadata["line"] for doc in result.documents] == [1, 2, 3]


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '[\n  {"name": "Tea"},\n  {"name": "Cake",}\n]')
    with pytest.raises(CatalogFileError, match=r"bad\.json is not valid JSON .*line 3, column 19"):
        load_file(path)


def test_json_without_products(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match="no list of products"):
        load_file(write(tmp_path, "x.json", '{"store": "x", "open": true}'))


def test_jsonl_with_one_bad_line(tmp_path: Path) -> None:
    text = '{"sku": "1", "name": "Tea"}\n\n{"sku": "2", "name": "Cake"\n{"sku": "3", "name": "Pie"}\n[1, 2]\n'
    path = write(tmp_path, "items.jsonl", text)
    result = load_file(path)
    assert names(result) == ["Tea", "Pie"]
    assert [doc.metadata["line"] for doc in result.documents] == [1, 4]
    bad_json, not_object = result.errors
    assert str(bad_json).startswith(f"{path}, line 3: not valid JSON (")
    assert "fix or remove this line" in bad_json.reason
    assert not_object.line == 5 and "not an object" in not_object.reason


# --------------------------------------------------------------------------- Markdown / text


def test_markdown_sections(tmp_path: Path) -> None:
    text = (
        "Bienvenidos a la tienda.\n"
        "\n"
        "# Información\n"
        "## Formas de pago\n"
        "Efectivo y tarjeta.\n"
        "#### Detalle\n"
        "Sin recargo.\n"
        "```\n"
        "# not a heading\n"
        "```\n"
        "## Horario ##\n"
        "Lunes a viernes.\n"
        "## Formas de pago\n"
        "También transferencia.\n"
    )
    result = load_file(write(tmp_path, "info.md", text))
    assert [doc.id for doc in result.documents] == [
        "info#info", "info#formas-de-pago", "info#horario", "info#formas-de-pago-2",
    ]
    assert [doc.metadata["line"] for doc in result.documents] == [1, 4, 11, 13]
    pago = result.documents[1]
    assert pago.page_content == (
        "Formas de pago\nEfectivo y tarjeta.\n#### Detalle\nSin recargo.\n```\n# not a heading\n```"
    )
    assert pago.metadata["name"] == "Formas de pago" and pago.metadata["kind"] == "section"
    assert result.mapping is None
    assert_chroma_safe(result)


def test_markdown_with_only_headings(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match="no text under them"):
        load_file(write(tmp_path, "x.markdown", "# A\n## B\n"))


def test_text_sections(tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {i}. " + "words " * 60 for i in range(10)]
    result = load_file(write(tmp_path, "Políticas.txt", "\n\n\n".join(paragraphs) + "\n"))
    ids = [doc.id for doc in result.documents]
    assert ids == [f"politicas#{n}" for n in range(1, len(ids) + 1)]
    assert 3 <= len(ids) < 10
    assert all(len(doc.page_content) <= loaders.TXT_SECTION_CHARS for doc in result.documents)
    assert "\n\n".join(doc.page_content for doc in result.documents) == "\n\n".join(p.rstrip() for p in paragraphs)
    assert result.documents[0].metadata["line"] == 1
    assert result.documents[1].metadata["line"] == 1 + 3 * (len(result.documents[0].page_content.split("\n\n")))
    assert result.documents[0].metadata["kind"] == "section"


def test_long_paragraph_is_split_at_line_ends(tmp_path: Path) -> None:
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(60))
    result = load_file(write(tmp_path, "t.txt", text))
    assert len(result.documents) > 1
    assert "\n".join(doc.page_content for doc in result.documents) == text


# --------------------------------------------------------------------------- XLSX


def test_xlsx(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "stock.xlsx", {
        "Empty": [],
        "Products": [
            (None, None, None),
            ("Código", "Nombre", "Precio", "Existencias", "Peso"),
            (101, "Lasaña", 12.5, 3.0, 0.25),
            (None, None, None, None, None),
            (102, "Flan", "abc", 1, None),
            (103, "Café", 2, 10, None, "extra"),
        ],
    })
    result = load_file(path)
    [doc] = result.documents
    assert doc.id == "101" and doc.metadata["line"] == 3
    assert doc.metadata["price"] == 12.5 and doc.metadata["stock"] == 3 and doc.metadata["Peso"] == "0.25"
    assert doc.page_content == "Lasaña\nCódigo: 101\nPrecio: 12.5\nExistencias: 3\nPeso: 0.25"
    price, extra = result.errors
    assert str(price) == f"{path}, row 5: price 'abc' is not a number: use digits like 19.99"
    assert extra.line == 6 and "6 values but the header has 5 columns" in extra.reason
    assert_chroma_safe(result)


def test_broken_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CatalogFileError, match=r"broken\.xlsx cannot be opened as an Excel workbook"):
        load_file(path)


def test_xlsx_without_data(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match="no data in any sheet"):
        load_file(make_xlsx(tmp_path / "e.xlsx", {"A": []}))


# --------------------------------------------------------------------------- PDF


def test_pdf_pages(tmp_path: Path) -> None:
    path = tmp_path / "Menu.pdf"
    path.write_bytes(make_pdf([["Pasta 12.50", "Soup 4.00"], [], ["Desserts: flan"]]))
    result = load_file(path)
    assert [doc.id for doc in result.documents] == ["menu#p1", "menu#p3"]
    first = result.documents[0]
    assert "Pasta 12.50" in first.page_content and "Soup 4.00" in first.page_content
    assert first.metadata["name"] == "Menu p.1" and first.metadata["kind"] == "page"
    assert result.documents[1].metadata["line"] == 3
    assert result.rows_seen == 3 and result.mapping is None
    assert_chroma_safe(result)


def test_pdf_without_text(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([[], []]))
    with pytest.raises(CatalogFileError, match="no extractable text"):
        load_file(path)


def test_broken_pdf(tmp_path: Path) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(CatalogFileError, match="cannot be read as a PDF"):
        load_file(path)


# --------------------------------------------------------------------------- whole-file problems


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match=r"nope\.csv does not exist: check the path"):
        load_file(tmp_path / "nope.csv")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(CatalogFileError, match="is a directory"):
        load_file(tmp_path / "dir.csv")


def test_unsupported_suffix_lists_the_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match=r"unsupported file type '\.docx'") as info:
        load_file(write(tmp_path, "menu.docx", "x"))
    assert all(suffix in str(info.value) for suffix in SUPPORTED_SUFFIXES)


@pytest.mark.parametrize("content", [b"", b"  \n\n \r\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(CatalogFileError, match=r"empty\.csv is empty"):
        load_file(path)


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match="column names but no product rows"):
        load_file(write(tmp_path, "h.csv", "sku,name,price\n"))


def test_no_header_row(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match=r"no header row \(line 1 holds data.*add a first row with column names"):
        load_file(write(tmp_path, "n.csv", "1,2.50,3\n4,5,6\n"))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl", ".md", ".txt"])
def test_binary_garbage(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CatalogFileError, match="is not readable text"):
        load_file(path)


def test_renamed_excel_file_gets_a_hint(tmp_path: Path) -> None:
    source = make_xlsx(tmp_path / "real.xlsx", {"S": [("name",), ("Tea",)]})
    path = tmp_path / "renamed.csv"
    path.write_bytes(source.read_bytes())
    with pytest.raises(CatalogFileError, match=r"save it with the \.xlsx extension"):
        load_file(path)


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", "name\n" + "x" * 1_572_864 + "\n")
    with pytest.raises(CatalogFileError) as info:
        load_file(path, limits=UploadLimits(file_mb=1))
    assert str(info.value) == f"{path} is 1.5 MB, over the 1 MB limit for one file: split it into smaller files"


# --------------------------------------------------------------------------- strict mode and mappings


def test_strict_mode_refuses_files_with_row_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "name,price\nA,abc\nB,2\nC,x\n")
    with pytest.raises(CatalogFileError) as info:
        load_file(path, strict=True)
    message = str(info.value)
    assert "strict" in message and "2 row(s)" in message
    assert f"{path}, line 2: price 'abc' is not a number" in message and "line 4" in message


def test_strict_mode_accepts_clean_files(tmp_path: Path) -> None:
    assert names(load_file(write(tmp_path, "m.csv", "name\nA\n"), strict=True)) == ["A"]


def test_mapping_argument(tmp_path: Path) -> None:
    path = write(tmp_path, "artikel.csv", "Artikelnr;Bezeichnung;Preis\n77;Teekanne;19,90\n")
    result = load_file(path, mapping={"Artikelnr": "id", "Bezeichnung": "name", "Preis": "price"})
    [doc] = result.documents
    assert doc.id == "77" and doc.metadata["name"] == "Teekanne" and doc.metadata["price"] == 19.9


def test_sidecar_mapping_file(tmp_path: Path) -> None:
    path = write(tmp_path, "artikel.csv", "Artikelnr;Bezeichnung;Warengruppe\n77;Teekanne;Küche\n")
    sidecar = {"columns": {"Artikelnr": "id", "Bezeichnung": "name", "Warengruppe": "category"}}
    write(tmp_path, "artikel.csv.mapping.json", json.dumps(sidecar))
    [doc] = load_file(path).documents
    assert (doc.id, doc.metadata["name"], doc.metadata["category"]) == ("77", "Teekanne", "Küche")
    [doc] = load_file(path, mapping={"Warengruppe": "name"}).documents
    assert doc.metadata["name"] == "Küche" and doc.id == "77"


def test_unknown_role_in_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "a,b\n1,2\n")
    with pytest.raises(CatalogFileError, match=r"m\.csv: column mapping: unknown role 'nombre'.*id, name, price"):
        load_file(path, mapping={"a": "nombre"})
    write(tmp_path, "m.csv.mapping.json", json.dumps({"columns": {"a": "preis"}}))
    with pytest.raises(CatalogFileError, match="unknown role 'preis'"):
        load_file(path)


def test_malformed_sidecar(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "a,b\n1,2\n")
    write(tmp_path, "m.csv.mapping.json", '{"a": "id"}')
    with pytest.raises(CatalogFileError, match=r"no 'columns' object.*\{\"columns\""):
        load_file(path)


def test_portion_columns_take_the_name_their_section_gives_them(tmp_path: Path) -> None:
    """A tapas menu's wines use media_tabla for a glass and tabla for a bottle: the rows say copa/botella."""
    path = write(tmp_path, "carta.csv", "producto,categoria,tapa,media_tabla,tabla\n"
                                        "Jamón ibérico,IBÉRICOS,4.5,12,22\nRioja crianza,Vinos,0,3.5,18\n")
    sidecar = {"columns": {h: "price_option" for h in ("tapa", "media_tabla", "tabla")},
               "portion_names": {"VINOS": {"media_tabla": "copa", "Tabla": "botella"}}}
    write(tmp_path, "carta.csv.mapping.json", json.dumps(sidecar))
    result = load_file(path)
    ham, wine = result.documents
    assert wine.page_content == "Rioja crianza\ncategoria: Vinos\ncopa: 3.5\nbotella: 18"
    assert (wine.metadata["copa"], wine.metadata["botella"], wine.metadata["price"]) == (3.5, 18.0, 3.5)
    assert "media_tabla" not in wine.metadata and ham.metadata["media_tabla"] == 12.0 and "copa" not in ham.metadata
    assert field_keys(result.mapping)["price_option"] == ["tapa", "media_tabla", "tabla", "copa", "botella"]
    assert load_file(path).documents[1].metadata["content_hash"] == wine.metadata["content_hash"]  # stable


@pytest.mark.parametrize("names, message", [
    ({"VINOS": {"precio": "copa"}}, r"carta\.csv\.mapping\.json: 'portion_names' of 'VINOS' names 'precio', which is not "
                                    r"a portion price column of this file \(tapa, tabla\)"),
    ({"VINOS": {"tabla": "tapa"}}, r"gives 'tabla' the name 'tapa': use a word that is not empty"),
    (["copa"], r"'portion_names' must map a category to its columns' names"),
    ({"VINOS 66": {"tabla": "botella"}}, r"names the category 'VINOS 66', which no row of carta\.csv has: use one of Vinos"),
])
def test_bad_portion_names_name_the_sidecar_and_the_fix(tmp_path: Path, names, message) -> None:
    path = write(tmp_path, "carta.csv", "producto,categoria,tapa,tabla,precio\nRioja,Vinos,0,18,x\n")
    sidecar = {"columns": {"tapa": "price_option", "tabla": "price_option", "precio": "description"}, "portion_names": names}
    write(tmp_path, "carta.csv.mapping.json", json.dumps(sidecar))
    with pytest.raises(CatalogFileError, match=message):
        load_file(path)


def test_row_error_units() -> None:
    assert str(RowError("a/b.xlsx", 4, "x")) == "a/b.xlsx, row 4: x"
    assert str(RowError("b.json", 2, "x")) == "b.json, item 2: x"
    assert str(RowError("b.pdf", 1, "x")) == "b.pdf, page 1: x"
    assert str(RowError("b.CSV", 9, "x")) == "b.CSV, line 9: x"


# --------------------------------------------------------------------------- property test

CELL = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co")) | st.sampled_from(list(',;|\t"\'\n\r ')),
    max_size=25,
)


def collapse(text: str) -> str:
    return " ".join(text.split())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(CELL, CELL), min_size=1, max_size=15))
def test_csv_round_trip_property(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "name", "notes"])
    writer.writerows([f"P{i}", name, notes] for i, (name, notes) in enumerate(rows))
    path = write(tmp_path_factory.mktemp("prop"), "random.csv", buffer.getvalue())

    result = load_file(path)

    assert result.errors == []
    assert len(result.documents) == len(rows) == result.rows_seen
    assert [doc.id for doc in result.documents] == [f"P{i}" for i in range(len(rows))]
    for doc, (name, notes) in zip(result.documents, rows):
        if collapse(name):
            assert doc.metadata["name"] == collapse(name)
            assert doc.page_content.startswith(collapse(name) + "\n")
        if collapse(notes):
            assert doc.metadata["notes"] == collapse(notes)
            assert doc.page_content.endswith(f"notes: {collapse(notes)}")
        else:
            assert "notes" not in doc.metadata
    assert_chroma_safe(result)


# --------------------------------------------------------------------------- upload limits (issue #11)
# Each cap refuses with a message that names the file (and the line/row where it applies) and the fix;
# the good rows of the same file are kept when the problem is one row's. Timings live in bench/bench_uploads.py.

SMALL = UploadLimits(rows=3, columns=4, column_name_chars=20, cell_chars=100, depth=3, sections=3, pages=2)


def inline_row(number: int, values: list[str]) -> str:
    cells = "".join(
        f'<c r="{openpyxl.utils.get_column_letter(i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values, start=1)
    )
    return f'<row r="{number}">{cells}</row>'


@pytest.mark.parametrize(("name", "text", "unit"), [
    ("m.csv", "name\nA\nB\nC\nD\n", "lines"),
    ("m.jsonl", '{"name": "A"}\n{"name": "B"}\n{"name": "C"}\n{"name": "D"}\n', "lines"),
    ("m.json", '[{"name": "A"}, {"name": "B"}, {"name": "C"}, {"name": "D"}]', "items"),
])
def test_too_many_rows(tmp_path: Path, name: str, text: str, unit: str) -> None:
    path = write(tmp_path, name, text)
    assert names(load_file(path, limits=UploadLimits(rows=4))) == ["A", "B", "C", "D"]
    with pytest.raises(CatalogFileError) as info:
        load_file(path, limits=SMALL)
    assert str(info.value) == (
        f"{path} has more than 3 product {unit}, the limit for one file: split it into files of at most 3 {unit} "
        "(or raise CATALOG_LIMITS__ROWS)"
    )


def test_too_many_rows_in_a_sheet(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "big.xlsx", {"S": [("name",), ("A",), (None,), ("B",), ("C",), ("D",)]})
    with pytest.raises(CatalogFileError) as info:
        load_file(path, limits=SMALL)
    assert str(info.value) == (
        f"{path} has more than 3 product rows, the limit for one file: split it into files of at most 3 rows "
        "(or raise CATALOG_LIMITS__ROWS)"
    )
    assert names(load_file(path, limits=UploadLimits(rows=4))) == ["A", "B", "C", "D"]


def test_too_many_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "wide.csv", "name,a,b,c,d\nTea,1,2,3,4\n")
    with pytest.raises(CatalogFileError) as info:
        load_file(path, limits=SMALL)
    assert str(info.value) == (
        f"{path}, line 1: the header has 5 columns, over the limit of 4: keep the columns the catalog needs "
        "and delete the rest"
    )
    sheet = make_xlsx(tmp_path / "wide.xlsx", {"S": [("name", "a", "b", "c", "d"), ("Tea", 1, 2, 3, 4)]})
    with pytest.raises(CatalogFileError, match=r"wide\.xlsx, row 1: the header has 5 columns, over the limit of 4"):
        load_file(sheet, limits=SMALL)


def test_a_sheet_row_with_a_value_far_right_is_a_row_error(tmp_path: Path) -> None:
    rows = inline_row(1, ["name", "price"]) + inline_row(2, ["Tea", "3"]) + inline_row(3, ["Cake", "4"])
    rows += '<row r="4"><c r="A4" t="inlineStr"><is><t>Pie</t></is></c><c r="XFD4"><v>9</v></c></row>'
    path = write_xlsx_parts(tmp_path / "far.xlsx", rows)
    result = load_file(path, limits=SMALL)
    assert names(result) == ["Tea", "Cake"]
    assert [str(e) for e in result.errors] == [
        f"{path}, row 4: row has values in more than 4 columns, but the header has 2: "
        "delete the values right of the table"
    ]


def test_json_items_with_too_many_fields_or_names_too_long(tmp_path: Path) -> None:
    items = [{"name": "Tea"}, {"name": "Cake", "a": 1, "b": 2, "c": 3, "d": 4}, {"name": "Pie", "x" * 21: 1},
             {"name": "Flan", "a": {"b": 1, "c": 2, "d": 3, "e": 4}}]
    path = write(tmp_path, "m.json", json.dumps(items))
    result = load_file(path, limits=UploadLimits(columns=4, column_name_chars=20))
    assert names(result) == ["Tea"]
    assert [str(e) for e in result.errors] == [
        f"{path}, item 2: item has 5 fields, over the limit of 4 columns: keep the fields the catalog needs",
        f"{path}, item 3: item has a field name of 21 characters, over the limit of 20: shorten it",
        f"{path}, item 4: item has 5 fields, over the limit of 4 columns: keep the fields the catalog needs",
    ]


def test_json_items_with_too_many_different_fields(tmp_path: Path) -> None:
    items = [{"name": "Tea", "a": 1}, {"name": "Cake", "b": 2}, {"name": "Pie", "c": 3, "d": 4}]
    path = write(tmp_path, "m.json", json.dumps(items))
    with pytest.raises(CatalogFileError) as info:
        load_file(path, limits=SMALL)
    assert str(info.value) == (
        f"{path} has 5 different field names across its items, over the limit of 4 columns: "
        "give every product the same fields"
    )


def test_column_name_too_long(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "name," + "h" * 21 + "\nTea,1\n")
    with pytest.raises(CatalogFileError) as info:
        load_file(path, limits=SMALL)
    assert str(info.value) == (
        f"{path}, line 1: column 2's name is 21 characters long, over the limit of 20: shorten it "
        "(is the first row really the header?)"
    )


def test_cell_too_long_is_a_row_error_and_the_other_rows_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", f"name,notes\nTea,ok\nCake,{'x' * 101}\nPie,fine\n")
    result = load_file(path, limits=SMALL)
    assert names(result) == ["Tea", "Pie"]
    assert [str(e) for e in result.errors] == [
        f"{path}, line 3: the value in column 'notes' is 101 characters long, over the limit of 100: "
        "shorten it (a cell holds one product's text)"
    ]
    items = write(tmp_path, "m.jsonl", '{"name": "Tea"}\n' + json.dumps({"name": "Cake", "notes": "y" * 101}) + "\n")
    assert [e.reason for e in load_file(items, limits=SMALL).errors] == [
        "the value in column 'notes' is 101 characters long, over the limit of 100: "
        "shorten it (a cell holds one product's text)"
    ]


def test_a_csv_field_over_the_csv_module_limit_is_named_for_what_it_is(tmp_path: Path) -> None:
    """It was reported as a "stray quote"."""
    path = write(tmp_path, "m.csv", f"name,notes\nTea,ok\nCake,{'x' * 140_000}\nPie,fine\n")
    result = load_file(path)
    assert names(result) == ["Tea", "Pie"]
    assert [str(e) for e in result.errors] == [
        f"{path}, line 3: a value on this line is longer than 131,072 characters, over the limit of 32,768: "
        "shorten it (a cell holds one product's text)"
    ]
    quoted = write(tmp_path, "q.csv", 'name,notes\nTea,ok\nCake,"' + ("x" * 1000 + "\n") * 140 + '"\nPie,fine\n')
    result = load_file(quoted)
    assert names(result) == ["Tea", "Pie"]  # the lines it ran over are read again: each is a row error of its own
    assert str(result.errors[0]) == (
        f"{quoted}, line 3: a quoted value that starts on this line runs on to line 133 and past 131,072 characters: "
        "close its quote if it is unmatched (a cell may hold at most 32,768 characters)"
    )


def test_json_nested_too_deep(tmp_path: Path) -> None:
    deep = {"name": "Deep", "a": {"b": {"c": {"d": 1}}}}
    path = write(tmp_path, "m.json", json.dumps([{"name": "Tea", "a": {"b": [1]}}, deep, {"name": "Pie"}]))
    result = load_file(path, limits=SMALL)
    assert names(result) == ["Tea", "Pie"]
    assert [str(e) for e in result.errors] == [
        f"{path}, item 2: item nests objects or lists more than 3 levels deep: "
        "flatten it (plain fields, or lists of plain values)"
    ]


def test_json_nested_10000_deep_is_a_message_not_a_recursion_error(tmp_path: Path) -> None:
    path = write(tmp_path, "deep.json", "[" * 10_000 + "]" * 10_000)
    with pytest.raises(CatalogFileError) as info:
        load_file(path)
    assert str(info.value) == (
        f"{path} nests objects or lists too deeply to read (the limit is 20 levels): "
        "flatten it: one object per product, with plain fields"
    )
    lines = write(tmp_path, "deep.jsonl", '{"name": "Tea"}\n' + "[" * 10_000 + "]" * 10_000 + '\n{"name": "Pie"}\n')
    result = load_file(lines)
    assert names(result) == ["Tea", "Pie"]
    assert [str(e) for e in result.errors] == [
        f"{lines}, line 2: line nests objects or lists more than 20 levels deep: "
        "flatten it (plain fields, or lists of plain values)"
    ]


def test_json_numbers_too_long_or_too_large(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", '[{"name": "Tea", "price": ' + "9" * 5000 + "}]")
    with pytest.raises(CatalogFileError) as info:
        load_file(path)
    assert str(info.value) == (
        f"{path} cannot be read as JSON: a number in it has more than 4,300 digits: fix that value"
    )
    big = write(tmp_path, "big.json", '[{"name": "Tea", "price": 1' + "0" * 400 + '}, {"name": "Pie", "price": 2}]')
    result = load_file(big)
    assert names(result) == ["Pie"]
    assert [e.reason for e in result.errors] == [
        "price '10000000000000000000...' is too large to be a price: use digits like 19.99"
    ]


def test_a_broken_surrogate_in_json_is_a_row_error(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", '{"name": "Tea"}\n{"name": "Cake \\ud83d"}\n{"name": "Pie"}\n')
    result = load_file(path)
    assert names(result) == ["Tea", "Pie"]
    assert [str(e) for e in result.errors] == [
        f"{path}, line 2: the value of 'name' has a broken character (an unpaired UTF-16 surrogate such as "
        "\\ud83d, half of an emoji cut by the export): fix or remove it"
    ]


def test_too_many_markdown_sections(tmp_path: Path) -> None:
    path = write(tmp_path, "info.md", "".join(f"# S{i}\ntext {i}\n" for i in range(4)))
    with pytest.raises(CatalogFileError) as info:
        load_file(path, limits=SMALL)
    assert str(info.value) == (
        f"{path} has more than 3 sections (headings), the limit for one file: split it into smaller files"
    )
    exactly = write(tmp_path, "three.md", "".join(f"# S{i}\ntext {i}\n" for i in range(3)))
    assert names(load_file(exactly, limits=SMALL)) == ["S0", "S1", "S2"]


def test_a_markdown_section_too_long_is_a_row_error(tmp_path: Path) -> None:
    text = "# Hours\nOpen 9-5.\n# Returns\n" + ("word " * 30 + "\n") * 2 + "\n\n\n" + "# Pay\nCash.\n" + "\n" * 10_000
    path = write(tmp_path, "info.md", text)
    result = load_file(path, limits=SMALL)
    assert names(result) == ["Hours", "Pay"]
    assert result.documents[1].page_content == "Pay\nCash."
    assert [str(e) for e in result.errors] == [
        f"{path}, line 3: section 'Returns' is longer than 100 characters: split it with more headings (## ...)"
    ]


def test_text_files_too_many_sections_or_lines_too_long(tmp_path: Path) -> None:
    path = write(tmp_path, "t.txt", "\n\n".join("para " + "x" * 1200 for _ in range(4)))
    with pytest.raises(CatalogFileError) as info:
        load_file(path, limits=UploadLimits(sections=3))
    assert str(info.value) == (
        f"{path} has more than 3 sections (blocks of up to 1,200 characters), the limit for one file: "
        "split it into smaller files"
    )
    text = "Opening hours 9-5.\n\n" + "word " * 400_000 + "\n\nReturns within 30 days.\n"  # a 2 MB line
    one_line = write(tmp_path, "one.txt", text)
    result = load_file(one_line)
    assert [doc.page_content for doc in result.documents] == ["Opening hours 9-5.\n\nReturns within 30 days."]
    assert [str(e) for e in result.errors] == [
        f"{one_line}, line 3: line is 1,999,999 characters long, over the limit of 32,768: "
        "break it into lines or paragraphs"
    ]


def test_too_many_pdf_pages_and_a_page_too_long(tmp_path: Path) -> None:
    path = tmp_path / "menu.pdf"
    path.write_bytes(make_pdf([["Pasta 12.50"], ["Soup"], ["Flan"]]))
    with pytest.raises(CatalogFileError) as info:
        load_file(path, limits=SMALL)
    assert str(info.value) == f"{path} has 3 pages, over the limit of 2: split it into smaller PDFs"
    long_page = tmp_path / "long.pdf"
    long_page.write_bytes(make_pdf([["Pasta 12.50"], ["Soup " * 30]]))
    result = load_file(long_page, limits=SMALL)
    assert [doc.id for doc in result.documents] == ["long#p1"]
    [error] = result.errors
    assert str(error).startswith(f"{long_page}, page 2: the page has ")
    assert error.reason.endswith(
        "characters of text, over the limit of 100: copy its text into a .md file with a heading per part"
    )


# ---------------------------------------------------------------------- XLSX zip bombs and formulas


def test_a_workbook_that_unzips_too_large_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    rows = inline_row(1, ["name", "notes"])
    rows += "".join(inline_row(i, [f"P{i}", os.urandom(300).hex()]) for i in range(2, 2000))
    path = write_xlsx_parts(tmp_path / "big.xlsx", rows)
    with pytest.raises(CatalogFileError) as info:
        load_file(path, limits=UploadLimits(unzipped_mb=1))
    assert str(info.value) == (
        f"{path} unzips to 1 MB, over the 1 MB limit for a workbook: save the sheet as CSV, or split the workbook "
        "into smaller files"
    )


def test_a_shared_strings_bomb_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    path = write_xlsx_parts(tmp_path / "bomb.xlsx", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
                            shared="<si><t>aaaaaaaaaa</t></si>" * 200_000)
    with pytest.raises(CatalogFileError) as info:
        load_file(path)
    message = str(info.value)
    assert message.startswith(f"{path} looks like a zip bomb: its part xl/sharedStrings.xml unzips ")
    assert message.endswith(
        " times larger than it is stored (real workbooks: under 100): open it in Excel or LibreOffice and save it "
        "again, or save the sheet as CSV, or split the workbook into smaller files"
    )
    plain = "".join(f"<si><t>{os.urandom(20).hex()}</t></si>" for _ in range(15_000))
    strings = write_xlsx_parts(tmp_path / "strings.xlsx", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared=plain)
    with pytest.raises(CatalogFileError) as info:
        load_file(strings, limits=UploadLimits(unzipped_mb=1))
    assert str(info.value) == (
        f"{strings} has 1 MB of shared strings (the text of its cells), over the 0 MB limit: save the sheet as CSV, "
        "or split the workbook into smaller files"
    )


def test_formula_cells_give_their_saved_value_and_formula_like_text_stays_text(tmp_path: Path) -> None:
    rows = inline_row(1, ["name", "price", "link"])
    rows += ('<row r="2"><c r="A2" t="inlineStr"><is><t>Tea</t></is></c><c r="B2"><f>1+2</f><v>3</v></c>'
             '<c r="C2" t="inlineStr"><is><t>=HYPERLINK("http://x.example","click")</t></is></c></row>')
    rows += '<row r="3"><c r="A3" t="inlineStr"><is><t>Pie</t></is></c><c r="B3"><f>1+1</f></c></row>'
    path = write_xlsx_parts(tmp_path / "f.xlsx", rows)
    tea, pie = load_file(path).documents
    assert tea.metadata["price"] == 3.0 and tea.metadata["link"] == '=HYPERLINK("http://x.example","click")'
    assert "price" not in pie.metadata  # never calculated by Excel: no saved value, and nothing evaluates it
    csv_path = write(tmp_path, "f.csv", "name,notes\nTea,\"=cmd|' /C calc'!A0\"\nPie,=HYPERLINK(\"http://x\")\n")
    assert [d.metadata["notes"] for d in load_file(csv_path).documents] == ["=cmd|' /C calc'!A0", '=HYPERLINK("http://x")']


# --------------------------------------------------------------------------- encodings: never mojibake


def test_shift_jis_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "jp.csv", "sku,name,price\nA1,Green tea,3\nA2,緑茶,3\nA3,しょうゆ,2\n", "shift_jis")
    with pytest.raises(CatalogFileError) as info:
        load_file(path)
    assert str(info.value) == (
        f"{path}, line 3: not valid UTF-8, and not Western (Windows-1252) text either: the file is in another "
        "encoding (Japanese, Chinese, Cyrillic...); save the file as UTF-8 ('CSV UTF-8' in Excel, 'UTF-8' in "
        "your editor's Save As)"
    )


@pytest.mark.parametrize(("encoding", "name"), [
    ("gb18030", "绿茶"), ("gb18030", "北京烤鸭"), ("big5", "綠茶"), ("euc_kr", "녹차"), ("cp1251", "Зелёный чай"),
    ("shift_jis", "カタカナ"),
])
def test_other_encodings_are_refused_with_their_line(tmp_path: Path, encoding: str, name: str) -> None:
    text = "sku,name\n" + "".join(f"A{i},Tea {i}\n" for i in range(50)) + f"B1,{name}\n"  # one cell in 52 lines
    path = write(tmp_path, "x.csv", text, encoding)
    with pytest.raises(CatalogFileError, match=r"x\.csv, line 52: not valid UTF-8, and not Western \(Windows-1252\)"):
        load_file(path)
    assert load_file(write(tmp_path, "x.csv", text)).documents[-1].metadata["name"] == name  # as UTF-8 it loads


def test_a_csv_mixing_encodings_is_refused_with_the_first_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("name,notes\nCafé,crème\n".encode() + "Niño,año\n".encode("cp1252") + "Pan,ok\n".encode())
    with pytest.raises(CatalogFileError) as info:
        load_file(path)
    assert str(info.value) == (
        f"{path}, line 3: not valid UTF-8, but line 2 is: the file mixes text encodings (often rows pasted from "
        "another file); save the file as UTF-8 ('CSV UTF-8' in Excel, 'UTF-8' in your editor's Save As)"
    )


def test_a_bom_that_lies_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"name\nTea\nCaf\xe9\n")
    with pytest.raises(CatalogFileError) as info:
        load_file(path)
    assert str(info.value) == (
        f"{path}, line 3: not valid UTF-8, although the file starts with a UTF-8 byte-order mark: save the file "
        "as UTF-8 ('CSV UTF-8' in Excel, 'UTF-8' in your editor's Save As)"
    )
    path.write_bytes(codecs.BOM_UTF16_LE + "name\nTea\n".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(CatalogFileError, match=r"bom\.csv, line 3: not valid UTF-16, although the file starts with a"):
        load_file(path)


WESTERN = [
    "Naïve résumé™, €10 ©2024 • 50% off…", "«Postre» típico ¿verdad? ¡Sí!", "Straße „Hauptstraße“ 3, Grüße",
    "Crème brûlée à la française, œufs frais – très léger", "Marqués de Griñón", "Tagliatelle a la Boloñesa",
    "Pão de açúcar, opções sem glúten", "Jalapeño poppers £3.50 ½ price", "Café ‘latte’ 250 ml – 1,80 €",
]


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8"])
def test_western_text_with_typography_is_accepted(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, "w.tsv", "name\tnotes\n" + "".join(f"{text}\tok\n" for text in WESTERN), encoding)
    assert names(load_file(path)) == WESTERN


def test_replacement_characters_already_in_utf8_are_kept(tmp_path: Path) -> None:
    """An ERP export whose accents became U+FFFD before it was saved as UTF-8 (the household dev catalog)."""
    text = "Art\ufffdculo;Descripci\ufffdn;Precio tarjeta\n2074582;Bote p/ni\ufffdos;16449\n"
    path = write(tmp_path, "stock.csv", text)
    [doc] = load_file(path).documents
    assert doc.metadata["name"] == "Bote p/ni\ufffdos" and doc.id == "2074582"


# --------------------------------------------------------------------------- file names


def test_a_file_name_near_the_file_system_limit_loads(tmp_path: Path) -> None:
    """Its sidecar name (<file>.mapping.json) is too long to look up: that means there is none."""
    path = write(tmp_path, "p" * 240 + ".csv", "name\nTea\n")
    assert len(path.name) == 244 and names(load_file(path)) == ["Tea"]


def test_a_file_name_over_the_file_system_limit_is_a_message(tmp_path: Path) -> None:
    path = tmp_path / ("p" * 300 + ".csv")
    with pytest.raises(CatalogFileError) as info:
        load_file(path)
    assert str(info.value) == f"{path} cannot be opened (File name too long): give the file a shorter name"
