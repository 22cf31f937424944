"""Image fine-tuning: EfficientNet-Lite0 preprocessing, bad-file messages, a tiny real training run.

Real weights, real photos (tests/data/images: downsized GroceryStoreDataset photos, MIT), real
training on a few images for one or two epochs, then the saved folder is loaded and predicts.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from finetune import effnet
from finetune.image import ImageTrainConfig, load_image_classifier, load_report, train_image_classifier
from finetune.predict import load_classifier
from finetune.registry import get_model, list_models
from rag.errors import DataValidationError, FineTuneError, ToolInputError
from tests.conftest import signed_in_as_admin

IMAGES = Path(__file__).parent / "data" / "images"
TINY = ImageTrainConfig(stage1_epochs=2, stage2_epochs=1, augment=(), threads=1)


# --------------------------------------------------------------------------- preprocessing
def test_weights_are_verified_by_hash():
    path = effnet.weights_path()
    assert path.name == "efficientnet-lite0-57934424.pth"
    from rag.models import _sha256_file

    assert _sha256_file(path) == effnet.WEIGHTS_SHA256


def test_preprocess_shape_range_and_normalisation():
    image = Image.new("RGB", (400, 300), (255, 0, 128))
    arr = effnet.preprocess(image)
    assert arr.shape == (3, 224, 224) and arr.dtype == np.float32
    assert np.allclose(arr[0], 1.0) and np.allclose(arr[1], -1.0)  # (x/255 - 0.5) / 0.5
    assert np.allclose(arr[2], 128 / 255 / 0.5 - 1.0, atol=1e-6)
    batch = effnet.to_batch([arr, arr])
    assert tuple(batch.shape) == (2, 3, 224, 224) and batch.is_contiguous()


def test_resize_crop_keeps_the_centre():
    image = Image.new("RGB", (600, 300), (0, 0, 0))
    image.paste((255, 255, 255), (250, 0, 350, 300))  # a white band in the middle
    crop = effnet.resize_crop(image)
    assert crop.size == (224, 224)
    assert crop.getpixel((112, 112)) == (255, 255, 255) and crop.getpixel((2, 112)) == (0, 0, 0)


def _with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif.tobytes(), quality=95)
    return buf.getvalue()


def test_exif_orientation_is_applied():
    upright = Image.new("RGB", (40, 60), (0, 0, 0))
    upright.paste((255, 0, 0), (0, 0, 40, 10))  # red band at the top
    stored = upright.rotate(90, expand=True)  # what a phone writes: pixels sideways + Orientation=6
    image = effnet.open_image(_with_orientation(stored, 6), name="phone.jpg")
    assert image.size == (40, 60)
    r, g, b = image.getpixel((20, 3))
    assert r > 200 and g < 60 and b < 60
    assert image.getpixel((20, 50))[0] < 60


def test_a_sideways_phone_photo_is_still_a_banana():
    stored = Image.open(IMAGES / "Banana" / "Banana_002.jpg").rotate(90, expand=True)
    model = effnet.ImageNetModel()
    top = model.top([effnet.open_image(_with_orientation(stored, 6), name="banana.jpg")])[0]
    assert top[0].label == "banana"


def test_imagenet_labels_on_real_photos():
    model = effnet.ImageNetModel()
    photos = [IMAGES / "Banana" / "Banana_001.jpg", IMAGES / "Lemon" / "Lemon_005.jpg"]
    tops = model.top([effnet.open_image(p) for p in photos])
    assert [t[0].label for t in tops] == ["banana", "lemon"]
    assert len(tops[0]) == 5 and tops[0][0].score > 0.5
    assert len(effnet.imagenet_labels()) == 1000


# --------------------------------------------------------------------------- bad files, word for word
def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ToolInputError) as err:
        effnet.open_image(path)
    assert str(err.value) == "empty.jpg: the file is empty (0 bytes). Choose a photo (JPEG, PNG or WebP)."


def test_not_an_image(tmp_path):
    path = tmp_path / "menu.pdf"
    path.write_bytes(b"%PDF-1.4 this is a document, not a photo")
    with pytest.raises(ToolInputError) as err:
        effnet.open_image(path)
    assert str(err.value) == (
        "menu.pdf: this is not an image file that can be read (JPEG, PNG, WebP, BMP, GIF or TIFF). "
        "iPhone HEIC photos: export them as JPEG first."
    )


def test_corrupt_image(tmp_path):
    data = (IMAGES / "Banana" / "Banana_001.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 3])  # a transfer that stopped half-way
    with pytest.raises(ToolInputError) as err:
        effnet.open_image(path)
    assert str(err.value) == (
        "cut.jpg: the image is damaged or cut short and cannot be decoded. Take or export the photo again."
    )


def test_fifty_megapixel_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("1", (8660, 5774)).save(path)  # 50 MP, a few KB on disk
    with pytest.raises(ToolInputError) as err:
        effnet.open_image(path)
    assert str(err.value) == (
        "huge.png: the image is too large (8660x5774 pixels, 50 megapixels); the limit is 40 megapixels. "
        "Resize it (any photo app can) and try again."
    )


def test_missing_file(tmp_path):
    with pytest.raises(ToolInputError) as err:
        effnet.open_image(tmp_path / "nope.jpg")
    assert str(err.value) == f"nope.jpg: file not found ({tmp_path / 'nope.jpg'})."


# --------------------------------------------------------------------------- training data checks
def _two_classes(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for cls in ("Banana", "Lemon"):
        shutil.copytree(IMAGES / cls, root / cls)
    return root


def test_too_few_photos_per_class_names_each_class(settings):
    with pytest.raises(DataValidationError) as err:
        train_image_classifier(IMAGES, name="few", settings=settings, config=TINY)
    assert err.value.problems == [
        "Class 'Avocado' has 1 usable photo; at least 5 per class are needed (add 4 more).",
        "Class 'Carrots' has 1 usable photo; at least 5 per class are needed (add 4 more).",
    ]
    assert str(err.value).startswith("images: 2 class(es) have too few photos. Class 'Avocado' has 1 usable photo;")


def test_one_class_is_not_enough(tmp_path, settings):
    shutil.copytree(IMAGES / "Banana", tmp_path / "only" / "Banana")
    (tmp_path / "only" / "notes.txt").write_text("x")
    with pytest.raises(DataValidationError) as err:
        train_image_classifier(tmp_path / "only", name="one", settings=settings, config=TINY)
    assert str(err.value) == (
        f"{tmp_path / 'only'}: an image classifier needs at least 2 classes, one sub-folder per class "
        "(for example Banana/*.jpg and Lemon/*.jpg); found 1 (Banana)."
    )


def test_zip_with_path_traversal_is_refused(tmp_path, settings):
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../outside.jpg", b"x")
    with pytest.raises(DataValidationError) as err:
        train_image_classifier(bad, name="evil", settings=settings, config=TINY)
    assert str(err.value) == "evil.zip: unsafe path inside the zip ('../outside.jpg'); refusing to unpack it."
    assert not (tmp_path.parent / "outside.jpg").exists()


def test_missing_source(tmp_path, settings):
    with pytest.raises(FineTuneError) as err:
        train_image_classifier(tmp_path / "nowhere", name="x", settings=settings)
    assert str(err.value) == (
        f"{tmp_path / 'nowhere'}: not found. Give a folder with one sub-folder per class, or a .zip of it."
    )


# --------------------------------------------------------------------------- a tiny real training run
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Banana vs Lemon from a zip (5 photos each + one damaged file), 2+1 epochs."""
    from tests.conftest import make_settings

    tmp = tmp_path_factory.mktemp("image-train")
    settings = make_settings(tmp / "data")
    archive = tmp / "fruit.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for cls in ("Banana", "Lemon"):
            for f in sorted((IMAGES / cls).glob("*.jpg")):
                zf.write(f, f"fruit/{cls}/{f.name}")
        zf.writestr("fruit/Lemon/broken.jpg", (IMAGES / "Lemon" / "Lemon_001.jpg").read_bytes()[:500])
        zf.writestr("fruit/Lemon/.DS_Store", b"junk")
    events = []
    info = train_image_classifier(archive, name="fruit", settings=settings, store="grocery",
                                  progress=events.append, config=TINY)
    return settings, info, events


