"""Ingest into real Chroma with the real e5 embedder: idempotence, diffs, deletes, atomicity, lock."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from ingest.__main__ import main as ingest_main
from ingest.pipeline import run
from rag.errors import CatalogFileError, IngestLockedError
from rag.factory import build_index

from .conftest import ROOT, make_settings

HEADER = ["sku", "name", "category", "price", "stock", "description"]


def write_csv(path: Path, rows: list[list[str]], header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def base_rows(n: int = 5) -> list[list[str]]:
    return [[f"SKU-{i:03d}", f"Widget {i}", "Gadgets", f"{10 + i}.00", str(i), f"Widget number {i}"] for i in range(n)]


def ids_in(settings, store: str) -> set[str]:
    index = build_index(settings)
    info = index.info(store)
    return set(index.collection(info.collection).get()["ids"])


@pytest.fixture
def shop(tmp_path, embeddings):
    settings = make_settings(tmp_path / "data")
    return settings, tmp_path


def test_reingest_is_a_no_op(shop):
    settings, tmp = shop
    f = write_csv(tmp / "products.csv", base_rows())
    first = run([f], store="shop", settings=settings)[0]
    assert len(first.added) == 5 and first.embedded == 5
    info1 = build_index(settings).info("shop")
    second = run([f], store="shop", settings=settings)[0]
    assert (second.added, second.updated, second.removed, second.unchanged, second.embedded) == ([], {}, [], 5, 0)
    info2 = build_index(settings).info("shop")
    assert info2.collection == info1.collection and info2.version == info1.version, "nothing may be rewritten"
    assert ids_in(settings, "shop") == {f"SKU-{i:03d}" for i in range(5)}


def test_changes_are_reported_field_by_field_and_deletes_propagate(shop):
    settings, tmp = shop
    f = write_csv(tmp / "products.csv", base_rows())
    run([f], store="shop", settings=settings)
    rows = base_rows()
    rows[1][3] = "99.00"  # price change
    rows[2][3] = "77.00"
    rows[2][4] = "0"  # price + stock change
    del rows[4]  # removed
    rows.append(["SKU-100", "Brand new", "Gadgets", "5.00", "1", "New"])
    write_csv(f, rows)

    dry = run([f], store="shop", settings=settings, dry_run=True)[0]
    assert dry.dry_run and sorted(dry.updated) == ["SKU-001", "SKU-002"]
    assert ids_in(settings, "shop") == {f"SKU-{i:03d}" for i in range(5)}, "dry run must not write"

    rep = run([f], store="shop", settings=settings)[0]
    assert rep.added == ["SKU-100"]
    assert rep.updated == {"SKU-001": ["price"], "SKU-002": ["price", "stock"]}
    assert rep.removed == ["SKU-004"]
    assert rep.unchanged == 2 and rep.embedded == 3
    assert rep.field_changes()["price"] == 2
    assert "2 updated (2 price, 1 stock)" in rep.summary()
    assert ids_in(settings, "shop") == {"SKU-000", "SKU-001", "SKU-002", "SKU-003", "SKU-100"}
    index = build_index(settings)
    got = index.collection(index.info("shop").collection).get(ids=["SKU-001"])
    assert got["metadatas"][0]["price"] == 99.0


def test_rows_of_other_files_survive_and_rebuild_starts_over(shop):
    settings, tmp = shop
    a = write_csv(tmp / "a.csv", base_rows(3))
    b = write_csv(tmp / "b.csv", [["B-1", "Other thing", "Misc", "1.00", "1", "x"]])
    run([a, b], store="shop", settings=settings)
    write_csv(a, base_rows(2))
    rep = run([a], store="shop", settings=settings)[0]
    assert rep.removed == ["SKU-002"]
    assert ids_in(settings, "shop") == {"SKU-000", "SKU-001", "B-1"}
    sources = build_index(settings).info("shop").sources
    assert {name: s["rows"] for name, s in sources.items()} == {"a.csv": 2, "b.csv": 1}
    # a row that moves to another file is counted there, and a file left with no rows disappears
    write_csv(b, [["B-1", "Other thing", "Misc", "1.00", "1", "x"], ["SKU-001", "Widget 1", "Gadgets", "11.00", "1", "moved"]])
    run([b], store="shop", settings=settings)
    sources = build_index(settings).info("shop").sources
    assert {name: s["rows"] for name, s in sources.items()} == {"a.csv": 1, "b.csv": 2}
    rep = run([a], store="shop", settings=settings, rebuild=True)[0]
    assert rep.rebuilt and rep.removed == ["B-1"]
    assert ids_in(settings, "shop") == {"SKU-000", "SKU-001"}
    assert set(build_index(settings).info("shop").sources) == {"a.csv"}


def test_bad_rows_are_rejected_with_file_and_line_and_good_rows_kept(shop, capsys, monkeypatch):
    settings, tmp = shop
    monkeypatch.setenv("CATALOG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CATALOG_MODEL_DIR", str(settings.model_cache_dir))
    f = tmp / "till.csv"
    f.write_text(
        "sku,name,price\nA-1,Good one,3.50\nA-2,Bad price,abc\nA-3,Too,many,values,here\nA-4,Also good,2\n",
        encoding="utf-8",
    )
    code = ingest_main(["--store", "shop", "-q", str(f)])
    out = capsys.readouterr().out
    assert code == 1, "a run that rejected rows must exit non-zero"
    assert "2 added" in out and "2 rejected" in out
    assert f"rejected: {f}, line 3: price 'abc' is not a number" in out
    assert f"{f}, line 4:" in out
    assert ids_in(settings, "shop") == {"A-1", "A-4"}


def test_cli_json_report_and_missing_file(shop, capsys, monkeypatch):
    settings, tmp = shop
    monkeypatch.setenv("CATALOG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CATALOG_MODEL_DIR", str(settings.model_cache_dir))
    f = write_csv(tmp / "products.csv", base_rows(3))
    assert ingest_main(["--store", "shop", "--json", str(f)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in ("added", "updated", "removed", "unchanged", "rejected")} == {
        "added": 3, "updated": 0, "removed": 0, "unchanged": 0, "rejected": 0}
    assert sorted(report["details"]["added"]) == ["SKU-000", "SKU-001", "SKU-002"]
    assert report["mappings"]["products.csv"] == {"sku": "id", "name": "name", "category": "category", "price": "price",
                                                  "stock": "stock", "description": "description"}
    assert ingest_main(["--store", "shop", str(tmp / "nope.csv")]) == 2
    assert "nope.csv does not exist: check the path" in capsys.readouterr().err
    assert ids_in(settings, "shop") == {"SKU-000", "SKU-001", "SKU-002"}, "a failed run must not lose anything"


def test_a_second_ingest_is_refused_while_one_runs(shop):
    settings, tmp = shop
    f = write_csv(tmp / "products.csv", base_rows(2))
    settings.locks_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.locks_dir / "shop.lock")):
        with pytest.raises(IngestLockedError, match="Another ingest is writing to the store 'shop'"):
            run([f], store="shop", settings=settings)


def test_missing_sample_folder_is_a_clear_error(tmp_path):
    settings = make_settings(tmp_path / "data", catalog_dir=tmp_path / "nowhere")
    with pytest.raises(CatalogFileError, match="sample catalog folder .* does not exist"):
        run(settings=settings)


def test_missing_path_is_a_clear_error(shop):
    settings, tmp = shop
    with pytest.raises(CatalogFileError, match="does not exist: check the path"):
        run([tmp / "missing.csv"], store="shop", settings=settings)


def test_kill_during_ingest_keeps_the_previous_index(shop):
    """A kill -9 mid-embedding leaves the old index live; the next run completes with no duplicates."""
    settings, tmp = shop
    f = write_csv(tmp / "products.csv", base_rows(5))
    run([f], store="shop", settings=settings)
    before = build_index(settings).info("shop")
    big = [[f"SKU-{i:05d}", f"Gizmo {i}", "Gadgets", "1.00", "1", "a fairly long description " * 8] for i in range(3000)]
    write_csv(f, big)
    env = {**os.environ, "CATALOG_DATA_DIR": str(settings.data_dir), "CATALOG_MODEL_DIR": str(settings.model_cache_dir),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest", "--store", "shop", str(f)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 120
    seen = ""
    while time.time() < deadline and "embedding" not in seen:
        seen += proc.stderr.read(1) or ""
        if proc.poll() is not None:
            break
    time.sleep(1.0)
    assert proc.poll() is None, f"ingest finished before it could be killed: {seen[-300:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    after = build_index(settings).info("shop")
    assert after == before, "the live index must be the previous one"
    assert ids_in(settings, "shop") == {f"SKU-{i:03d}" for i in range(5)}
    write_csv(f, big[:50])
    rep = run([f], store="shop", settings=settings)[0]
    assert len(rep.added) == 50 and len(rep.removed) == 5
    index = build_index(settings)
    names = [c if isinstance(c, str) else c.name for c in index.client.list_collections()]
    assert sorted(n for n in names if n.startswith("shop-")) == [before.collection, index.info("shop").collection], \
        "the killed build is cleaned; the version the run replaced is kept until the next run"
    assert len(ids_in(settings, "shop")) == 50


def test_reads_are_paged_so_large_stores_work(shop, monkeypatch):
    """Chroma fails one get() of > 32,766 rows; with a page of 2 every read must still see every row."""
    import rag.store

    settings, tmp = shop
    monkeypatch.setattr(rag.store, "PAGE", 2)
    f = write_csv(tmp / "products.csv", base_rows(5))
    run([f], store="shop", settings=settings)
    rows = base_rows(5)
    rows[3][3] = "50.00"
    write_csv(f, rows)
    rep = run([f], store="shop", settings=settings)[0]
    assert (rep.unchanged, list(rep.updated), rep.removed) == (4, ["SKU-003"], [])
    index = build_index(settings)
    got = rag.store.get_all(index.collection(index.info("shop").collection), ["metadatas"])
    assert sorted(got["ids"]) == [f"SKU-{i:03d}" for i in range(5)] and len(got["metadatas"]) == 5


def test_the_store_records_its_currency_language_and_field_roles(shop):
    """Decided once at ingest, read by the assistant: never a default currency; an override is kept."""
    settings, tmp = shop
    header = ["código", "producto", "categoría", "subcategoría", "precio", "descripción"]
    rows = [["A1", "Yogur natural", "Lácteos", "Yogures", "1,25", "Pack de cuatro yogures naturales de vaca"],
            ["A2", "Leche entera", "Lácteos", "Leches", "0,99", "Leche entera de vaca en brick de un litro"]]
    f = write_csv(tmp / "super.csv", rows, header)
    report = run([f], store="super", settings=settings)[0]
    info = build_index(settings).info("super")
    assert (report.currency, info.currency, info.currency_source) == ("", "", "")  # nothing says: no symbol
    assert info.language == "es"
    assert info.fields["category"] == ["category", "subcategoría"] and info.fields["price"] == ["price"]
    again = run([f], store="super", settings=settings, currency="eur")[0]  # nothing else changed: facts only
    info = build_index(settings).info("super")
    assert (again.currency, info.currency, info.currency_source, again.embedded) == ("EUR", "EUR", "override", 0)
    run([f], store="super", settings=settings)  # a later plain ingest keeps the user's choice
    assert build_index(settings).info("super").currency == "EUR"


def test_currency_from_amounts_written_in_the_rows(shop):
    settings, tmp = shop
    rows = [[f"S{i}", f"Aceite {i}", "Aceites", f"{3 + i}.50", "5", f"Botella de 1 L ({3 + i},50 €/L)"] for i in range(3)]
    run([write_csv(tmp / "p.csv", rows)], store="oil", settings=settings)
    info = build_index(settings).info("oil")
    assert (info.currency, info.currency_source) == ("EUR", "text")


def test_a_currency_that_is_not_a_code_is_refused_with_the_fix(shop):
    settings, tmp = shop
    with pytest.raises(CatalogFileError, match="three letters such as EUR"):
        run([write_csv(tmp / "p.csv", base_rows(1))], store="shop", settings=settings, currency="euros")


def test_reserved_chroma_column_names_are_stored_renamed_and_nothing_aborts(shop):
    """A column named chroma:document made chromadb refuse the batch (ValueError) and the whole ingest abort."""
    settings, tmp = shop
    header = ["sku", "name", "chroma:document", "chroma:uri", "#misc", "$and"]
    rows = [["O-1", "Odd one", "doc", "uri", "t", "a"], ["O-2", "Odd two", "", "", "", ""]]
    odd = write_csv(tmp / "odd.csv", rows, header)
    plain = write_csv(tmp / "plain.csv", base_rows(2))
    report = run([odd, plain], store="shop", settings=settings)[0]
    assert sorted(report.added) == ["O-1", "O-2", "SKU-000", "SKU-001"] and report.rejected == []
    index = build_index(settings)
    got = index.collection(index.info("shop").collection).get(ids=["O-1"])
    meta = got["metadatas"][0]
    assert {k: meta[k] for k in ("column chroma:document", "column chroma:uri", "column #misc", "column $and")} == {
        "column chroma:document": "doc", "column chroma:uri": "uri", "column #misc": "t", "column $and": "a"}
    assert got["documents"][0] == "Odd one\nsku: O-1\nchroma:document: doc\nchroma:uri: uri\n#misc: t\n$and: a"


def test_limits_come_from_settings_and_a_refused_file_loses_no_stored_row(shop):
    settings, tmp = shop
    small = make_settings(settings.data_dir, limits={"rows": 3})
    good = write_csv(tmp / "products.csv", base_rows(3))
    run([good], store="shop", settings=small)
    big = write_csv(tmp / "more.csv", [[f"M-{i}", f"More {i}", "Gadgets", "1.00", "1", "x"] for i in range(4)])
    with pytest.raises(CatalogFileError) as info:
        run([good, big], store="shop", settings=small)
    assert str(info.value) == (
        f"{big} has more than 3 product lines, the limit for one file: split it into files of at most 3 lines "
        "(or raise CATALOG_LIMITS__ROWS)"
    )
    assert ids_in(settings, "shop") == {"SKU-000", "SKU-001", "SKU-002"}
    assert len(run([good, big], store="shop", settings=make_settings(settings.data_dir))[0].added) == 4


def test_a_file_name_too_long_for_the_file_system_is_a_message(shop, capsys, monkeypatch):
    settings, tmp = shop
    monkeypatch.setenv("CATALOG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CATALOG_MODEL_DIR", str(settings.model_cache_dir))
    long_ok = write_csv(tmp / ("p" * 240 + ".csv"), base_rows(1))  # its .mapping.json name is too long to look up
    assert ingest_main(["--store", "shop", "-q", str(long_ok)]) == 0
    too_long = tmp / ("p" * 300 + ".csv")
    assert ingest_main(["--store", "shop", "-q", str(too_long)]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "cannot be opened (File name too long): check the path, or give the file a shorter name."
    )
    assert ids_in(settings, "shop") == {"SKU-000"}
