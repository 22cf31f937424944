"""Reviews page: sentiment of one review, or of a whole CSV/XLSX file with charts you can click."""

from __future__ import annotations

import io
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from app_pages.components import md
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
NO_GROUP = "(none)"


@st.cache_resource(show_spinner="Loading the sentiment model…", max_entries=4)
def get_analyzer(model: str, version: str) -> SentimentAnalyzer:
    """One analyzer per model (``version`` = the classifier's creation time, so a retrain reloads)."""
    del version
    settings = get_settings()
    embeddings = get_embeddings() if settings.embedding == "e5" else None  # share the assistant's e5 engine
    return SentimentAnalyzer.from_settings(settings, embeddings, model=model)


def model_picker() -> tuple[str, str]:
    settings = get_settings()
    models = {m.name: m.created for m in list_models(settings, "text")}
    options = ["default", *models]
    preferred = settings.sentiment_model if settings.sentiment_model in options else "default"
    name = st.selectbox(
        "Model",
        options,
        index=options.index(preferred),
        key="reviews_model",
        help="'default' is the packaged Spanish/English review model. Text classifiers trained on the "
        "Fine-tune page are listed too (their labels must mean positive/negative).",
    )
    return name, models.get(name, "")


def badges(label: str, score: float, aspects: dict[str, str]) -> None:
    color, icon = BADGE.get(label, ("blue", "🏷️"))
    cols = st.columns([1, 3])
    cols[0].metric("Sentiment", f"{icon} {md(label)}", f"{score:.0%} confident", delta_color="off")
    with cols[1]:
        if aspects:
            st.caption("Aspects")
            st.markdown(" ".join(f":{BADGE.get(p, ('blue', ''))[0]}-badge[{md(f'{a} {SYMBOL.get(p, p)}')}]"
                                 for a, p in aspects.items()))
        else:
            st.caption("No food, service, price or ambience aspect found.")


def single(analyzer: SentimentAnalyzer) -> None:
    text = st.text_area("Review", placeholder="La comida estuvo deliciosa y el servicio excelente", key="reviews_text")
    if st.button("Analyze", type="primary", key="reviews_analyze", disabled=not text.strip()):
        try:
            st.session_state["reviews_single"] = (text, analyzer.analyze([text])[0])
        except AssistantError as exc:
            st.error(md(str(exc)))
            return
    done = st.session_state.get("reviews_single")
    if done and done[0] == text:  # kept across reruns (e.g. a click on the other tab)
        badges(done[1].label, done[1].score, done[1].aspects)


