"""The real app in a subprocess, and Debian's Chromium for Playwright: shared by the browser test and the bench.

``tests/test_e2e_browser.py`` and ``bench/bench_concurrency.py`` both start ``streamlit run streamlit_app.py``
on a free localhost port with its own data dir, and drive it with Playwright on Debian's Chromium
(``apt-get install -y chromium``; nothing is downloaded, ``playwright install`` is never run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from rag.llm_server import free_port  # one free-port helper for the core and the tests

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "app_env", "app_server", "chromium_missing", "free_port", "tail"]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CATALOG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 # many pages in one browser: keep the ones not in front from being throttled
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]


def chromium_missing(path: Path = CHROMIUM) -> str | None:
    """Why the browser cannot run (None: it can), with the fix."""
    if path.exists():
        return None
    return (f"{path} not found: install Debian's chromium (apt-get install -y chromium; .ci/run does) "
            "or set CATALOG_CHROMIUM to a Chromium binary.")


def app_env(data_dir: Path, admin_password: str, **settings: str) -> dict[str, str]:
    """The environment of an app on ``data_dir`` with that admin password; ``settings``: more CATALOG_* values.

    The packaged models already assembled in ``.assistant/models`` are reused (as the other tests do).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_")}
    env.update(CATALOG_DATA_DIR=str(data_dir), CATALOG_ADMIN_PASSWORD=admin_password, HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    models = ROOT / ".assistant" / "models"
    if models.is_dir():
        env["CATALOG_MODEL_DIR"] = str(models)
    env.update({f"CATALOG_{k.upper()}": v for k, v in settings.items()})
    return env


@contextmanager
def app_server(env: dict[str, str], port: int, log: Path, start_timeout_s: float = 120):
    """``streamlit run streamlit_app.py`` on 127.0.0.1:``port`` until the block ends; its output goes to ``log``."""
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + start_timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"The app did not start within {start_timeout_s:.0f} s:\n{tail(log)}")
            time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def tail(log: Path, chars: int = 4000) -> str:
    """The end of an app log, for an assertion message."""
    return log.read_text(encoding="utf-8", errors="replace")[-chars:] if log.exists() else f"({log} is empty)"
