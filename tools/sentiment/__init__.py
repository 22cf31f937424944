"""Review sentiment for Spanish and English comments, with a restaurant aspect breakdown.

    analyzer = SentimentAnalyzer.from_settings(settings)         # load once, keep it
    analyzer.analyze(["La comida estuvo deliciosa y el servicio excelente"])
    -> [SentimentResult(label="positive", score=0.97, aspects={"food": "positive", "service": "positive"})]

Modules: :mod:`tools.sentiment.model` (the models and :class:`SentimentAnalyzer`),
:mod:`tools.sentiment.bulk` (CSV/XLSX files, summaries, export), :mod:`tools.sentiment.m_absa`
(the public data the shipped heads were trained and measured on).
"""

from tools.sentiment.bulk import (
    BulkResult,
    analyze_frame,
    aspect_text,
    by_aspect,
    by_group,
    distribution,
    filter_rows,
    guess_columns,
    most_negative,
    read_reviews,
    summary,
    to_csv_bytes,
)
from tools.sentiment.model import ASPECTS, LABELS, SentimentAnalyzer, SentimentResult

__all__ = [
    "ASPECTS",
    "LABELS",
    "BulkResult",
    "SentimentAnalyzer",
    "SentimentResult",
    "analyze_frame",
    "aspect_text",
    "by_aspect",
    "by_group",
    "distribution",
    "filter_rows",
    "guess_columns",
    "most_negative",
    "read_reviews",
    "summary",
    "to_csv_bytes",
]
