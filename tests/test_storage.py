"""Disk stays bounded: replaced versions and orphaned segment folders are reclaimed, a store can be
deleted completely (CLI, core and Catalog page). Real Chroma in tmp_path, real ingest, real e5."""

from __future__ import annotations

import re
import sqlite3
import uuid

import pytest
from filelock import FileLock

from ingest.__main__ import main as ingest_main
from ingest.pipeline import delete_store, run
from rag.errors import IndexMissingError, IngestLockedError
from rag.factory import build_index, build_retriever
from rag.models import embedding_id
from rag.store import REGISTRY, SQLITE_FILE, CatalogIndex, disk_usage

from .conftest import make_settings
from .test_indexer import base_rows, ids_in, write_csv


@pytest.fixture
def shop(tmp_path, embeddings):
    return make_settings(tmp_path / "data"), tmp_path, embeddings


def changed(n: int, round_: int) -> list[list[str]]:
    """The base rows with the first two prices changed in every round (each ingest embeds 2 rows)."""
    rows = base_rows(n)
    for r in rows[:2]:
        r[3] = f"{100 + round_}.00"
    return rows


def vector_folders(settings, *collections: str) -> set[str]:
    """The segment folder names Chroma uses for ``collections`` (their vector segment ids)."""
    con = sqlite3.connect(settings.chroma_dir / SQLITE_FILE)
    try:
        rows = con.execute(
            "SELECT s.id, c.name FROM segments s JOIN collections c ON c.id = s.collection WHERE s.scope = 'VECTOR'"
        ).fetchall()
    finally:
        con.close()
    return {seg for seg, name in rows if name in collections}


def folders_on_disk(settings) -> set[str]:
    return {d.name for d in settings.chroma_dir.iterdir() if d.is_dir()}


def test_changing_reingests_leave_only_the_live_and_the_replaced_version_on_disk(shop):
    settings, tmp, emb = shop
    f = tmp / "products.csv"
    for round_ in range(6):
        write_csv(f, changed(5, round_))
        rep = run([f], store="shop", settings=settings, embeddings=emb)[0]
        assert rep.embedded == (5 if round_ == 0 else 2)
    index = build_index(settings)
    live = index.info("shop")
    assert live.version == 6
    names = index.store_collections("shop")
    assert len(names) == 2 and names[-1] == live.collection and names[0].startswith("shop-v5-")
    assert folders_on_disk(settings) == vector_folders(settings, REGISTRY, *names)
    assert len(folders_on_disk(settings)) == 3

    # the next run drops the replaced version as it starts, even a run that changes nothing
    rep = run([f], store="shop", settings=settings, index=index, embeddings=emb)[0]
    assert not rep.changed
    assert index.store_collections("shop") == [live.collection]
    assert folders_on_disk(settings) == vector_folders(settings, REGISTRY, live.collection)
    assert ids_in(settings, "shop") == {f"SKU-{i:03d}" for i in range(5)}
    got = index.collection(live.collection).get(ids=["SKU-000"])
    assert got["metadatas"][0]["price"] == 105.0


def test_a_question_that_read_the_pointer_before_the_flip_can_still_read_its_version(shop):
    settings, tmp, emb = shop
    f = write_csv(tmp / "products.csv", base_rows(5))
    run([f], store="shop", settings=settings, embeddings=emb)
    index = build_index(settings)
    info, col = index.live_collection("shop", embedding_id(settings))  # what the retriever holds for one call

    write_csv(f, changed(5, 1))
    run([f], store="shop", settings=settings, embeddings=emb)  # publishes v2 while that call is still running

    assert index.info("shop").version == 2
    assert col.get(ids=["SKU-000"])["metadatas"][0]["price"] == 10.0
    hits = col.query(query_embeddings=[emb.embed_query("Widget 3")], n_results=1)
    assert hits["ids"] == [["SKU-003"]]
    run([f], store="shop", settings=settings, embeddings=emb)  # the next run (no change) drops it
    assert index.store_collections("shop") == [index.info("shop").collection] != [info.collection]


