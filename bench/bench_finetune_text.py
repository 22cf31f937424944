"""Benchmark the text fine-tuning studio on the example datasets (and real reviews when present).

    .venv/bin/python bench/bench_finetune_text.py [--limit N] [--bases e5,minilm] [--datasets food_or_not_en,...]

For each dataset and base: wall time of the whole ``train_text_classifier`` call (split, train,
evaluate, save), validation accuracy and macro-F1. In the same run and on the same split, two
baselines: the majority class, and TF-IDF (word 1-2 grams + char 2-5 grams) + logistic regression.
The e5 embedder is loaded once (as the app does) and its load time is reported apart. Also
checks the e5 prefix choice: 5-fold macro-F1 of the head on ``query:`` vs ``passage:`` vectors.
Target: <= 60 s for 250 rows on 2 cores. Results: bench/results/finetune_text.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

EXAMPLES = ROOT / "finetune" / "examples"
SHARED = ROOT.parent / "shared" / "data" / "m_absa" / "restaurant" / "es"


def _absa_dataset(limit: int | None):  # noqa: ANN202
    """Real Spanish restaurant review sentences (M-ABSA), one polarity per sentence; None when absent."""
    from finetune.textdata import TextDataset

    path = SHARED / "train.txt"
    if not path.is_file():
        return None
    texts, labels, rows = [], [], []
    seen = set()
    names = {"positive": "positivo", "negative": "negativo", "neutral": "neutral"}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if "####" not in line:
            continue
        text, raw = line.split("####", 1)
        try:
            import ast

            polarities = {t[2] for t in ast.literal_eval(raw)}
        except (ValueError, SyntaxError, IndexError, TypeError):
            continue
        if len(polarities) != 1 or text.strip().casefold() in seen:
            continue
        seen.add(text.strip().casefold())
        texts.append(text.strip())
        labels.append(names.get(polarities.pop(), "neutral"))
        rows.append(number)
    data = TextDataset(tuple(texts), tuple(labels), tuple(rows), "m_absa restaurant/es train.txt")
    return limit_rows(data, limit or 400)


def limit_rows(data, n: int | None):  # noqa: ANN001, ANN201
    """The first ``n`` rows taken in turn from each label (so a small limit keeps every class)."""
    if not n or n >= len(data):
        return data
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(data.labels):
        by_label.setdefault(label, []).append(i)
    order = []
    queues = [list(v) for v in by_label.values()]
    while len(order) < n and any(queues):
        for q in queues:
            if q and len(order) < n:
                order.append(q.pop(0))
    return data.subset(sorted(order))


def baselines(train, val) -> dict:  # noqa: ANN001
    from collections import Counter

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline, make_union

    majority = Counter(train.labels).most_common(1)[0][0]
    pred = [majority] * len(val)
    out = {"majority": {"accuracy": round(accuracy_score(val.labels, pred), 4),
                        "macro_f1": round(f1_score(val.labels, pred, average="macro", zero_division=0), 4)}}
    t = time.perf_counter()
    model = make_pipeline(
        make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                   TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        LogisticRegression(C=10, max_iter=2000, class_weight="balanced"))
    model.fit(list(train.texts), list(train.labels))
    pred = model.predict(list(val.texts))
    out["tfidf_logreg"] = {"accuracy": round(accuracy_score(val.labels, pred), 4),
                           "macro_f1": round(f1_score(val.labels, pred, average="macro", zero_division=0), 4),
                           "train_s": round(time.perf_counter() - t, 2)}
    return out


def prefix_check(data, embeddings) -> dict:  # noqa: ANN001
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from finetune.heads import DEFAULT_C, embed_texts

    out = {}
    for prefix in ("query", "passage"):
        X = embed_texts(list(data.texts), embeddings, prefix=prefix)
        scores = cross_val_score(LogisticRegression(C=DEFAULT_C, max_iter=2000, class_weight="balanced"), X,
                                 list(data.labels), cv=StratifiedKFold(5, shuffle=True, random_state=0),
                                 scoring="f1_macro")
        out[prefix] = round(float(scores.mean()), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="use only the first N rows of each dataset")
    parser.add_argument("--bases", default="e5,minilm")
    parser.add_argument("--datasets", default="food_or_not_en,school_subjects_es,reviews_es,m_absa_restaurant_es")
    parser.add_argument("--prefix-check", action="store_true", help="also compare e5 query: vs passage: vectors")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "finetune_text.json"))
    args = parser.parse_args(argv)

    from finetune.heads import load_e5
    from finetune.text import TextTrainConfig, split_dataset, train_text_classifier
    from finetune.textdata import load_text_data
    from rag.settings import load_settings

    t = time.perf_counter()
    embeddings = load_e5()
    e5_load_s = round(time.perf_counter() - t, 2)
    settings = load_settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-ft-text-")))
    cfg = TextTrainConfig()
    results = {"limit": args.limit, "cpu_count": os.cpu_count(), "e5_load_s": e5_load_s, "datasets": {}}
    for name in args.datasets.split(","):
        if name == "m_absa_restaurant_es":
            data = _absa_dataset(args.limit)
            if data is None:
                print(f"{name}: skipped ({SHARED} not found)")
                continue
        else:
            data, report = load_text_data(EXAMPLES / f"{name}.csv")
            data = limit_rows(data, args.limit)
        train, val = split_dataset(data, cfg.val_fraction, cfg.seed)
        entry = {"rows": len(data), "n_train": len(train), "n_val": len(val), "classes": len(data.classes),
                 "baselines": baselines(train, val), "bases": {}}
        for base in args.bases.split(","):
            t = time.perf_counter()
            info = train_text_classifier(data, name=f"bench-{name}-{base}".replace("_", "-")[:60], settings=settings,
                                         base=base, config=cfg, embeddings=embeddings)
            wall = round(time.perf_counter() - t, 2)
            entry["bases"][base] = {"accuracy": info.metrics["accuracy"], "macro_f1": info.metrics["macro_f1"],
                                    "wall_s": wall}
        if args.prefix_check:
            entry["e5_prefix_cv_macro_f1"] = prefix_check(data, embeddings)
        results["datasets"][name] = entry
        print(f"\n{name}: {len(data)} rows, {len(data.classes)} classes (train {len(train)}, val {len(val)})")
        print(f"  {'method':14} {'accuracy':>9} {'macro-F1':>9} {'wall s':>8}")
        for method, r in {**entry["baselines"], **entry["bases"]}.items():
            wall = r.get("wall_s", r.get("train_s", ""))
            print(f"  {method:14} {r['accuracy']:>9.3f} {r['macro_f1']:>9.3f} {wall:>8}")
        if "e5_prefix_cv_macro_f1" in entry:
            print(f"  e5 prefix 5-fold macro-F1: {entry['e5_prefix_cv_macro_f1']}")
    print(f"\ne5 load: {e5_load_s} s (once per process, not included above)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