def _bar(data: pd.DataFrame, x: str, key: str, fields: list[str], title: str, stack: bool = True) -> list[dict]:
    """A clickable bar chart; returns the clicked bars' field values ([] when none)."""
    pick = alt.selection_point(name="pick", fields=fields)
    base = alt.Chart(data, title=title).mark_bar(cursor="pointer")
    enc = {
        "y": alt.Y(f"{x}:N", sort=None, title=None),
        "x": alt.X("count:Q", title="reviews", stack="zero" if stack else None),
        "color": alt.Color("sentiment:N", scale=COLORS, legend=alt.Legend(orient="bottom")),
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
    upload = left.file_uploader("Reviews file (CSV or XLSX)", type=["csv", "xlsx"], key="reviews_upload")
    right.write("")
    if right.button("Try the sample", key="reviews_sample", help="28 restaurant reviews in Spanish and English"):
        st.session_state["reviews_file"] = (SAMPLE.name, SAMPLE.read_bytes())
    if upload is not None:
        st.session_state["reviews_file"] = (upload.name, upload.getvalue())
    if "reviews_file" not in st.session_state:
        st.info("Upload a CSV/XLSX with one review per row, or try the sample file.")
        return
    name, data = st.session_state["reviews_file"]
    try:
        df = read_reviews(io.BytesIO(data), name)
    except AssistantError as exc:
        st.error(md(str(exc)))
        return
    st.caption(f"**{md(name)}**: {len(df):,} rows")
    text_guess, group_guess = guess_columns(df)
    cols = list(df.columns)
    c1, c2 = st.columns(2)
    column = c1.selectbox("Text column", cols, index=cols.index(text_guess), key=f"reviews_col_{name}")
    groups = [NO_GROUP, *[c for c in cols if c != column]]
    by = c2.selectbox(
        "Product/dish column (optional)", groups, index=groups.index(group_guess) if group_guess in groups else 0,
        key=f"reviews_by_{name}",
    )
    by = None if by == NO_GROUP else by
    job = (name, len(data), column, by, model)
    if st.button(f"Classify {len(df):,} reviews", type="primary", key="reviews_run"):
        bar = st.progress(0.0, text="Classifying…")
        try:
            result = analyze_frame(
                df, analyzer, column, by, name=name,
                progress=lambda done, total: bar.progress(done / total, text=f"Classifying: {done:,}/{total:,}"),
            )
        except AssistantError as exc:
            bar.empty()
            st.error(md(str(exc)))
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
    m[0].metric("Reviews", f"{total:,}")
    for col, label in zip(m[1:], ("positive", "neutral", "negative"), strict=True):
        n = int(dist.loc[dist["sentiment"] == label, "count"].sum())
        col.metric(label.capitalize(), f"{n / total:.0%}" if total else "–", f"{n:,}", delta_color="off")
    st.caption("Click a bar to see the comments behind it.")
    picks: dict[str, list[dict]] = {}
    left, right = st.columns(2)
    with left:
        picks["reviews_chart_dist"] = _bar(dist, "sentiment", "reviews_chart_dist", ["sentiment"], "Overall")
    aspects = by_aspect(result)
    with right:
        if aspects.empty:
            st.info("No food, service, price or ambience aspect was found in these reviews.")
        else:
            picks["reviews_chart_aspect"] = _bar(
                aspects, "aspect", "reviews_chart_aspect", ["aspect", "sentiment"], "Per aspect", stack=False
            )
    if result.by:
        groups = by_group(result)
        picks["reviews_chart_group"] = _bar(
            groups, "group", "reviews_chart_group", ["group", "sentiment"], f"Per {result.by} (most negative first)"
        )
    focus = st.session_state.get("reviews_focus")
    chosen = picks.get(focus) or []
    if chosen:
        pick = chosen[0]
        rows = filter_rows(result, pick.get("sentiment"), pick.get("group"), pick.get("aspect"))
        what = " · ".join(str(pick[k]) for k in ("group", "aspect", "sentiment") if pick.get(k))
        st.subheader(f"Comments: {md(what)} ({len(rows):,})")
        st.dataframe(_view(result, rows), hide_index=True, width="stretch")
    st.subheader("Most negative comments")
    worst = most_negative(result, 10)
    if worst.empty:
        st.success("No negative comments. 🎉")
    else:
        st.dataframe(worst, hide_index=True, width="stretch")
    st.download_button(
        "Download the labelled file (CSV)",
        to_csv_bytes(result),
        file_name=f"{Path(result.source).stem}-sentiment.csv",
        mime="text/csv",
        key="reviews_download",
    )


def _view(result, rows: pd.DataFrame) -> pd.DataFrame:
    cols = ["row", *([result.by] if result.by else []), result.text_column, "sentiment", "confidence", "aspects"]
    return rows[cols]


st.title("⭐ Reviews")
st.caption(
    "Positive, negative or neutral for Spanish and English reviews, with the restaurant aspects "
    f"({', '.join(ASPECTS)}) each review talks about."
)
try:
    model, version = model_picker()
    analyzer = get_analyzer(model, version)
except AssistantError as exc:
    st.error(md(str(exc)))
    st.stop()

tab_one, tab_file = st.tabs(["One review", "A file of reviews"])
with tab_one:
    single(analyzer)
with tab_file:
    bulk(analyzer, model)
