"""Ask by voice: speed and accuracy of the packaged Whisper models, and the spoken-question latency.

    python bench/bench_speech.py              # everything (~15-25 min on 2 cores)
    python bench/bench_speech.py --limit 3    # a quick look: 3 clips per section
    python bench/bench_speech.py --no-answer  # skip the LLM latency part

Speech is synthesised with ``espeak-ng`` (English voice en-us; Spanish voice es for the
bella-italia dishes, which is a poor voice: read those figures as a lower bound). Four parts,
each with its baseline measured in the same run:

1. **Real-time factor** (transcription time / audio length) and word error rate of Whisper
   base and tiny.en on spoken techstore questions, language auto-detected vs pinned to English.
2. **Product-name accuracy** with and without the catalog names as hotwords (the store's row
   names, as the app passes them): "Do you have the ThinkPad X1 Carbon Gen 11?", "¿Tienen
   Lasaña de la Casa?". A name counts when the transcript spells it as the catalog does
   (case, accents and punctuation ignored).
3. **Latency from the end of recording to the first answer token** for a ~3-second question,
   models already loaded, vs the same question typed (so the speech overhead is visible).
   Target: <= 2.5 s.

Results go to bench/results/speech.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

QUESTIONS = [
    "How much does the iPhone 15 cost?",
    "What colors does the MacBook Air come in?",
    "Is the Google Pixel 8 Pro in stock?",
    "What is the warranty on your products?",
    "Do you have wireless headphones?",
    "How much RAM does the Dell XPS 15 have?",
    "Which laptop is best for programming?",
    "Do you offer free shipping?",
    "What is the battery life of the iPad Air?",
    "Can I pay with a credit card?",
]
LATENCY_QUESTIONS = ["Which laptop is best for programming?", "How much does the iPhone 15 cost?"]


def spoken(name: str) -> str:
    """A catalog name as a person says it: no parentheses, inch marks or punctuation."""
    name = re.sub(r"\([^)]*\)", " ", name).replace('"', " ")
    return " ".join(name.split())


def espeak(text: str, path: Path, voice: str) -> Path:
    subprocess.run([shutil.which("espeak-ng"), "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return path


def wer(ref: str, hyp: str) -> float:
    from tools.speech import _norm

    r, h = _norm(ref).split(), _norm(hyp).split()
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)] / max(1, len(r))


def catalog_names(store: str) -> list[str]:
    path = {"techstore": "catalog/techstore/products.csv", "bella-italia": "catalog/bella-italia/menu.csv"}[store]
    with (ROOT / path).open(encoding="utf-8") as fh:
        return [row.get("name") or row["nombre"] for row in csv.DictReader(fh)]


def median(xs: list[float]) -> float:
    return round(statistics.median(xs), 3) if xs else float("nan")


def bench_rtf(transcribers: dict, clips: list[tuple[str, Path]], out: dict) -> None:
    print("\n1. Real-time factor and word error rate (English questions)")
    print(f"{'model':<9} {'language':<9} {'RTF':>6} {'s/clip':>7} {'WER':>6}")
    for name, tr in transcribers.items():
        for lang in (["auto", "en"] if tr.multilingual else ["en"]):
            rtf, secs, errs, texts = [], [], [], []
            for ref, path in clips:
                t = tr.transcribe(path, language=lang)
                rtf.append(t.elapsed_s / t.duration_s)
                secs.append(t.elapsed_s)
                errs.append(wer(ref, t.text))
                texts.append(t.text)
            row = {"rtf": median(rtf), "s_per_clip": median(secs), "wer": round(statistics.mean(errs), 3),
                   "transcripts": texts}
            out[f"{name}/{lang}"] = row
            print(f"{name:<9} {lang:<9} {row['rtf']:>6.2f} {row['s_per_clip']:>7.2f} {row['wer']:>6.1%}")


def bench_names(tr, items: list[tuple[str, str, Path, str]], out: dict) -> None:
    from tools.speech import _norm

    print(f"\n2. Product names spelled as in the catalog (Whisper {tr.name})")
    per_store: dict[str, dict[str, list]] = {}
    for store, name, path, lang in items:
        hot = ", ".join(catalog_names(store))
        want = _norm(spoken(name))
        plain = tr.transcribe(path, language=lang)
        biased = tr.transcribe(path, language=lang, hotwords=hot)
        s = per_store.setdefault(store, {"without": [], "with": [], "examples": [], "s_without": [], "s_with": []})
        s["without"].append(want in _norm(plain.text))
        s["with"].append(want in _norm(biased.text))
        s["s_without"].append(plain.elapsed_s)
        s["s_with"].append(biased.elapsed_s)
        s["examples"].append({"name": name, "without": plain.text, "with": biased.text, "focus": biased.hotwords})
    print(f"{'store':<14} {'n':>3} {'without':>8} {'with':>8} {'s without':>10} {'s with':>7}")
    for store, s in per_store.items():
        n = len(s["with"])
        row = {"n": n, "accuracy_without": round(sum(s["without"]) / n, 3),
               "accuracy_with": round(sum(s["with"]) / n, 3),
               "s_per_clip_without": median(s["s_without"]), "s_per_clip_with": median(s["s_with"]),
               "examples": s["examples"]}
        out[store] = row
        print(f"{store:<14} {n:>3} {row['accuracy_without']:>8.0%} {row['accuracy_with']:>8.0%} "
              f"{row['s_per_clip_without']:>10.2f} {row['s_per_clip_with']:>7.2f}")


def bench_latency(tr, clips: list[tuple[str, Path]], out: dict, repeat: int) -> None:
    """End of recording -> first answer token, vs typed question -> first token, same chain, same run."""
    from ingest.pipeline import run as ingest
    from rag.chain import ask, stream_answer
    from rag.factory import build_embeddings, build_index, build_llm, build_store_chain
    from rag.settings import load_settings
    from tools.speech import catalog_hotwords, load_audio

    settings = load_settings()
    if build_index(settings).info("techstore") is None:
        data = Path(tempfile.mkdtemp(prefix="bench-speech-"))
        settings = load_settings(data_dir=data, model_dir=settings.model_cache_dir)
        print(f"   (ingesting the sample catalogs into {data})")
        ingest(settings=settings)
    index, emb = build_index(settings), build_embeddings(settings)
    llm = build_llm(settings)
    chain = build_store_chain(settings, index, emb, llm, "techstore")
    hot = catalog_hotwords(index, "techstore")
    ask(chain, "How much does the iPad cost?")  # warm: prompt prefix cached, first-call costs paid

    def first_token(question_fn) -> tuple[float, str]:
        t0 = time.perf_counter()
        question = question_fn()
        for piece in stream_answer(chain, question):
            if isinstance(piece, str) and piece.strip():
                break
        return time.perf_counter() - t0, question

    print(f"\n3. End of recording -> first answer token (Whisper {tr.name}, LLM {settings.llm_preset}; "
          "target <= 2.5 s)")
    print(f"{'question':<40} {'audio s':>7} {'typed':>6} {'voice auto':>10} {'voice en':>9}")
    for ref, path in clips:
        typed = [first_token(lambda: ref)[0] for _ in range(repeat)]
        auto = [first_token(lambda: tr.transcribe(path, language="auto", hotwords=hot).text) for _ in range(repeat)]
        pinned = [first_token(lambda: tr.transcribe(path, language="en", hotwords=hot).text) for _ in range(repeat)]
        dur = load_audio(path, max_seconds=60)[1]
        row = {"audio_s": round(dur, 2), "typed_s": median(typed), "voice_auto_s": median([a[0] for a in auto]),
               "voice_pinned_en_s": median([p[0] for p in pinned]), "heard": auto[0][1]}
        row["speech_overhead_auto_s"] = round(row["voice_auto_s"] - row["typed_s"], 3)
        row["speech_overhead_pinned_s"] = round(row["voice_pinned_en_s"] - row["typed_s"], 3)
        out[ref] = row
        print(f"{ref[:40]:<40} {dur:>7.1f} {row['typed_s']:>6.2f} {row['voice_auto_s']:>10.2f} "
              f"{row['voice_pinned_en_s']:>9.2f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, help="at most N clips per section")
    p.add_argument("--models", default="base,tiny.en", help="comma-separated: base,tiny.en")
    p.add_argument("--no-answer", action="store_true", help="skip the latency part (needs the LLM)")
    p.add_argument("--repeat", type=int, default=3, help="latency repeats (median)")
    args = p.parse_args(argv)
    if not shutil.which("espeak-ng"):
        print("espeak-ng is needed to synthesise the questions: apt-get install espeak-ng", file=sys.stderr)
        return 2
    from rag.settings import load_settings
    from tools.speech import build_transcriber

    settings = load_settings()
    lim = args.limit or None
    tmp = Path(tempfile.mkdtemp(prefix="speech-clips-"))
    clips = [(q, espeak(q, tmp / f"q{i}.wav", "en-us")) for i, q in enumerate(QUESTIONS[:lim])]
    names = [("techstore", n, f"Do you have the {spoken(n)}?", "en-us", "en") for n in catalog_names("techstore")]
    names += [("bella-italia", n, f"¿Tienen {spoken(n)}?", "es", "es") for n in catalog_names("bella-italia")]
    if lim:  # a few of each store
        names = [x for x in names if x[0] == "techstore"][:lim] + [x for x in names if x[0] == "bella-italia"][:lim]
    items = [(store, n, espeak(text, tmp / f"n{i}.wav", voice), lang)
             for i, (store, n, text, voice, lang) in enumerate(names)]
    latency_clips = [(q, espeak(q, tmp / f"l{i}.wav", "en-us")) for i, q in enumerate(LATENCY_QUESTIONS[:lim])]

    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                     "limit": args.limit, "load_s": {}, "rtf": {}, "names": {}, "latency": {}}
    transcribers = {}
    for name in args.models.split(","):
        t0 = time.perf_counter()
        transcribers[name] = build_transcriber(settings, model=name, language="auto")
        results["load_s"][name] = round(time.perf_counter() - t0, 2)
    print("Model load (s): " + ", ".join(f"{k} {v}" for k, v in results["load_s"].items()))
    bench_rtf(transcribers, clips, results["rtf"])
    main_tr = transcribers.get("base") or next(iter(transcribers.values()))
    bench_names(main_tr, [i for i in items if main_tr.multilingual or i[3] == "en"], results["names"])
    if not args.no_answer:
        bench_latency(main_tr, latency_clips, results["latency"], args.repeat)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "speech.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"\nResults: {out / 'speech.json'}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
