"""Fine-tune page, image tab: a zip or folder of photos (one sub-folder per class) -> a classifier.

Thin: :func:`finetune.image.train_image_classifier` does the work in a background job
(:class:`finetune.jobs.JobRunner`, one per process), so the page stays responsive and can be
left and come back; this module draws the input, the live progress and the evaluation.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from app_pages.auth import require_admin
from app_pages.components import headers, md
from app_pages.i18n import error_text, t
from app_pages.resources import get_index, get_settings
from finetune.effnet import IMAGE_EXTENSIONS
from finetune.image import (
    ImageDataset,
    extract_zip,
    load_image_classifier,
    load_report,
    scan_folder,
    train_image_classifier,
)
from finetune.jobs import JobRunner
from finetune.registry import ModelInfo, list_models, read_info
from rag.errors import AssistantError

KEY = "ft_image"
NO_STORE = "(none)"  # the store picker's "no store" option (shown translated)
ALL = "all"  # the misclassified-photos picker's "every pair" option (shown translated)
PHOTO_TYPES = sorted({e.lstrip(".") for e in IMAGE_EXTENSIONS} | {"heic"})


@st.cache_resource(show_spinner=False)
def get_runner() -> JobRunner:
    """One job runner per process: a training run outlives the page run that started it."""
    return JobRunner()


def get_image_classifier(model_dir: str, created: str):
    with st.spinner(t("ft_image.loading")):
        return _image_classifier(model_dir, created)


@st.cache_resource(show_spinner=False, max_entries=4)
def _image_classifier(model_dir: str, created: str):
    del created  # cache key: a retrained model reloads
    return load_image_classifier(read_info(Path(model_dir)))


def _upload_dir() -> Path:
    path = Path(get_settings().data_dir) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _preview(source: Path) -> ImageDataset:
    if source.is_file():
        with tempfile.TemporaryDirectory(prefix="catalog-preview-") as tmp:
            extract_zip(source, Path(tmp))
            data = scan_folder(Path(tmp), label=source.name)
            data.root = source  # the temp folder is gone; keep the counts only
            return data
    return scan_folder(source)


def _counts_chart(data: ImageDataset) -> None:
    rows = [{"class": c, "split": t(f"ft_image.split.{split}"), "photos": n}
            for c, by in data.counts().items() for split, n in by.items() if n]
    chart = alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
        x=alt.X("photos:Q", title=t("ft_image.axis_photos")), y=alt.Y("class:N", sort="-x", title=None),
        color=alt.Color("split:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["class", "split", "photos"],
    )
    st.altair_chart(chart, width="stretch")


def _train(progress, cancel, *, source: Path, cleanup: bool, model_name: str, **kwargs) -> ModelInfo:
    try:
        return train_image_classifier(source, name=model_name, progress=progress, cancel=cancel, **kwargs)
    finally:
        if cleanup:
            source.unlink(missing_ok=True)


def _curves(events) -> pd.DataFrame:
    rows = []
    train, val = t("ft_image.training_loss"), t("ft_image.validation_loss")
    for e in events:
        if e.stage in ("stage 1", "stage 2") and e.val_loss is not None:
            rows.append({"stage": e.stage, "epoch": e.epoch, "curve": train, "loss": e.loss})
            rows.append({"stage": e.stage, "epoch": e.epoch, "curve": val, "loss": e.val_loss})
    return pd.DataFrame(rows)


def _curves_chart(df: pd.DataFrame) -> None:
    if df.empty:
        return
    chart = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title=t("ft_image.axis_epoch")),
        y=alt.Y("loss:Q", scale=alt.Scale(type="symlog"), title=t("ft_image.axis_loss")),
        color=alt.Color("curve:N", title=None),
        tooltip=["stage", "epoch", "curve", alt.Tooltip("loss:Q", format=".4f")],
    ).properties(height=200).facet(column=alt.Column("stage:N", title=None)).resolve_scale(x="independent")
    st.altair_chart(chart)


def _job_panel(name: str) -> None:
    job = get_runner().get(name)
    if job is None:
        return

    @st.fragment(run_every=1.0 if job.running else None)
    def live() -> None:
        last = job.last
        if job.running:
            if last is not None:
                text = f"{last.stage}: {last.message}" if last.message else last.stage
                if last.total_steps:
                    text += f" ({last.step}/{last.total_steps})"
                st.progress(last.fraction, text=md(text))
            else:
                st.progress(0.0, text=t("common.starting"))
            if st.button(t("ft_image.cancel"), key=f"{KEY}_cancel"):
                job.cancel()
            _curves_chart(_curves(list(job.events)))
        elif job.state == "done":
            st.success(t("ft_image.saved", name=md(job.result.name), accuracy=job.result.metrics["accuracy"],
                         n=job.result.metrics["val_images"]))
            if st.session_state.get(f"{KEY}_review_pending") == name:
                st.session_state[f"{KEY}_review"] = name
                st.session_state.pop(f"{KEY}_review_pending")
                st.rerun()
        elif job.state == "cancelled":
            st.warning(t("ft_image.cancelled"))
        else:
            st.error(md(job.error or t("ft_image.failed")))

    live()


def _review(info: ModelInfo) -> None:
    try:
        report = load_report(info)
    except AssistantError as exc:
        st.error(md(error_text(exc)))
        return
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("ft_image.accuracy"), f"{report['accuracy']:.1%}")
    c2.metric("Macro-F1", f"{report['macro_f1']:.3f}")
    c3.metric(t("ft_image.photos_split"), f"{report['train_images']} / {report['val_images']}")
    c4.metric(t("ft_image.training_time"), f"{report.get('train_s', 0):.0f} s")
    st.caption(md(t("ft_image.validation", source=report["val_from"], store=info.store or t("ft_image.no_store"),
                    dir=info.dir)))
    if report["skipped"]:
        with st.expander(t("ft_image.skipped", n=len(report["skipped"]))):
            for s in report["skipped"]:
                st.write(f"- {md(s['reason'])}")

    st.markdown(t("ft_image.loss_curves"))
    names = (t("ft_image.training_loss"), "loss"), (t("ft_image.validation_loss"), "val_loss")
    curves = [{"stage": stage, "epoch": r["epoch"], "curve": curve, "loss": r[key]}
              for stage, rows in report["curves"].items() for r in rows for curve, key in names]
    _curves_chart(pd.DataFrame(curves))

    left, right = st.columns(2)
    with left:
        st.markdown(t("ft_image.per_class"))
        st.dataframe(pd.DataFrame(report["per_class"]).T, width="stretch",
                     column_config=headers("precision", "recall", "f1", "support"))
    with right:
        st.markdown(t("ft_image.confusion"))
        labels = report["labels"]
        cm = pd.DataFrame([{"true": true, "predicted": p, "photos": report["confusion_matrix"][i][j]}
                           for i, true in enumerate(labels) for j, p in enumerate(labels)])
        base = alt.Chart(cm).encode(x=alt.X("predicted:N", sort=labels, title=t("ft_image.axis_predicted")),
                                    y=alt.Y("true:N", sort=labels, title=t("ft_image.axis_true")))
        cells = base.mark_rect().encode(color=alt.Color("photos:Q", legend=None),
                                        tooltip=["true", "predicted", "photos"])
        st.altair_chart(cells + base.mark_text().encode(text="photos:Q"), width="stretch")

    wrong = report["misclassified"]
    if not wrong:
        st.success(t("ft_image.all_correct"))
    else:
        pairs = sorted({(m["true"], m["predicted"]) for m in wrong})
        options = [ALL] + [f"{true} → {p}" for true, p in pairs]
        every = t("ft_image.all")
        pick = st.selectbox(t("ft_image.misclassified"), options, key=f"{KEY}_cell_{info.name}",
                            format_func=lambda o: every if o == ALL else o)
        shown = [m for m in wrong if pick == ALL or f"{m['true']} → {m['predicted']}" == pick]
        cols = st.columns(4)
        for n, m in enumerate(shown[:24]):
            with cols[n % 4]:
                thumb = Path(info.dir) / m.get("thumbnail", "")
                if m.get("thumbnail") and thumb.is_file():
                    st.image(str(thumb), width="stretch")
                st.caption(f"{md(m['file'])}: {md(m['true'])} → **{md(m['predicted'])}** ({m['score']:.0%})")

    st.markdown(t("ft_image.try_it"))
    photo = st.file_uploader(t("ft_image.photo_to_classify"), type=PHOTO_TYPES, key=f"{KEY}_try_{info.name}")
    if photo is not None:
        try:
            pred = get_image_classifier(str(info.dir), info.created).predict([photo], all_scores=True)[0]
        except AssistantError as exc:
            st.error(md(error_text(exc)))
            return
        a, b = st.columns([1, 2])
        a.image(photo.getvalue(), width="stretch")
        b.metric(t("ft_image.prediction"), md(str(pred.label)), t("ft_image.sure", score=pred.score), delta_color="off")
        b.bar_chart(pd.Series(pred.scores, name=t("table.probability")), horizontal=True)


def render() -> None:
    require_admin()  # the tab trains and saves models: admins only, wherever it is drawn
    settings = get_settings()
    st.markdown(t("ft_image.intro"))
    zip_upload, folder = t("ft_image.from_zip"), t("ft_image.from_folder")  # the options, as tests pick them
    how = st.radio(t("ft_image.photos_from"), [zip_upload, folder], horizontal=True, key=f"{KEY}_how")
    source: Path | None = None
    cleanup = False
    if how != folder:
        upload = st.file_uploader(t("ft_image.zip"), type=["zip"], key=f"{KEY}_zip")
        if upload is not None:
            saved = st.session_state.get(f"{KEY}_saved")
            if not saved or saved[0] != upload.file_id or not Path(saved[1]).is_file():
                path = _upload_dir() / f"{uuid.uuid4().hex}.zip"
                path.write_bytes(upload.getvalue())
                st.session_state[f"{KEY}_saved"] = (upload.file_id, str(path))
            source, cleanup = Path(st.session_state[f"{KEY}_saved"][1]), True
            default_name = Path(upload.name).stem
    else:
        typed = st.text_input(t("ft_image.folder"), placeholder="/home/shop/photos", key=f"{KEY}_path").strip()
        if typed:
            source = Path(typed).expanduser()
            default_name = source.name
            if not source.is_dir():
                st.error(md(t("ft_image.no_folder", path=source)))
                source = None

    if source is not None:
        try:
            data = _preview(source)
        except AssistantError as exc:
            st.error(md(error_text(exc)))
            for p in getattr(exc, "problems", [])[1:]:
                st.write(f"- {md(str(p))}")
            data = None
        if data is not None:
            counts = data.counts()
            total = sum(c["train"] + c["val"] for c in counts.values())
            st.markdown(t("ft_image.classes_photos", classes=len(data.classes), photos=total))
            _counts_chart(data)
            few = [c for c, n in counts.items() if n["train"] + n["val"] < 5]
            if few:
                st.warning(md(t("ft_image.too_few", classes=", ".join(few))))
            stores = [s.store for s in get_index().stores()]
            c1, c2 = st.columns(2)
            name = c1.text_input(t("ft_image.model_name"), value="".join(ch if ch.isalnum() or ch in "-_." else "-"
                                                             for ch in default_name)[:63] or "photos",
                                 key=f"{KEY}_name")
            store_options = [NO_STORE] + stores
            no_store = t("ft_image.no_store_option")
            current = st.session_state.get("store")
            store = c2.selectbox(t("ft_image.store"), store_options,
                                 index=store_options.index(current) if current in store_options else 0,
                                 format_func=lambda o: no_store if o == NO_STORE else o,
                                 help=t("ft_image.store_help"), key=f"{KEY}_store")
            if st.button(t("ft_image.train"), type="primary", disabled=bool(few), key=f"{KEY}_train"):
                try:
                    get_runner().start(name, _train, source=source, cleanup=cleanup, model_name=name, settings=settings,
                                       store=None if store == NO_STORE else store)
                except AssistantError as exc:
                    st.error(md(error_text(exc)))
                else:
                    st.session_state[f"{KEY}_job"] = name
                    st.session_state[f"{KEY}_review_pending"] = name
                    if cleanup:
                        st.session_state.pop(f"{KEY}_saved", None)  # the job owns (and deletes) the file now

    if job_name := st.session_state.get(f"{KEY}_job"):
        _job_panel(job_name)

    models = list_models(settings, "image")
    st.divider()
    if not models:
        st.caption(t("ft_image.no_models"))
        return
    names = [m.name for m in models]
    if (wanted := st.session_state.pop(f"{KEY}_review", None)) in names:
        st.session_state[f"{KEY}_pick"] = wanted  # a run just finished: show it
    pick = st.selectbox(t("ft_image.review"), names, key=f"{KEY}_pick")
    _review(next(m for m in models if m.name == pick))
