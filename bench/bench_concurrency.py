"""Many staff at once: answer latency with 1, 5 and 10 real browser sessions asking together, and during an ingest.

What it does, end to end, against a real ``streamlit run streamlit_app.py``:

1. ingests the sample catalogs (``python -m ingest``) into a temporary data dir, and writes a generated
   catalog of ``--rows`` products for the ingest phases;
2. starts the app on a free localhost port, pointed at that data dir (``CATALOG_DATA_DIR``; the GGUF models
   are reused from ``.assistant/models`` when it exists, as the tests do);
3. drives real Chromium sessions (Playwright): each opens the Ask page, picks its store, types its own
   question (10 questions from tests/data/dev_*.jsonl, 5 per store) and waits for the finished answer.
   A script in each page times, with the page's own clock, submit -> first answer words visible and
   submit -> answer complete (the "⏱" caption), and records every "N questions ahead of yours" it showed;
4. asks the 10 questions in waves of 1, 5 and 10 sessions at once (the 1-session figures are the same-run
   baseline), then again one at a time while an ingest runs: first ``python -m ingest`` in another process,
   then an upload applied on the Catalog page (the ingest runs inside the app process);
5. checks every answer: no error, the page holds only its own question and one answer, the expected fact
   is in it, it equals the 1-session answer to the same question, and the sessions that waited for the
   model showed their place; prints p50/p95 per level and phase, and the load average.

Prerequisites (nothing is downloaded at run time; never run ``playwright install``):
- the project venv with requirements.txt and requirements-dev.txt (``playwright==1.65.2``);
- Debian's Chromium at /usr/bin/chromium: ``apt-get install -y chromium`` (or ``--chromium PATH``);
- the packaged models assembled once (any earlier test or app run does it; else the first run here does).

Usage: ``.venv/bin/python bench/bench_concurrency.py [--levels 1 5 10] [--rows 3000] [--no-ingest] [--out FILE.json]``
It takes several minutes on 2 cores: answers are generated one at a time, so 10 sessions wait in line.
Chromium runs on the same machine and takes CPU from the app; the figures include that.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "tests" / "data"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 # ten pages in one browser: keep the ones not in front from being throttled
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]
ADMIN_PASSWORD = "bench-admin-2468"
QUESTIONS = {  # store -> questions from its dev set, each with a fact no other of these answers has
    "techstore": ["How much RAM does the MacBook Pro have?", "What processor does the Dell XPS 15 have?",
                  "How big is the screen on the iPad mini?", "What GPU does the ASUS ROG Zephyrus G14 have?",
                  "How long does the Sony WH-1000XM5 battery last?"],
    "bella-italia": ["¿Cuánto cuesta la Lasaña de la Casa?", "¿Qué lleva la Ensalada Caprese?",
                     "¿Qué ingredientes tiene la Pizza Diavola?", "¿Cuánto cuesta el Risotto de Mariscos?",
                     "¿Qué alérgenos tiene el Gnocchi al Pesto?"],
}
ANSWER_TIMEOUT_S = 600

# Runs in every page before the app: times the answer with the page's clock, from the Enter key press.
OBSERVER = r"""
window.__bench = {submit: null, first: null, done: null, waited: [], text: '', caption: '', error: null};
document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && e.target.closest('[data-testid="stChatInput"]') && window.__bench.submit === null) {
    window.__bench.submit = performance.now();
  }
}, true);
const skip = '[data-testid="stCaptionContainer"], [data-testid="stAlert"], [data-testid="stExpander"]';
function check() {
  const B = window.__bench;
  if (B.submit === null || B.done !== null) return;
  const msgs = [...document.querySelectorAll('[data-testid="stChatMessage"]')];
  const last = msgs[msgs.length - 1];
  if (!last || !last.querySelector('[data-testid="stChatMessageAvatarAssistant"]')) return;
  const now = performance.now();
  for (const a of last.querySelectorAll('[data-testid="stAlert"]')) {
    const t = a.innerText.split('\n').filter((l) => l.includes('ahead of yours')).join(' ').trim();
    if (t.includes('ahead of yours') && !B.waited.includes(t)) B.waited.push(t);
  }
  const words = [...last.querySelectorAll('[data-testid="stMarkdownContainer"]')]
    .filter((m) => !m.closest(skip)).map((m) => m.innerText.trim()).filter(Boolean).join('\n');
  if (words && B.first === null) B.first = now;
  const err = last.querySelector('[data-testid="stAlertContentError"], [data-testid="stException"]');
  const cap = [...last.querySelectorAll('[data-testid="stCaptionContainer"]')].find((c) => c.innerText.includes('⏱'));
  if (cap || err) {
    B.done = now; B.text = words; B.caption = cap ? cap.innerText : ''; B.error = err ? err.innerText : null;
  }
}
new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
"""
PAGE_STATE = r"""() => {
  const msgs = [...document.querySelectorAll('[data-testid="stChatMessage"]')];
  const who = (m) => m.querySelector('[data-testid="stChatMessageAvatarUser"]') ? 'user' : 'assistant';
  return {...window.__bench,
          users: msgs.filter((m) => who(m) === 'user')
            .map((m) => m.querySelector('[data-testid="stChatMessageContent"]').innerText.trim()),
          assistants: msgs.filter((m) => who(m) === 'assistant').length};
}"""


@dataclass
class Result:
    phase: str
    concurrent: int
    store: str
    question: str
    first_s: float | None = None
    total_s: float | None = None
    method: str = ""
    waited: list[str] = field(default_factory=list)
    text: str = ""
    error: str | None = None
    users: list[str] = field(default_factory=list)
    assistants: int = 0
    fact: bool = False
    own_only: bool = False
    same_as_single: bool | None = None


def expectations() -> dict[str, list[str]]:
    """question -> the facts its dev-set row expects (any of them)."""
    out = {}
    for path in sorted(DEV.glob("dev_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out[row["question"]] = row.get("expect_any") or row.get("expect_all") or []
    return out


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_")}
    env.update(CATALOG_DATA_DIR=str(data_dir), CATALOG_ADMIN_PASSWORD=ADMIN_PASSWORD, HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    models = ROOT / ".assistant" / "models"
    if models.is_dir():
        env["CATALOG_MODEL_DIR"] = str(models)
    return env


def write_bulk_catalog(path: Path, rows: int) -> None:
    """A generated catalog for the ingest phases (distinct names, prices and descriptions)."""
    kinds = ["desk lamp", "office chair", "water bottle", "backpack", "notebook", "phone case", "usb cable", "mug"]
    colours = ["black", "white", "blue", "green", "red", "grey", "yellow", "orange"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sku", "name", "price", "stock", "description"])
        for n in range(rows):
            kind, colour = kinds[n % len(kinds)], colours[(n // len(kinds)) % len(colours)]
            w.writerow([f"BK-{n:05d}", f"{colour.title()} {kind} model {n}", f"{5 + (n * 37) % 200}.{n % 100:02d}",
                        n % 40, f"A {colour} {kind}, series {n // 64}, made for everyday use (item {n})."])


@contextmanager
def app_server(env: dict[str, str], port: int, log: Path):
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > end:
                raise SystemExit(f"The app did not start (see {log}).")
            time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


class Session:
    """One browser context (one Streamlit session) on the Ask page of one store."""

    def __init__(self, browser, url: str, store: str) -> None:
        self.context = browser.new_context()
        self.context.add_init_script(OBSERVER)
        self.page = self.context.new_page()
        self.store = store
        self.page.goto(url)
        self.page.get_by_test_id("stChatInputTextArea").wait_for(timeout=120_000)
        if store != "techstore":
            self.page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
            self.page.get_by_role("option", name=store, exact=True).click()
        self.page.get_by_text(f"Answers for {store} come only from its catalog").wait_for(timeout=120_000)

    def ask(self, question: str) -> None:
        box = self.page.get_by_test_id("stChatInputTextArea")
        box.fill(question)
        box.press("Enter")

    def state(self) -> dict:
        return self.page.evaluate(PAGE_STATE)

    def close(self) -> None:
        self.context.close()


def method_of(caption: str) -> str:
    if "exact, written from the catalog rows" in caption:
        return "rule"
    if "decided by a check" in caption:
        return "guard"
    return "llm" if "local model" in caption else ""


def wave(browser, url: str, items: list[tuple[str, str]], phase: str, expect: dict[str, list[str]]) -> list[Result]:
    """Open one session per (store, question), submit all, wait for every answer."""
    sessions = [Session(browser, url, store) for store, _ in items]
    try:
        for s, (_, q) in zip(sessions, items, strict=True):
            s.ask(q)
        results = [Result(phase, len(items), store, q) for store, q in items]
        pending = set(range(len(items)))
        end = time.monotonic() + ANSWER_TIMEOUT_S
        while pending and time.monotonic() < end:
            time.sleep(0.25)
            for i in sorted(pending):
                st = sessions[i].state()
                if st["done"] is not None:
                    fill(results[i], st, expect)
                    pending.discard(i)
        for i in pending:
            results[i].error = f"no finished answer within {ANSWER_TIMEOUT_S} s"
            fill(results[i], sessions[i].state(), expect, finished=False)
        return results
    finally:
        for s in sessions:
            s.close()


def fill(r: Result, st: dict, expect: dict[str, list[str]], finished: bool = True) -> None:
    ms = (lambda t: round((t - st["submit"]) / 1000, 2) if t is not None and st["submit"] is not None else None)
    if finished:
        r.first_s, r.total_s = ms(st["first"]), ms(st["done"])
    r.waited, r.text, r.users, r.assistants = st["waited"], st["text"], st["users"], st["assistants"]
    r.method = method_of(st["caption"] or "")
    r.error = r.error or st["error"]
    r.own_only = r.users == [r.question] and r.assistants == 1
    r.fact = any(f.lower() in r.text.lower() for f in expect.get(r.question, []))


def pct(values: list[float], q: int) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(label: str, results: list[Result], loads: str) -> str:
    ok = [r for r in results if r.total_s is not None and not r.error]
    llm = [r for r in results if r.method == "llm"]
    fast = [r.total_s for r in ok if r.method in ("rule", "guard")]
    firsts = [r.first_s for r in ok if r.first_s is not None]
    totals = [r.total_s for r in ok]
    same = [r for r in results if r.same_as_single is not None]
    cell = (lambda xs: f"{pct(xs, 50):5.1f} / {pct(xs, 95):5.1f}" if xs else "    – /     –")
    return (f"{label:<26} {len(results):>3} {len(results) - len(ok):>4} {sum(r.own_only for r in results):>4} "
            f"{sum(r.fact for r in results):>4} {sum(bool(r.same_as_single) for r in same):>3}/{len(same):<3} "
            f"{sum(bool(r.waited) for r in llm):>3}/{len(llm):<3} "
            f"{cell(firsts)}  {cell(totals)}  {cell(fast)}  {loads}")


HEADER = (f"{'phase':<26} {'n':>3} {'err':>4} {'own':>4} {'fact':>4} {'same':>7} {'place':>7} "
          f"{'first word p50/p95 s':>13}  {'answer p50/p95 s':>13}  {'rule/guard p50/p95':>13}  load 1/5/15 min")


def ingest_while(browser, url: str, items, phase: str, expect, start_ingest, ingest_done) -> tuple[list[Result], str]:
    """Ask ``items`` one at a time while an ingest runs; only answers that ended before it finished count."""
    t0 = time.monotonic()
    start_ingest()
    results = []
    for store, q in items:
        if ingest_done():
            break
        (r,) = wave(browser, url, [(store, q)], phase, expect)
        if not ingest_done():  # the whole answer ran during the ingest
            results.append(r)
    while not ingest_done():
        time.sleep(0.5)
    return results, f"{time.monotonic() - t0:.0f} s"


def catalog_page_ingest(browser, url: str, csv_path: Path, store: str):
    """An admin session that uploads ``csv_path`` to a new store on the Catalog page and clicks Apply."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(url + "/catalog")
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("New store name").fill(store)
    page.get_by_role("button", name="Create store").click()
    page.get_by_text("has no index yet").first.wait_for(timeout=120_000)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv_path))
    apply = page.get_by_role("button", name="Apply")
    apply.wait_for(timeout=300_000)

    ended = page.get_by_test_id("stAlertContentSuccess").or_(page.get_by_test_id("stAlertContentError"))

    def start():
        apply.click()
        page.get_by_test_id("stProgress").or_(ended).first.wait_for(timeout=60_000)

    def done() -> bool:
        return ended.count() > 0

    def outcome() -> str:
        text = ended.first.inner_text()
        context.close()
        return text

    return start, done, outcome


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 5, 10], help="sessions asking at once")
    ap.add_argument("--rows", type=int, default=3000, help="rows in the catalog ingested during the ingest phases")
    ap.add_argument("--questions", type=int, default=10, help="how many of the 10 questions to ask (a quick check)")
    ap.add_argument("--no-ingest", action="store_true", help="skip the ingest phases")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--out", type=Path, help="write every answer's record to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data dir and the app log")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright  # dev requirement: imported only when the bench runs

    if not Path(args.chromium).exists():
        raise SystemExit(f"{args.chromium} not found: install Debian's chromium (apt-get install -y chromium) "
                         "or pass --chromium PATH.")
    expect = expectations()
    items = [(store, q) for pair in zip(*[[(s, q) for q in qs] for s, qs in QUESTIONS.items()], strict=True)
             for store, q in pair][:args.questions]  # alternate the stores
    missing = [q for _, q in items if not expect.get(q)]
    if missing:
        raise SystemExit(f"No expected facts in tests/data/dev_*.jsonl for: {missing}")
    work = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    env = app_env(work / "data")
    log = work / "streamlit.log"
    print(f"data dir {work / 'data'} · load {load()} · ingesting the sample catalogs…", flush=True)
    subprocess.run([sys.executable, "-m", "ingest", "-q"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    bulk = work / "bulk.csv"
    write_bulk_catalog(bulk, args.rows)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    rows: list[str] = []
    records: list[Result] = []
    try:
        with app_server(env, port, log), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            t = time.monotonic()
            (first,) = wave(browser, url, [items[0]], "warm-up", expect)  # loads the model (first time only)
            print(f"warm-up (model load + first answer): {time.monotonic() - t:.0f} s, error: {first.error}",
                  flush=True)
            single: dict[str, str] = {}
            for level in args.levels:
                results = []
                for start in range(0, len(items), level):
                    results += wave(browser, url, items[start:start + level], f"{level} at once", expect)
                if not single:
                    single = {r.question: r.text for r in results}
                for r in results:
                    r.same_as_single = single.get(r.question) == r.text if single else None
                records += results
                rows.append(summary(f"{level} at once", results, load()))
                print(rows[-1], flush=True)
            if not args.no_ingest:
                proc: dict[str, subprocess.Popen] = {}

                def start_cli():
                    cmd = [sys.executable, "-m", "ingest", "-q", "--store", "bulk-cli", str(bulk)]
                    proc["p"] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE)

                results, took = ingest_while(browser, url, items, "1 at once + ingest (CLI)", expect, start_cli,
                                             lambda: proc["p"].poll() is not None)
                err = proc["p"].stderr.read().decode(errors="replace").strip()
                for r in results:
                    r.same_as_single = single.get(r.question) == r.text if single else None
                records += results
                tail = f" {err[-200:]}" if err else ""
                rows.append(summary("1 + `python -m ingest`", results, load()) +
                            f"  ingest {args.rows} rows: {took}, exit {proc['p'].returncode}{tail}")
                print(rows[-1], flush=True)

                start_app, done_app, outcome_app = catalog_page_ingest(browser, url, bulk, "bulk-app")
                results, took = ingest_while(browser, url, items, "1 at once + ingest (page)", expect, start_app,
                                             done_app)
                for r in results:
                    r.same_as_single = single.get(r.question) == r.text if single else None
                records += results
                rows.append(summary("1 + Catalog page Apply", results, load()) +
                            f"  ingest {args.rows} rows: {took}, {outcome_app()[:80]!r}")
                print(rows[-1], flush=True)
            browser.close()
    finally:
        print()
        print(f"Answers to {len(items)} questions (both stores, alternating) in real browser sessions; "
              "err = errors or no answer, own = the page holds only its own question and one answer, "
              "fact = the expected fact is in the answer, same = identical to the 1-session answer, "
              "place = model answers that showed 'N questions ahead of yours' (a wave's first model answer has no one "
              "ahead). Seconds from the Enter key, timed in the page.")
        print(HEADER)
        for row in rows:
            print(row)
        print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        if args.out:
            args.out.write_text(json.dumps([asdict(r) for r in records], ensure_ascii=False, indent=1))
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    bad = [r for r in records if r.error or not r.own_only]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
