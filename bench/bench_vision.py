"""Benchmark photo -> product and image fine-tuning on ../shared/data/grocery_4class.

    python bench/bench_vision.py             # full run (a few minutes on 2 cores)
    python bench/bench_vision.py --limit 4   # smoke run: 4 photos per class

Prints and writes bench/results/vision.json:

1. ms per image of EfficientNet-Lite0 (ImageNet head): batched contiguous (what the product does)
   vs batch 1 vs the baseline a naive port hits, a non-contiguous (permuted HWC) tensor.
2. Fine-tuning: wall time, validation accuracy and macro-F1 (train on train/, report on val/).
3. Right catalog row first, on val/ with a 4-row catalog of those products (English and Spanish
   names), with the fine-tuned classifier and ImageNet-only (labels -> rows), first and in the top 3.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "grocery_4class"
RESULTS = ROOT / "bench" / "results" / "vision.json"
CATALOGS = {
    "en": {"Avocado": ("AV-1", "Hass avocado", "Fruit"), "Banana": ("BA-1", "Banana", "Fruit"),
           "Carrots": ("CA-1", "Carrots", "Vegetable"), "Lemon": ("LE-1", "Lemon", "Fruit")},
    "es": {"Avocado": ("AV-1", "Aguacate Hass", "Fruta"), "Banana": ("BA-1", "Plátano de Canarias", "Fruta"),
           "Carrots": ("CA-1", "Zanahorias", "Verdura"), "Lemon": ("LE-1", "Limón", "Fruta")},
}


def val_photos(limit: int | None) -> list[tuple[Path, str]]:
    out = []
    for cls_dir in sorted(p for p in (DATA / "val").iterdir() if p.is_dir()):
        files = sorted(cls_dir.glob("*.jpg"))[: limit or None]
        out.extend((f, cls_dir.name) for f in files)
    return out


def speed(photos: list[Path], threads: int) -> dict[str, float]:
    import numpy as np
    import torch

    from finetune import effnet

    torch.set_num_threads(threads)
    model = effnet.ImageNetModel()
    arrays = [effnet.preprocess(effnet.open_image(p)) for p in photos]

    def timed(fn, n: int) -> float:
        fn()  # warm-up
        t = time.perf_counter()
        fn()
        return (time.perf_counter() - t) * 1000 / n

    with torch.inference_mode():
        batched = timed(lambda: model.model(effnet.to_batch(arrays)), len(arrays))
        one = timed(lambda: [model.model(effnet.to_batch([a])) for a in arrays], len(arrays))
        few = arrays[: min(2, len(arrays))]  # the slow baseline on two photos only
        hwc = [np.ascontiguousarray(a.transpose(1, 2, 0)) for a in few]
        strided = timed(lambda: [model.model(torch.from_numpy(h).permute(2, 0, 1)[None]) for h in hwc], len(few))
        t = time.perf_counter()
        for p in photos:
            model.top([effnet.open_image(p)])
        end_to_end = (time.perf_counter() - t) * 1000 / len(photos)
    return {"batched_contiguous_ms": round(batched, 1), "batch1_contiguous_ms": round(one, 1),
            "batch1_non_contiguous_ms": round(strided, 1), "decode_preprocess_classify_ms": round(end_to_end, 1)}


def train(settings, limit: int | None) -> dict:
    from finetune.image import ImageTrainConfig, load_report, train_image_classifier

    cfg = ImageTrainConfig(max_images_per_class=(limit * 3 if limit else None))
    t = time.perf_counter()
    info = train_image_classifier(DATA, name="grocery-bench", settings=settings, config=cfg, store="shop-en")
    wall = time.perf_counter() - t
    report = load_report(info)
    return {"wall_s": round(wall, 1), "accuracy": info.metrics["accuracy"], "macro_f1": info.metrics["macro_f1"],
            "train_images": report["train_images"], "val_images": report["val_images"],
            "timings_s": report["timings_s"], "misclassified": [m["file"] for m in report["misclassified"]],
            "info": info}


def matching(settings, embeddings, photos, classifier) -> dict:
    from finetune import effnet
    from ingest.pipeline import run
    from rag.factory import build_index
    from tools.vision import identify, load_catalog

    imagenet = effnet.ImageNetModel()
    index = build_index(settings)
    out = {}
    for lang, rows in CATALOGS.items():
        path = Path(settings.data_dir) / f"shop-{lang}.csv"
        path.write_text("id,name,category\n" + "".join(f"{i},{n},{c}\n" for i, n, c in rows.values()), encoding="utf-8")
        run([path], store=f"shop-{lang}", settings=settings, embeddings=embeddings, index=index)
        catalog = load_catalog(index, f"shop-{lang}", settings)
        for mode, clf in (("fine-tuned", classifier), ("imagenet-only", None)):
            first = top3 = 0
            ms = []
            for photo, cls in photos:
                result = identify(photo, settings=settings, index=index, embeddings=embeddings, store=f"shop-{lang}",
                                  classifier=clf, imagenet=imagenet, catalog=catalog, use_finetuned=False)
                ids = [p.id for p in result.products]
                first += ids[:1] == [rows[cls][0]]
                top3 += rows[cls][0] in ids[:3]
                ms.append(result.ms)
            out[f"{lang} {mode}"] = {"first": round(first / len(photos), 3), "top3": round(top3 / len(photos), 3),
                                     "ms_per_image": round(sum(ms) / len(ms), 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="photos per class (val) for a quick run")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"{DATA} not found: this benchmark needs ../shared/data/grocery_4class", file=sys.stderr)
        return 2
    from rag.factory import build_embeddings
    from rag.settings import load_settings
    from finetune.image import load_image_classifier

    photos = val_photos(args.limit)
    load = os.getloadavg()[0]
    t0 = time.process_time()
    with tempfile.TemporaryDirectory(prefix="bench-vision-") as tmp:
        settings = load_settings(data_dir=Path(tmp), n_threads=args.threads)
        print(f"Speed on {len(photos)} photos ({args.threads} threads, load average {load:.1f})…", flush=True)
        figures = {"speed": speed([p for p, _ in photos], args.threads)}
        print(json.dumps(figures["speed"]), flush=True)
        print("Fine-tuning on train/, evaluating on val/…", flush=True)
        trained = train(settings, args.limit)
        info = trained.pop("info")
        figures["training"] = trained
        print(json.dumps(trained), flush=True)
        print("Matching photos to a 4-row catalog…", flush=True)
        figures["matching"] = matching(settings, build_embeddings(settings), photos, load_image_classifier(info))
    figures["meta"] = {"limit": args.limit, "photos": len(photos), "threads": args.threads,
                       "load_average_at_start": round(load, 1), "cpu_s": round(time.process_time() - t0, 1),
                       "cpus": os.cpu_count(), "python": platform.python_version(),
                       "targets": {"fine-tuned first": ">= 0.95", "training wall_s": "<= 180 on 2 cores",
                                   "accuracy": ">= 0.95"}}
    print("\nRight row first / in top 3 (per catalog language and model):")
    for key, value in figures["matching"].items():
        print(f"  {key:18s} first {value['first']:.0%}  top-3 {value['top3']:.0%}  "
              f"{value['ms_per_image']:.0f} ms/photo")
    t = figures["training"]
    print(f"Training: {t['wall_s']} s, accuracy {t['accuracy']:.3f}, macro-F1 {t['macro_f1']:.3f} "
          f"({t['train_images']} train / {t['val_images']} val photos)")
    s = figures["speed"]
    print(f"Speed: batched {s['batched_contiguous_ms']} ms/img, batch 1 {s['batch1_contiguous_ms']} ms, "
          f"non-contiguous baseline {s['batch1_non_contiguous_ms']} ms, "
          f"photo end to end {s['decode_preprocess_classify_ms']} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
