"""Photo -> product: ImageNet labels, then the store's rows found by meaning with the real e5 model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.errors import IndexMissingError, ToolInputError

IMAGES = Path(__file__).parent / "data" / "images"
CATALOG = (
    "id,name,category,price\n"
    "FR-01,Aguacate Hass,Fruta,2.50\n"
    "FR-02,Plátano de Canarias,Fruta,1.99\n"
    "VE-01,Zanahorias,Verdura,0.99\n"
    "FR-03,Limón,Fruta,0.50\n"
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory, embeddings):
    """A 4-row Spanish grocery catalog ingested into a temp store ("fruteria") with the real e5 model."""
    from ingest.pipeline import run
    from rag.factory import build_index
    from tests.conftest import make_settings

    tmp = tmp_path_factory.mktemp("vision")
    settings = make_settings(tmp / "data", default_store="fruteria")
    path = tmp / "fruteria.csv"
    path.write_text(CATALOG, encoding="utf-8")
    run([path], store="fruteria", settings=settings, embeddings=embeddings)
    return settings, build_index(settings)


@pytest.fixture(scope="module")
def imagenet():
    from finetune.effnet import ImageNetModel

    return ImageNetModel()


def test_banana_photo_finds_the_platano_row(shop, embeddings, imagenet):
    from tools.vision import identify

    settings, index = shop
    result = identify(IMAGES / "Banana" / "Banana_001.jpg", settings=settings, index=index, embeddings=embeddings,
                      store="fruteria", imagenet=imagenet)
    assert result.model == "efficientnet-lite0 (ImageNet-1k)"
    assert result.labels[0].label == "banana" and len(result.labels) == 5
    assert result.products[0].id == "FR-02" and result.products[0].name == "Plátano de Canarias"
    assert result.products[0].label == "banana"
    assert len(result.products) == 4 and result.ms > 0
    assert result.products[0].row["category"] == "Fruta"


def test_lemon_photo_finds_the_limon_row(shop, embeddings, imagenet):
    from tools.vision import identify

    settings, index = shop
    result = identify((IMAGES / "Lemon" / "Lemon_005.jpg").read_bytes(), settings=settings, index=index,
                      embeddings=embeddings, store="fruteria", imagenet=imagenet, name="upload.jpg")
    assert result.labels[0].label == "lemon"
    assert result.products[0].name == "Limón"


def test_bad_photo_names_the_file(shop, embeddings, imagenet):
    from tools.vision import identify

    settings, index = shop
    with pytest.raises(ToolInputError) as err:
        identify(b"GIF89a-not-really", settings=settings, index=index, embeddings=embeddings, imagenet=imagenet,
                 name="shelf.gif")
    assert str(err.value).startswith("shelf.gif: this is not an image file that can be read")


def test_unknown_store_is_an_error_only_when_named(shop, embeddings, imagenet, tmp_path):
    from tests.conftest import make_settings
    from tools.vision import identify

    settings, index = shop
    with pytest.raises(IndexMissingError, match="The store 'panaderia' has no index yet"):
        identify(IMAGES / "Banana" / "Banana_001.jpg", settings=settings, index=index, embeddings=embeddings,
                 store="panaderia", imagenet=imagenet)
    empty = make_settings(tmp_path / "data")  # default store never ingested: labels, no rows, a note
    result = identify(IMAGES / "Banana" / "Banana_001.jpg", settings=empty, embeddings=embeddings, imagenet=imagenet)
    assert result.labels[0].label == "banana" and result.products == []
    assert result.note.startswith(f"The store '{empty.default_store}' has no index yet")


def test_a_classifier_trained_for_the_store_is_used_first(shop, embeddings, tmp_path):
    from finetune.image import ImageTrainConfig, train_image_classifier
    from tools.vision import identify

    settings, index = shop
    root = tmp_path / "photos"
    for cls in ("Banana", "Lemon"):
        shutil.copytree(IMAGES / cls, root / cls)
    info = train_image_classifier(root, name="fruteria-photos", settings=settings, store="fruteria",
                                  config=ImageTrainConfig(stage1_epochs=3, stage2_epochs=1, augment=(), threads=1))
    try:
        result = identify(IMAGES / "Banana" / "Banana_003.jpg", settings=settings, index=index,
                          embeddings=embeddings, store="fruteria")
    finally:  # the other tests of this module use the ImageNet model for this store
        shutil.rmtree(info.dir)
    assert result.model == "fruteria-photos (fine-tuned efficientnet-lite0)"
    assert {lab.label for lab in result.labels} == {"Banana", "Lemon"}
    assert result.products[0].name in {"Plátano de Canarias", "Limón"}  # the class named first maps by meaning
    assert result.products[0].label in {"Banana", "Lemon"}


def test_image_cli_json_shape(shop, monkeypatch, capsys):
    from tools.__main__ import main

    settings, _ = shop
    monkeypatch.setenv("CATALOG_DATA_DIR", str(settings.data_dir))
    photo = str(IMAGES / "Banana" / "Banana_002.jpg")
    assert main(["image", "--store", "fruteria", "--imagenet-only", "--json", photo]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"labels", "products", "model"} <= set(out)
    assert out["labels"][0] == {"label": "banana", "score": out["labels"][0]["score"]}
    assert set(out["products"][0]) == {"id", "name", "score"} and out["products"][0]["id"] == "FR-02"
    assert out["model"] == "efficientnet-lite0 (ImageNet-1k)"


def test_image_cli_bad_file_exits_2_with_one_line(tmp_path, capsys):
    from tools.__main__ import main

    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert main(["image", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: empty.png: the file is empty (0 bytes). Choose a photo (JPEG, PNG or WebP)."]


# --------------------------------------------------------------------------- the Photo page
def _photo_page(shop, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app_pages import resources

    settings, _ = shop
    monkeypatch.setenv("CATALOG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CATALOG_DEFAULT_STORE", "fruteria")
    resources.get_settings.clear()
    resources.get_index.clear()
    page = Path(__file__).parent.parent / "app_pages" / "photo.py"
    at = AppTest.from_file(str(page), default_timeout=240)
    at.session_state["store"] = "fruteria"
    return at


def test_photo_page_shows_labels_and_matching_rows(shop, monkeypatch):
    at = _photo_page(shop, monkeypatch).run()
    assert not at.exception
    assert "Upload a photo" in at.info[-1].value
    data = (IMAGES / "Banana" / "Banana_001.jpg").read_bytes()
    at.file_uploader(key="photo_upload").set_value(("banana.jpg", data, "image/jpeg")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    labels, rows = at.dataframe[0].value, at.dataframe[1].value
    assert labels["label"].iloc[0] in {"banana", "Banana"}
    assert rows["name"].iloc[0] == "Plátano de Canarias"
    assert at.button[0].label == "💬 Ask about this product"
    assert any("Plátano de Canarias" in c.value for c in at.caption)


def test_photo_page_explains_a_bad_file(shop, monkeypatch):
    at = _photo_page(shop, monkeypatch).run()
    at.file_uploader(key="photo_upload").set_value(("broken.jpg", b"\xff\xd8\xff\xe0 not really", "image/jpeg")).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "broken.jpg: the image is damaged or cut short and cannot be decoded. Take or export the photo again."
    ]
