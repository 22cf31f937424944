"""Background training jobs (finetune/jobs.py) and the saved-model registry (finetune/registry.py).

The jobs run real threads with small training-shaped functions: they report progress, honour
the cancel event, and fail the ways a trainer fails. Gates (``threading.Event``) make every
ordering deterministic; no test sleeps to "let the thread run".
"""

from __future__ import annotations

import json
import logging
import threading

import pytest

from finetune.jobs import Cancelled, JobRunner, Progress
from finetune.registry import (
    INFO_FILE,
    ModelInfo,
    get_model,
    list_models,
    model_path,
    read_info,
    validate_model_name,
    write_info,
)
from rag.errors import DataValidationError, FineTuneError

WAIT = 30  # seconds: generous upper bound on a 2-core machine shared with other sessions


def steps_job(*, progress, cancel, steps, gate, result="saved"):
    """A training-shaped function: one progress event per step, waits at ``gate`` after the first."""
    for step in range(1, steps + 1):
        if cancel.is_set():
            raise Cancelled("cancelled by the user")
        progress(Progress("train", step=step, total_steps=steps, epoch=step / steps, loss=1.0 / step))
        if step == 1:
            gate.wait(WAIT)
    return result


def test_job_runs_in_the_background_with_progress():
    runner, gate = JobRunner(), threading.Event()
    job = runner.start("food", steps_job, steps=4, gate=gate)

    # the first step is reported while the job is still running (blocked at the gate)
    for _ in range(WAIT * 100):
        if job.events:
            break
        threading.Event().wait(0.01)
    assert job.running and job.state == "running"
    assert job.last == Progress("train", step=1, total_steps=4, epoch=0.25, loss=1.0)
    assert job.last.fraction == 0.25
    assert runner.get("food") is job

    gate.set()
    assert job.wait(WAIT)
    assert job.state == "done" and job.result == "saved" and job.error is None
    assert [e.step for e in job.events] == [1, 2, 3, 4]
    assert job.last.fraction == 1.0
    assert job.finished is not None and job.finished >= job.started


def test_cancel_ends_the_job_as_cancelled():
    runner, gate = JobRunner(), threading.Event()
    job = runner.start("food", steps_job, steps=100, gate=gate)
    job.cancel()
    gate.set()

    assert job.wait(WAIT)
    assert job.state == "cancelled"
    assert job.error is None and job.result is None
    assert len(job.events) < 100


def test_one_run_at_a_time_per_model_name():
    runner, gate = JobRunner(), threading.Event()
    first = runner.start("food", steps_job, steps=2, gate=gate)
    try:
        with pytest.raises(FineTuneError) as err:
            runner.start("food", steps_job, steps=2, gate=gate)
        assert str(err.value) == ("A model called 'food' is already training. Wait for it to finish or cancel it "
                                  "first.")
        other = runner.start("reviews", steps_job, steps=2, gate=gate)  # another name may run alongside
    finally:
        gate.set()
    assert first.wait(WAIT) and other.wait(WAIT)

    again = runner.start("food", steps_job, steps=1, gate=gate, result="second")  # finished: may start again
    assert again.wait(WAIT) and again.result == "second"
    assert runner.get("food") is again
    assert [j.name for j in runner.jobs()][0] == "food"  # newest first
    assert {j.name for j in runner.jobs()} == {"food", "reviews"}


def test_failing_job_is_failed_with_its_message():
    def bad_data(*, progress, cancel):
        progress(Progress("validate", message="checking rows"))
        raise DataValidationError("faq.csv: 2 rows have no label.", ["row 3: empty label", "row 9: empty label"])

    job = JobRunner().start("food", bad_data)
    assert job.wait(WAIT)
    assert job.state == "failed"
    assert job.error == "faq.csv: 2 rows have no label."
    assert job.last.message == "checking rows"


def test_a_bug_in_training_fails_the_job_visibly(caplog):
    def buggy(*, progress, cancel):
        raise ValueError("shapes (3,) and (4,) not aligned")

    with caplog.at_level(logging.ERROR, logger="finetune.jobs"):
        job = JobRunner().start("food", buggy)
        assert job.wait(WAIT)
    assert job.state == "failed"
    assert job.error == "Training stopped with an unexpected error: ValueError('shapes (3,) and (4,) not aligned')"
    assert "training job food failed" in caplog.text


def test_progress_fraction_without_a_total():
    assert Progress("features").fraction == 0.0
    assert Progress("train", step=12, total_steps=10).fraction == 1.0


# --------------------------------------------------------------------------- registry

def info(settings, name, kind="text", created="2026-12-01T10:00:00+00:00", **kw) -> ModelInfo:
    path = model_path(settings, name)
    path.mkdir(parents=True, exist_ok=True)
    made = ModelInfo(name=name, kind=kind, base=kw.pop("base", "minilm"), labels=kw.pop("labels", ("food", "not food")),
                     created=created, dir=path, **kw)
    write_info(made)
    return made


