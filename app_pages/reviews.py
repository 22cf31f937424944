"""Reviews page: sentiment of one review, or of a whole CSV/XLSX file with charts you can click."""

from __future__ import annotations

import io
import json
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from app_pages.components import headers, md
from app_pages.i18n import error_text, t, t_known, template
from app_pages.resources import get_embeddings, get_settings
from finetune.registry import list_models
from rag.errors import AssistantError
from tools.sentiment import (
    ASPECTS,
    SentimentAnalyzer,
    analyze_frame,
    by_aspect,
    by_group,
    distribution,
    filter_rows,
    guess_columns,
    most_negative,
    read_reviews,
    to_csv_bytes,
)
from tools.sentiment.bulk import SYMBOL

SAMPLE = Path(__file__).resolve().parent.parent / "tools" / "sentiment" / "sample_reviews.csv"
COLORS = alt.Scale(domain=["positive", "neutral", "negative"], range=["#2e7d32", "#9e9e9e", "#c62828"])
BADGE = {"positive": ("green", "😊"), "neutral": ("gray", "😐"), "negative": ("red", "☹️")}
NO_GROUP = "(none)"  # the group picker's "no column" option (shown translated)
COLUMNS = ("row", "sentiment", "confidence", "aspects")  # our columns of the comment tables (data columns as named)


def get_analyzer(model: str, version: str) -> SentimentAnalyzer:
    with st.spinner(t("reviews.loading_model")):
        return _analyzer(model, version)


@st.cache_resource(show_spinner=False, max_entries=4)
def _analyzer(model: str, version: str) -> SentimentAnalyzer:
    """One analyzer per model (``version`` = the classifier's creation time, so a retrain reloads)."""
    del version
    settings = get_settings()
    embeddings = get_embeddings() if settings.embedding == "e5" else None  # share the assistant's e5 engine
    return SentimentAnalyzer.from_settings(settings, embeddings, model=model)


def word(value: str) -> str:
    """A sentiment label or aspect name in the UI language (a fine-tuned model's own labels as written)."""
    return t_known(f"reviews.word.{value}", value)


def _labels_expr(values) -> str:
    """A Vega expression showing chart axis/legend labels through :func:`word` (the data keeps its values,
    which a click on a bar sends back)."""
    return f"{json.dumps({v: word(v) for v in values})}[datum.label] || datum.label"


def model_picker() -> tuple[str, str]:
    settings = get_settings()
    models = {m.name: m.created for m in list_models(settings, "text")}
    options = ["default", *models]
    preferred = settings.sentiment_model if settings.sentiment_model in options else "default"
    name = st.selectbox(
        t("reviews.model"),
        options,
        index=options.index(preferred),
        key="reviews_model",
        help=t("reviews.model_help"),
    )
    return name, models.get(name, "")


def badges(label: str, score: float, aspects: dict[str, str]) -> None:
    color, icon = BADGE.get(label, ("blue", "🏷️"))
    cols = st.columns([1, 3])
    cols[0].metric(t("reviews.sentiment"), f"{icon} {md(word(label))}", t("reviews.confident", score=score),
                   delta_color="off")
    with cols[1]:
        if aspects:
            st.caption(t("reviews.aspects"))
            st.markdown(" ".join(f":{BADGE.get(p, ('blue', ''))[0]}-badge[{md(f'{word(a)} {SYMBOL.get(p, p)}')}]"
                                 for a, p in aspects.items()))
        else:
            st.caption(t("reviews.no_aspect"))


def single(analyzer: SentimentAnalyzer) -> None:
    text = st.text_area(t("reviews.review"), placeholder="La comida estuvo deliciosa y el servicio excelente",
                        key="reviews_text")
    if st.button(t("reviews.analyze"), type="primary", key="reviews_analyze", disabled=not text.strip()):
        try:
            st.session_state["reviews_single"] = (text, analyzer.analyze([text])[0])
        except AssistantError as exc:
            st.error(md(error_text(exc)))
            return
    done = st.session_state.get("reviews_single")
    if done and done[0] == text:  # kept across reruns (e.g. a click on the other tab)
        badges(done[1].label, done[1].score, done[1].aspects)


def _bar(data: pd.DataFrame, x: str, key: str, fields: list[str], title: str, stack: bool = True) -> list[dict]:
    """A clickable bar chart; returns the clicked bars' field values ([] when none)."""
    pick = alt.selection_point(name="pick", fields=fields)
    base = alt.Chart(data, title=title).mark_bar(cursor="pointer")
    y_labels = {"axis": alt.Axis(labelExpr=_labels_expr(data[x].unique()))} if x in ("sentiment", "aspect") else {}
    enc = {
        "y": alt.Y(f"{x}:N", sort=None, title=None, **y_labels),
        "x": alt.X("count:Q", title=t("reviews.axis_reviews"), stack="zero" if stack else None),
        "color": alt.Color("sentiment:N", scale=COLORS, title=t("reviews.sentiment"),
                           legend=alt.Legend(orient="bottom", labelExpr=_labels_expr(COLORS.domain))),
        "opacity": alt.condition(pick, alt.value(1.0), alt.value(0.35)),
        "tooltip": [f"{x}:N", "sentiment:N", "count:Q"],
    }
    if x == "aspect":
        enc["yOffset"] = alt.YOffset("sentiment:N", sort=["positive", "neutral", "negative"])
    chart = base.encode(**enc).add_params(pick).properties(height=max(120, 28 * data[x].nunique()))
    event = st.altair_chart(
        chart, width="stretch", key=key, on_select=lambda: st.session_state.update(reviews_focus=key)
    )
    return list(event.selection.get("pick", [])) if event else []