def test_versions_left_by_runs_that_died_after_publishing_are_reclaimed_by_the_next_run(shop, monkeypatch):
    """A kill -9 between the publish and the clean-up: every earlier version stays, the live one works,
    and the next complete run reclaims them all."""
    settings, tmp, emb = shop
    f = tmp / "products.csv"
    monkeypatch.setattr(CatalogIndex, "reclaim", lambda self, store, keep_replaced=False: [])
    for round_ in range(4):
        write_csv(f, changed(5, round_))
        run([f], store="shop", settings=settings, embeddings=emb)
    index = build_index(settings)
    assert len(index.store_collections("shop")) == 4
    assert len(folders_on_disk(settings)) == 5
    assert ids_in(settings, "shop") == {f"SKU-{i:03d}" for i in range(5)}

    monkeypatch.undo()
    write_csv(f, changed(5, 4))
    run([f], store="shop", settings=settings, embeddings=emb)
    names = index.store_collections("shop")
    assert names[-1] == index.info("shop").collection and len(names) == 2
    assert folders_on_disk(settings) == vector_folders(settings, REGISTRY, *names)


def test_an_orphaned_segment_folder_is_reclaimed_and_nothing_else(shop):
    settings, tmp, emb = shop
    f = write_csv(tmp / "products.csv", base_rows(5))
    run([f], store="shop", settings=settings, embeddings=emb)
    index = build_index(settings)
    # what chromadb leaves when a collection is deleted: its rows go, its HNSW folder stays
    scratch = index.client.create_collection("scratch-collection", embedding_function=None)
    scratch.add(ids=["a"], embeddings=[[0.1] * 384])
    left = vector_folders(settings, "scratch-collection")
    index.client.delete_collection("scratch-collection")
    assert left <= folders_on_disk(settings)
    stray = settings.chroma_dir / str(uuid.uuid4())  # a folder half-removed by a crash
    stray.mkdir()
    (stray / "data_level0.bin").write_bytes(b"\0" * 4096)
    not_ours = settings.chroma_dir / "backup-notes"  # not named like a segment: never touched
    not_ours.mkdir()

    assert index.sweep_folders() == 2

    live = index.info("shop").collection
    assert folders_on_disk(settings) == vector_folders(settings, REGISTRY, live) | {"backup-notes"}
    assert ids_in(settings, "shop") == {f"SKU-{i:03d}" for i in range(5)}


def test_delete_store_removes_everything_of_it_and_leaves_the_others_answering(shop, capsys, monkeypatch):
    settings, tmp, emb = shop
    monkeypatch.setenv("CATALOG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CATALOG_MODEL_DIR", str(settings.model_cache_dir))
    f = tmp / "products.csv"
    for round_ in range(3):
        write_csv(f, changed(5, round_))
        run([f], store="shop", settings=settings, embeddings=emb)
    other = write_csv(tmp / "other.csv", [["G-1", "Garden hose", "Garden", "19.00", "3", "A green garden hose, 20 m"],
                                          ["G-2", "Watering can", "Garden", "9.00", "2", "Metal watering can"]])
    run([other], store="shop-v2", settings=settings, embeddings=emb)  # a name that starts like shop's collections
    index = build_index(settings)
    kept = index.info("shop-v2")
    before = disk_usage(settings.chroma_dir)

    assert ingest_main(["--delete-store", "shop"]) == 0

    out = capsys.readouterr().out
    freed = re.fullmatch(r"Deleted store shop: 5 rows, 2 collections, freed (\d+\.\d) MB\n", out)
    assert freed, out
    after = disk_usage(settings.chroma_dir)
    assert float(freed[1]) == round((before.bytes - after.bytes) / 2**20, 1) and after.bytes < before.bytes
    assert index.info("shop") is None and index.store_collections("shop") == []
    assert [s.store for s in index.stores()] == ["shop-v2"]
    assert folders_on_disk(settings) == vector_folders(settings, REGISTRY, kept.collection)
    assert index.info("shop-v2") == kept
    retriever = build_retriever(settings, index, emb, "shop-v2")
    assert retriever.invoke("Do you have a garden hose?")[0].id == "G-1"