def test_write_and_read_info_round_trip(settings):
    saved = info(settings, "reviews_es", base="e5", labels=("positivo", "negativo", "neutral"),
                 metrics={"accuracy": 0.91, "macro_f1": 0.88}, language="es")

    assert read_info(saved.dir) == saved
    on_disk = json.loads((saved.dir / INFO_FILE).read_text("utf-8"))
    assert on_disk == {"name": "reviews_es", "kind": "text", "base": "e5",
                       "labels": ["positivo", "negativo", "neutral"],
                       "metrics": {"accuracy": 0.91, "macro_f1": 0.88}, "created": "2026-12-01T10:00:00+00:00",
                       "language": "es", "store": None}
    assert sorted(p.name for p in saved.dir.iterdir()) == [INFO_FILE]  # no temp file left behind


def test_list_models_skips_incomplete_and_damaged_folders(settings, caplog):
    assert list_models(settings) == []  # no models folder yet
    older = info(settings, "food-or-not", created="2026-11-30T09:00:00+00:00")
    newer = info(settings, "groceries", kind="image", base="efficientnet-lite0", labels=("apple", "pear"),
                 created="2026-12-01T09:00:00+00:00", store="techstore")
    (model_path(settings, "half-written") / "model.safetensors").parent.mkdir(parents=True)
    (model_path(settings, "half-written") / "model.safetensors").write_bytes(b"\0")
    damaged = model_path(settings, "damaged")
    damaged.mkdir(parents=True)
    (damaged / INFO_FILE).write_text('{"name": "damaged", "kind": "text"}', encoding="utf-8")  # no base, no labels

    with caplog.at_level(logging.WARNING, logger="finetune.registry"):
        found = list_models(settings)
    assert found == [newer, older]  # newest first
    assert list_models(settings, "text") == [older]
    assert list_models(settings, "image") == [newer]
    # the message names the file and the fix (the missing key shows as "('base')": see the report)
    assert f"{damaged / INFO_FILE} is damaged (no 'base' field); delete the folder and train the model again." in caplog.text


def test_read_info_errors(settings):
    empty = model_path(settings, "empty")
    empty.mkdir(parents=True)
    with pytest.raises(FineTuneError) as err:
        read_info(empty)
    assert str(err.value) == f"{empty} is not a saved classifier (no {INFO_FILE})."

    (empty / INFO_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(FineTuneError) as err:
        read_info(empty)
    assert str(err.value) == (f"{empty / INFO_FILE} is damaged (Expecting property name enclosed in double quotes: "
                              "line 1 column 2 (char 1)); delete the folder and train the model again.")


def test_get_model_and_its_error_lists_saved_names(settings):
    food = info(settings, "food-or-not", created="2026-11-30T09:00:00+00:00")
    info(settings, "reviews_es", created="2026-12-01T09:00:00+00:00")

    assert get_model(settings, "food-or-not") == food
    assert get_model(settings, "food-or-not", "text") == food
    with pytest.raises(FineTuneError) as err:
        get_model(settings, "food")
    assert str(err.value) == ("No classifier called 'food'. Saved: reviews_es, food-or-not. "
                              "Train one on the Fine-tune page or with python -m finetune.")
    with pytest.raises(FineTuneError) as err:
        get_model(settings, "food-or-not", "image")  # exists, but it is a text model
    assert str(err.value) == ("No image classifier called 'food-or-not'. Saved: none yet. "
                              "Train one on the Fine-tune page or with python -m finetune.")


@pytest.mark.parametrize("name", ["", "../evil", "a b", "-dash-first", ".hidden", "x" * 64, "café"])
def test_invalid_model_names_are_refused(settings, name):
    expected = (f"Invalid model name {name!r}: use 1-63 letters, digits, '.', '-' or '_', starting with a letter or "
                "digit (for example 'food-or-not' or 'reviews_es').")
    with pytest.raises(FineTuneError) as err:
        validate_model_name(name)
    assert str(err.value) == expected
    with pytest.raises(FineTuneError):
        get_model(settings, name)


@pytest.mark.parametrize("name", ["a", "food-or-not", "reviews_es", "v1.2", "x" * 63])
def test_valid_model_names(name):
    assert validate_model_name(name) == name


def test_a_renamed_model_folder_is_listed_under_a_name_get_model_finds(settings):
    made = info(settings, "food-or-not")
    made.dir.rename(made.dir.with_name("food-v2"))

    names = [m.name for m in list_models(settings)]
    assert names == ["food-v2"]
    assert get_model(settings, names[0]).dir == made.dir.with_name("food-v2")