def bulk(analyzer: SentimentAnalyzer, model: str) -> None:
    left, right = st.columns([3, 1])
    upload = left.file_uploader(t("reviews.file"), type=["csv", "xlsx"], key="reviews_upload")
    right.write("")
    if right.button(t("reviews.try_sample"), key="reviews_sample", help=t("reviews.try_sample_help")):
        st.session_state["reviews_file"] = (SAMPLE.name, SAMPLE.read_bytes())
    if upload is not None:
        st.session_state["reviews_file"] = (upload.name, upload.getvalue())
    if "reviews_file" not in st.session_state:
        st.info(t("reviews.upload_hint"))
        return
    name, data = st.session_state["reviews_file"]
    try:
        df = read_reviews(io.BytesIO(data), name)
    except AssistantError as exc:
        st.error(md(error_text(exc)))
        return
    st.caption(t("reviews.file_rows", file=md(name), rows=len(df)))
    text_guess, group_guess = guess_columns(df)
    cols = list(df.columns)
    c1, c2 = st.columns(2)
    column = c1.selectbox(t("reviews.text_column"), cols, index=cols.index(text_guess), key=f"reviews_col_{name}")
    groups = [NO_GROUP, *[c for c in cols if c != column]]
    no_group = t("reviews.no_group")  # formatted now: a format_func may be called after the run
    by = c2.selectbox(
        t("reviews.group_column"), groups, index=groups.index(group_guess) if group_guess in groups else 0,
        format_func=lambda c: no_group if c == NO_GROUP else c, key=f"reviews_by_{name}",
    )
    by = None if by == NO_GROUP else by
    job = (name, len(data), column, by, model)
    if st.button(t("reviews.classify", n=len(df)), type="primary", key="reviews_run"):
        bar = st.progress(0.0, text=t("reviews.classifying"))
        step = template("reviews.classifying_step")
        try:
            result = analyze_frame(
                df, analyzer, column, by, name=name,
                progress=lambda done, total: bar.progress(done / total, text=step.format(done=done, total=total)),
            )
        except AssistantError as exc:
            bar.empty()
            st.error(md(error_text(exc)))
            return
        bar.empty()
        st.session_state["reviews_result"] = (job, result)
        st.session_state.pop("reviews_focus", None)
    stored = st.session_state.get("reviews_result")
    if not stored or stored[0] != job:
        return
    show(stored[1])


def show(result) -> None:
    if result.skipped_message:
        st.warning(md(result.skipped_message))
    dist = distribution(result)
    total = int(dist["count"].sum())
    m = st.columns(4)
    m[0].metric(t("reviews.reviews"), f"{total:,}")
    for col, label in zip(m[1:], ("positive", "neutral", "negative"), strict=True):
        n = int(dist.loc[dist["sentiment"] == label, "count"].sum())
        col.metric(t(f"reviews.metric.{label}"), f"{n / total:.0%}" if total else "–", f"{n:,}", delta_color="off")
    st.caption(t("reviews.click_a_bar"))
    picks: dict[str, list[dict]] = {}
    left, right = st.columns(2)
    with left:
        picks["reviews_chart_dist"] = _bar(dist, "sentiment", "reviews_chart_dist", ["sentiment"],
                                           t("reviews.chart_overall"))
    aspects = by_aspect(result)
    with right:
        if aspects.empty:
            st.info(t("reviews.no_aspect_found"))
        else:
            picks["reviews_chart_aspect"] = _bar(
                aspects, "aspect", "reviews_chart_aspect", ["aspect", "sentiment"], t("reviews.chart_aspect"),
                stack=False,
            )
    if result.by:
        groups = by_group(result)
        picks["reviews_chart_group"] = _bar(
            groups, "group", "reviews_chart_group", ["group", "sentiment"], t("reviews.chart_group", column=result.by)
        )
    focus = st.session_state.get("reviews_focus")
    chosen = picks.get(focus) or []
    if chosen:
        pick = chosen[0]
        rows = filter_rows(result, pick.get("sentiment"), pick.get("group"), pick.get("aspect"))
        what = " · ".join(str(pick[k]) if k == "group" else word(str(pick[k]))
                          for k in ("group", "aspect", "sentiment") if pick.get(k))
        st.subheader(t("reviews.comments", what=md(what), n=len(rows)))
        st.dataframe(_view(result, rows), hide_index=True, width="stretch", column_config=headers(*COLUMNS))
    st.subheader(t("reviews.most_negative"))
    worst = most_negative(result, 10)
    if worst.empty:
        st.success(t("reviews.no_negative"))
    else:
        st.dataframe(worst, hide_index=True, width="stretch", column_config=headers(*COLUMNS))
    st.download_button(
        t("reviews.download"),
        to_csv_bytes(result),
        file_name=f"{Path(result.source).stem}-sentiment.csv",
        mime="text/csv",
        key="reviews_download",
    )


def _view(result, rows: pd.DataFrame) -> pd.DataFrame:
    cols = ["row", *([result.by] if result.by else []), result.text_column, "sentiment", "confidence", "aspects"]
    return rows[cols]


st.title(t("reviews.title"))
st.caption(t("reviews.caption", aspects=", ".join(word(a) for a in ASPECTS)))
try:
    model, version = model_picker()
    analyzer = get_analyzer(model, version)
except AssistantError as exc:
    st.error(md(error_text(exc)))
    st.stop()

tab_one, tab_file = st.tabs([t("reviews.tab_one"), t("reviews.tab_file")])
with tab_one:
    single(analyzer)
with tab_file:
    bulk(analyzer, model)
