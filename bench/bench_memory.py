"""Memory of the app's process with every tool loaded, step by step (Streamlit Community Cloud budget ~2.7 GB).

    .venv/bin/python bench/bench_memory.py

Loads, in one process and in the order a user meets them: the assistant's e5 embeddings (the
baseline: the core app without tools), then the review-sentiment heads, the ImageNet photo model,
Whisper base, and uses each once. Prints the resident memory (RSS, and the peak) after each step.
The language model runs in its own process; its RSS is measured separately by starting it as the
app does (``rag.models.model_server``), so the total is app + model process.
Writes ``bench/results/memory.json``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    from rag.settings import load_settings

    settings = load_settings(model_dir=os.environ.get("CATALOG_MODEL_DIR", str(ROOT / ".assistant" / "models")))
    steps: list[dict] = [{"step": "python + settings", "rss_mb": rss_mb(), "peak_mb": peak_mb(), "s": 0.0}]

    def step(name, fn):
        t0 = time.perf_counter()
        fn()
        steps.append({"step": name, "rss_mb": round(rss_mb(), 1), "peak_mb": round(peak_mb(), 1),
                      "s": round(time.perf_counter() - t0, 2)})
        print(f"{name:<44} RSS {steps[-1]['rss_mb']:7.0f} MB   peak {steps[-1]['peak_mb']:7.0f} MB   {steps[-1]['s']:6.1f} s",
              flush=True)

    held: dict = {}

    def core():
        import streamlit  # noqa: F401  (the app imports it anyway)

        from rag.factory import build_embeddings

        held["emb"] = build_embeddings(settings)
        held["emb"].embed_query("¿Cuánto cuesta el iPhone 15?")

    def sentiment():
        from tools.sentiment import SentimentAnalyzer

        held["sent"] = SentimentAnalyzer.default(held["emb"])
        held["sent"].analyze(["La comida estuvo deliciosa y el servicio excelente"])

    def photo():
        from PIL import Image

        from finetune.effnet import ImageNetModel

        held["img"] = ImageNetModel()
        held["img"].top([Image.new("RGB", (640, 480), (200, 180, 40))])

    def speech():
        import io
        import wave

        from rag.errors import ToolInputError
        from tools.speech import build_transcriber

        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(b"\0\0" * 32000)
        held["asr"] = build_transcriber(settings)
        try:
            held["asr"].transcribe(buf.getvalue(), name="silence.wav")
        except ToolInputError:  # silence is refused by design; the model has run either way
            pass

    print("step                                         memory of the app process")
    step("core: e5 embeddings (baseline)", core)
    step("+ review sentiment heads", sentiment)
    step("+ photo model (EfficientNet-Lite0)", photo)
    step("+ Whisper base", speech)

    model = {}
    try:
        from rag.models import model_server, resolve_gguf

        server = model_server(settings, resolve_gguf(settings), attach=False)
        server.start()
        model = {"model_process_rss_mb": round(rss_mb(server.proc.pid), 1), "preset": settings.llm_preset}
        server.stop()
    except Exception as exc:  # report what could be measured
        model = {"model_process_error": repr(exc)}
    app = steps[-1]["rss_mb"]
    total = app + model.get("model_process_rss_mb", 0.0)
    print(f"\nlanguage model process ({settings.llm_preset}): {model.get('model_process_rss_mb', model)} MB")
    print(f"app with every tool {app:.0f} MB (core only {steps[1]['rss_mb']:.0f} MB) + model process = {total:.0f} MB "
          f"(Community Cloud budget ~2700 MB)")
    out = ROOT / "bench" / "results" / "memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"steps": steps, **model, "total_mb": round(total, 1)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