def test_deleting_an_unknown_store_names_the_stores_there_are(shop, capsys, monkeypatch):
    settings, tmp, emb = shop
    monkeypatch.setenv("CATALOG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CATALOG_MODEL_DIR", str(settings.model_cache_dir))
    assert ingest_main(["--delete-store", "nope"]) == 2
    assert capsys.readouterr().err == "error: There is no store named 'nope'. There are no stores yet.\n"

    run([write_csv(tmp / "a.csv", base_rows(2))], store="alpha", settings=settings, embeddings=emb)
    run([write_csv(tmp / "b.csv", base_rows(2))], store="beta", settings=settings, embeddings=emb)
    assert ingest_main(["--delete-store", "nope"]) == 2
    assert capsys.readouterr().err == "error: There is no store named 'nope'. The stores are: alpha, beta.\n"
    assert ingest_main(["--delete-store", "../../x"]) == 2
    assert "Invalid store name '../../x'" in capsys.readouterr().err
    assert ingest_main(["--delete-store", "alpha", "--store", "alpha"]) == 2
    assert capsys.readouterr().err == ("error: --delete-store takes only a store name (and --json); it cannot be "
                                       "combined with files or other ingest options.\n")
    assert [s.store for s in build_index(settings).stores()] == ["alpha", "beta"]


def test_delete_is_refused_while_an_ingest_of_that_store_holds_the_lock(shop):
    settings, tmp, emb = shop
    run([write_csv(tmp / "products.csv", base_rows(3))], store="shop", settings=settings, embeddings=emb)
    settings.locks_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.locks_dir / "shop.lock")):
        with pytest.raises(IngestLockedError) as err:
            delete_store("shop", settings=settings)
    assert str(err.value) == ("The store 'shop' is being ingested right now. "
                              "Wait for the ingest to finish and delete it again.")
    assert ids_in(settings, "shop") == {"SKU-000", "SKU-001", "SKU-002"}
    assert delete_store("shop", settings=settings).collections == 1  # once the ingest is done
    with pytest.raises(IndexMissingError, match=r"^There is no store named 'shop'\. There are no stores yet\.$"):
        delete_store("shop", settings=settings)


def test_catalog_page_deletes_the_store_after_its_name_is_typed(shop, monkeypatch):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    from app_pages import resources

    from .conftest import signed_in_as_admin
    from .test_app import APP, TIMEOUT, point_app_at

    settings, tmp, emb = shop
    run([write_csv(tmp / "products.csv", base_rows(3))], store="corner-shop", settings=settings, embeddings=emb)
    run([write_csv(tmp / "other.csv", base_rows(2))], store="other-shop", settings=settings, embeddings=emb)
    point_app_at(settings.data_dir, monkeypatch)
    try:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
        at.switch_page("app_pages/catalog.py")
        signed_in_as_admin(at, monkeypatch)  # the page is the admin's (a signed-out session sees no button)
        assert at.selectbox(key="store").value == "corner-shop"
        button = next(b for b in at.button if b.label == "Delete store")
        assert button.disabled
        confirm = next(t for t in at.text_input if t.label == "Type the store name to confirm")
        confirm.input("other-shop").run()
        assert next(b for b in at.button if b.label == "Delete store").disabled, "only the store's own name confirms"

        next(t for t in at.text_input if t.label == "Type the store name to confirm").input("corner-shop").run()
        next(b for b in at.button if b.label == "Delete store").click().run()

        assert not at.exception and not at.error
        assert at.success[0].value.startswith("Deleted store corner-shop: 3 rows, 1 collection, freed ")
        assert at.selectbox(key="store").options == ["other-shop"]
        index = build_index(settings)
        assert index.info("corner-shop") is None and index.store_collections("corner-shop") == []
        assert ids_in(settings, "other-shop") == {"SKU-000", "SKU-001"}
    finally:
        resources.get_settings.clear()
        resources.get_index.clear()