def test_training_saves_a_complete_model_folder(trained):
    settings, info, events = trained
    assert info.kind == "image" and info.base == "efficientnet-lite0" and info.store == "grocery"
    assert info.labels == ("Banana", "Lemon")
    names = {p.name for p in info.dir.iterdir()}
    assert {"model.safetensors", "config.json", "metrics.json", "training_args.json", "README.md",
            "catalog_model.json"} <= names
    config = json.loads((info.dir / "config.json").read_text())
    assert config["id2label"] == {"0": "Banana", "1": "Lemon"}
    assert config["preprocessing"]["center_crop"] == 224 and config["preprocessing"]["mean"] == [0.5, 0.5, 0.5]
    stages = {e.stage for e in events}
    assert {"features", "stage 1", "stage 2", "evaluate", "save"} <= stages


def test_damaged_photos_are_listed_and_skipped(trained):
    _, info, _ = trained
    report = load_report(info)
    assert report["skipped"] == [{
        "file": "Lemon/broken.jpg",
        "reason": "Lemon/broken.jpg: the image is damaged or cut short and cannot be decoded. "
                  "Take or export the photo again.",
    }]
    assert info.metrics["skipped"] == 1
    assert report["train_images"] + report["val_images"] == 10  # 5 + 5 usable
    assert report["val_images"] == 2  # stratified: one per class
    assert len(report["curves"]["stage 1"]) == 2 and len(report["curves"]["stage 2"]) == 1
    assert set(report["curves"]["stage 1"][0]) == {"epoch", "loss", "val_loss", "val_accuracy"}
    assert len(report["confusion_matrix"]) == 2 and sum(map(sum, report["confusion_matrix"])) == 2
    assert set(report["per_class"]["Banana"]) == {"precision", "recall", "f1", "support"}


def test_model_card_has_its_fields(trained):
    _, info, _ = trained
    card = (info.dir / "README.md").read_text()
    head = card.split("---")[1]
    import yaml

    meta = yaml.safe_load(head)
    assert meta["pipeline_tag"] == "image-classification"
    assert meta["base_model"].startswith("efficientnet-lite0")
    assert meta["model-index"][0]["results"][0]["metrics"][0]["type"] == "accuracy"
    for needle in ("| 0 | Banana | ", "| 1 | Lemon | ", "Confusion matrix", "### Stage 1 (per epoch)",
                   "### Stage 2 (per epoch)", "Skipped 1 unreadable file(s)", "- torch ", "stage1_lr"):
        assert needle in card


def test_saved_model_is_listed_loads_and_predicts(trained):
    settings, info, _ = trained
    assert [m.name for m in list_models(settings, "image")] == ["fruit"]
    again = get_model(settings, "fruit", "image")
    clf = load_classifier(again)
    assert clf.info.name == "fruit"
    preds = clf.predict([IMAGES / "Banana" / "Banana_001.jpg", Image.open(IMAGES / "Lemon" / "Lemon_002.jpg")],
                        all_scores=True)
    assert len(preds) == 2
    for p in preds:
        assert p.label in {"Banana", "Lemon"} and 0.5 <= p.score <= 1.0
        assert set(p.scores) == {"Banana", "Lemon"} and abs(sum(p.scores.values()) - 1) < 1e-4
    with pytest.raises(ToolInputError, match="^the photo: the file is empty"):
        load_image_classifier(again).predict([b""])


def test_train_image_cli_json(tmp_path, monkeypatch, capsys):
    from finetune.__main__ import main

    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    root = _two_classes(tmp_path)
    import finetune.image as image_mod

    original = image_mod.ImageTrainConfig
    monkeypatch.setattr(image_mod, "ImageTrainConfig", lambda: original(stage1_epochs=1, stage2_epochs=0,
                                                                         augment=(), threads=1))
    assert main(["train-image", str(root), "--name", "cli-fruit", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) == {"name", "dir", "base", "metrics", "train_s"}
    assert out["name"] == "cli-fruit" and out["base"] == "efficientnet-lite0"
    assert {"accuracy", "macro_f1", "per_class"} <= set(out["metrics"])
    assert Path(out["dir"]).joinpath("model.safetensors").is_file()


def test_train_image_cli_bad_input_exits_2(tmp_path, monkeypatch, capsys):
    from finetune.__main__ import main

    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    assert main(["train-image", str(IMAGES), "--name", "few"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: images: 2 class(es) have too few photos.")


# --------------------------------------------------------------------------- the Fine-tune page, image tab
def test_image_tab_trains_in_the_background_and_shows_the_evaluation(tmp_path, monkeypatch):
    import time

    from streamlit.testing.v1 import AppTest

    from app_pages import resources

    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    resources.get_settings.clear()
    resources.get_index.clear()
    root = _two_classes(tmp_path)
    at = AppTest.from_string("from app_pages.finetune_image import render\nrender()\n", default_timeout=240)
    at.session_state["store"] = "techstore"
    signed_in_as_admin(at, monkeypatch)
    assert not at.exception
    assert "No image classifiers saved yet." in [c.value for c in at.caption]
    at.radio(key="ft_image_how").set_value("A folder on this computer").run()
    at.text_input(key="ft_image_path").set_value(str(root)).run()
    assert "**2 classes, 10 photos**" in [m.value for m in at.markdown]
    assert not at.warning
    at.text_input(key="ft_image_name").set_value("page-fruit").run()
    at.button(key="ft_image_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    deadline = time.time() + 300
    while time.time() < deadline and not at.success:
        time.sleep(2)
        at.run()
        assert not at.error, [e.value for e in at.error]
    at.run()
    assert at.success[0].value.startswith("Saved **page-fruit**: accuracy ")
    assert [m.label for m in at.metric][:2] == ["Accuracy", "Macro-F1"]
    assert at.selectbox(key="ft_image_pick").value == "page-fruit"
