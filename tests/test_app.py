"""The Streamlit app end to end with AppTest: real e5 embeddings, real Chroma, real qwen-1.5b.

The sample catalogs are ingested once per module into a temp data dir; each test points the
app at it through ``CATALOG_*`` env vars (the conftest wipes those per test, so they are set
per test). The app's process-wide caches are keyed by nothing, so the settings and index
caches are cleared whenever a test changes the data dir; the models stay loaded.

The answers are checked with the shipped default model (qwen-1.5b): qwen-0.5b is faster but
deterministically answers "$999" for the iPhone 15 (the Pro's price) and "No, we do not sell
the Samsung Galaxy S24" instead of refusing, so it cannot pass an honest content check.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_pages import auth, resources  # noqa: E402
from app_pages.components import md  # noqa: E402
from ingest.pipeline import run as run_ingest  # noqa: E402
from rag.auth import AccessControl  # noqa: E402
from rag.factory import build_index  # noqa: E402
from rag.settings import load_settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
MODEL_CACHE = ROOT / ".assistant" / "models"  # assembled GGUFs are reused across runs
TIMEOUT = 180
ADMIN_PASSWORD = "back-office-2468"


def app_env(data_dir: Path) -> dict[str, str]:
    return {
        "CATALOG_DATA_DIR": str(data_dir),
        "CATALOG_LLM_PRESET": "qwen-1.5b",
        "CATALOG_MODEL_DIR": str(MODEL_CACHE),
    }


def point_app_at(data_dir: Path, monkeypatch) -> None:
    for key, value in app_env(data_dir).items():
        monkeypatch.setenv(key, value)
    resources.get_settings.clear()
    resources.get_index.clear()
    auth.get_access.clear()


@pytest.fixture(scope="module")
def app_data(tmp_path_factory) -> Path:
    """A data dir holding the sample catalogs, ingested once, and the shop's admin account."""
    data_dir = tmp_path_factory.mktemp("app-data")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in app_env(data_dir).items():
            mp.setenv(key, value)
        reports = run_ingest(settings=load_settings())
        AccessControl(load_settings()).set_password(ADMIN_PASSWORD, ADMIN_PASSWORD)  # as `python -m rag admin-password`
    assert {r.store for r in reports} == {"techstore", "bella-italia"}
    return data_dir


@pytest.fixture
def app(app_data, monkeypatch) -> AppTest:
    """The app on the sample index, after its first run."""
    point_app_at(app_data, monkeypatch)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    return at


@pytest.fixture
def signed_in(app) -> AppTest:
    """``app`` on the Catalog page, signed in through its admin gate (tests/test_app_auth.py tests the gate)."""
    app.switch_page("app_pages/catalog.py").run()
    app.text_input(key="admin_password").input(ADMIN_PASSWORD)
    next(b for b in app.button if b.label == "Sign in").click().run()
    assert not app.exception and not app.error
    assert app.session_state["auth_admin"]
    return app


def ask(at: AppTest, question: str):
    """Send ``question`` through the chat input; return the assistant message block."""
    at.chat_input[0].set_value(question).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    messages = at.chat_message
    assert [m.name for m in messages][-2:] == ["user", "assistant"]
    return messages[-1]


def text_of(block) -> str:
    return "\n".join(m.value for m in block.markdown)


def frames(block) -> list[pd.DataFrame]:
    return [d.value for d in block.dataframe]


@pytest.mark.slow
def test_ask_page_answers_with_price_and_cited_row(app):
    assert app.title[0].value == "💬 Ask the catalog"
    assert "techstore" in app.caption[0].value
    assert app.selectbox(key="store").value == "techstore"
    assert "How much RAM does the MacBook Pro have?" in [b.label for b in app.button]

    reply = ask(app, "How much does the iPhone 15 cost?")

    assert "799" in text_of(reply)
    assert reply.expander[0].label.startswith("Sources (")
    cited = pd.concat(frames(reply))
    assert "TS-PHN-001" in set(cited["id"])
    assert "iPhone 15" in set(cited["name"])
    assert any("total" in c.value for c in reply.caption)
    assert "How much RAM does the MacBook Pro have?" not in [b.label for b in app.button]
    assert "Clear chat" in [b.label for b in app.button]

    app.run()  # the next rerun replays the conversation from session state, sources included
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    assert "799" in text_of(app.chat_message[1])
    assert "TS-PHN-001" in set(pd.concat(frames(app.chat_message[1]))["id"])

    follow = ask(app, "and the Pro?")  # a follow-up resolved from the chat history
    assert "999" in text_of(follow)
    assert set(pd.concat(frames(follow))["id"]) == {"TS-PHN-002"}


@pytest.mark.slow
def test_spanish_question_on_bella_italia(app):
    app.selectbox(key="store").select("bella-italia").run()
    assert not app.exception
    assert "bella-italia" in app.caption[0].value
    assert "¿Hacen delivery?" in [b.label for b in app.button]

    reply = ask(app, "¿Cuánto cuesta la Lasaña de la Casa?")

    assert "18" in text_of(reply)
    cited = pd.concat(frames(reply))
    assert "Lasaña de la Casa" in set(cited["name"])


@pytest.mark.slow
def test_out_of_catalog_question_is_refused_without_sources(app):
    reply = ask(app, "Do you sell the Samsung Galaxy S24?")

    assert "not in the catalog" in text_of(reply)
    assert not reply.expander
    assert not frames(reply)
    assert app.session_state["chats"]["techstore"][-1]["refused"] is True


def test_clear_chat_empties_the_store_history(app):
    reply = ask(app, "How many calories does the iPhone 15 have?")  # refused by the guard: no LLM call
    assert "does not list calories" in text_of(reply)
    next(b for b in app.button if b.label == "Clear chat").click().run()

    assert not app.exception
    assert app.session_state["chats"]["techstore"] == []
    assert not app.chat_message


@pytest.mark.usefixtures("signed_in")
def test_catalog_page_lists_the_store_rows(app):
    assert not app.exception
    assert app.title[0].value == "📦 Catalog · techstore"
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics["Rows"].replace(",", "")) >= 40
    rows = next(df for df in (d.value for d in app.dataframe) if "TS-PHN-001" in set(df.get("id", [])))
    assert len(rows) >= 40
    assert list(rows.columns[:2]) == ["id", "name"]

    next(t for t in app.text_input if t.label == "Search rows").input("iphone 15").run()
    filtered = next(df for df in (d.value for d in app.dataframe) if "TS-PHN-001" in set(df.get("id", [])))
    assert 1 <= len(filtered) < len(rows)
    assert all("iphone 15" in " ".join(map(str, r)).lower() for r in filtered.itertuples(index=False))


@pytest.mark.usefixtures("signed_in")
def test_invalid_new_store_name_is_explained(app):
    name_box = next(t for t in app.text_input if t.label == "New store name")
    name_box.input("Bad Name!")
    next(b for b in app.button if b.label == "Create store").click().run()

    assert not app.exception
    assert any("Invalid store name 'Bad Name!'" in e.value for e in app.error)


def test_first_start_builds_the_sample_index(tmp_path, monkeypatch):
    """A fresh deploy has no index: the app builds the sample catalogs itself, then shows Ask."""
    empty = tmp_path / "fresh"
    point_app_at(empty, monkeypatch)
    try:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()

        assert not at.exception
        assert not at.error
        assert at.title[0].value == "💬 Ask the catalog"
        assert at.selectbox(key="store").options == ["bella-italia", "techstore"]
        stores = {s.store: s for s in build_index(load_settings()).stores()}
        assert set(stores) == {"techstore", "bella-italia"}
        assert stores["techstore"].count >= 40
        assert any(f"{stores['techstore'].count} rows" in m.value for m in at.sidebar.markdown)
    finally:
        resources.get_settings.clear()
        resources.get_index.clear()
        auth.get_access.clear()


BAKERY_CSV = b"sku,name,price\nCB-001,Sourdough loaf,6.50\nCB-002,Croissant,two dollars\n"


@pytest.mark.usefixtures("signed_in")
def test_catalog_page_creates_a_store_from_an_upload_after_a_dry_run(app):
    next(t for t in app.text_input if t.label == "New store name").input("corner-bakery")
    next(b for b in app.button if b.label == "Create store").click().run()
    assert not app.exception
    assert app.selectbox(key="store").value == "corner-bakery"
    assert "has no index yet" in app.info[0].value

    app.file_uploader[0].set_value(("bakery.csv", BAKERY_CSV, "text/csv")).run()

    assert not app.exception and not app.error
    assert any(m.value == "**\\[dry run\\] corner-bakery: 1 added, 0 updated, 0 removed, 0 unchanged, 1 rejected**"
               for m in app.markdown)
    counts = {m.label: m.value for m in app.metric}
    assert (counts["Added"], counts["Rejected"]) == ("1", "1")
    rejected = next(d.value for d in app.dataframe if "reason" in d.value.columns)
    assert rejected.to_dict("records") == [
        {"file": "bakery.csv", "line": 3, "reason": "price 'two dollars' is not a number: use digits like 19.99"}
    ]
    index = build_index(load_settings())
    assert index.info("corner-bakery") is None, "a dry run must not write"

    next(b for b in app.button if b.label == "Apply").click().run()

    assert not app.exception and not app.error
    assert app.success[0].value.startswith("corner-bakery: 1 added")
    info = index.info("corner-bakery")
    assert info is not None
    assert (info.count, set(info.sources)) == (1, {"bakery.csv"})
    assert {m.label: m.value for m in app.metric}["Rows"] == "1"
    rows = next(d.value for d in app.dataframe if "id" in d.value.columns)
    assert rows[["id", "name", "price"]].to_dict("records") == [{"id": "CB-001", "name": "Sourdough loaf", "price": 6.5}]
    assert any("1 row" in m.value for m in app.sidebar.markdown)
    assert not app.file_uploader[0].value, "the uploader is reset after applying"


@pytest.mark.slow
def test_a_model_crash_is_a_message_on_the_page_and_the_next_question_is_answered(app, monkeypatch):
    import os
    import signal

    ask(app, "What screen does the iPad Pro have?")  # loads the model in its child process
    server = resources.get_llm().server
    real_ensure = server.ensure_running

    def crash_as_the_question_arrives():
        restarted = real_ensure()
        os.kill(server.proc.pid, signal.SIGSEGV)  # what a bad llama.cpp build does on the first decode
        server.proc.wait()
        return restarted

    monkeypatch.setattr(server, "ensure_running", crash_as_the_question_arrives)
    app.chat_input[0].set_value("What screen does the iPad Pro have?").run()
    assert not app.exception
    assert len(app.error) == 1
    assert app.error[0].value.startswith("The language model stopped while answering (killed by SIGSEGV (signal 11))")

    monkeypatch.setattr(server, "ensure_running", real_ensure)
    app.chat_input[0].set_value("What screen does the iPad Pro have?").run()  # the app is still up
    assert not app.exception
    assert len(app.error) == 1  # only the earlier message, kept in the chat history
    assert "OLED" in text_of(app.chat_message[-1])
    assert server.last_exit == "killed by SIGSEGV (signal 11)"


EVIL_FILE = "`deals` [Pay here](x).csv"
EVIL_NAMES = {
    "EV-001": "![t](https://example.com/beacon.png)",
    "EV-002": "[Pay here](https://pay.example.com)",
    "EV-003": "<img src=x onerror=alert(1)>",
    "EV-004": "Formula $x$ lamp",
}
EVIL_FORMULA = '=HYPERLINK("http://example.com","clic")'
EVIL_CSV = (
    "sku,name,`price` (USD),description\n"
    + "".join(f'{sku},{name},{10 * n}.00,"Desk lamp number {n}"\n'
              for n, (sku, name) in enumerate(EVIL_NAMES.items(), 1))
    + f'EV-005,Plain lamp,50.00,"{EVIL_FORMULA.replace(chr(34), 2 * chr(34))}"\n'
).encode()


def rendered(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit renders as Markdown (chat messages and sidebar included)."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")
    values = [e.value for kind in kinds for e in getattr(at, kind)]
    return values + [m.label for m in at.metric] + [m.value for m in at.metric] + [e.label for e in at.expander]


def assert_shown_as_written(at: AppTest) -> None:
    """No catalog name, header or file name reaches Markdown unescaped (no image, link, HTML, code span, LaTeX)."""
    unescaped = re.compile(r"(?<!\\)(\]\(|!\[|<img|`price`|\$x)|https?://")
    for value in rendered(at):
        assert not unescaped.search(value), value


@pytest.mark.slow
def test_catalog_text_is_shown_as_written_on_the_catalog_and_ask_pages(signed_in, monkeypatch):
    """A catalog of hostile names, header and file name: escaped on both pages, formulas quoted in the download."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    downloads = {}  # file name -> the page's deferred CSV writer (run when the user clicks)
    real_add = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        downloads[file_name] = data_callable
        return real_add(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    app = signed_in  # on the Catalog page, as the admin
    next(t for t in app.text_input if t.label == "New store name").input("evil-shop")
    next(b for b in app.button if b.label == "Create store").click().run()
    app.file_uploader[0].set_value((EVIL_FILE, EVIL_CSV, "text/csv")).run()

    assert not app.exception and not app.error
    assert (f"Columns recognised in **{md(EVIL_FILE)}**: sku → id, name → name, {md('`price` (USD)')} → price, "
            "description → description") in [c.value for c in app.caption]
    assert_shown_as_written(app)

    next(b for b in app.button if b.label == "Apply").click().run()

    assert not app.exception and not app.error
    assert app.success[0].value.startswith("evil-shop: 5 added")
    assert f"📄 {md(EVIL_FILE)} — 5 rows" in app.sidebar.caption[0].value
    assert_shown_as_written(app)
    rows = next(d.value for d in app.dataframe if "id" in d.value.columns)
    assert dict(zip(rows["id"], rows["name"], strict=True)) == {**EVIL_NAMES, "EV-005": "Plain lamp"}  # shown as is
    exported = pd.read_csv(io.BytesIO(downloads["evil-shop-rows.csv"]()), dtype=str, encoding="utf-8-sig")
    assert exported.set_index("id").loc["EV-005", "description"] == "'" + EVIL_FORMULA  # text, not a formula
    assert exported.set_index("id").loc["EV-002", "name"] == EVIL_NAMES["EV-002"]

    app.switch_page("app_pages/ask.py").run()
    reply = ask(app, "Which lamps cost less than $100?")

    history = app.session_state["chats"]["evil-shop"]
    assert text_of(reply) == md(history[-1]["content"])
    assert all(md(name) in text_of(reply) for name in EVIL_NAMES.values()), text_of(reply)  # a rule's list
    assert set(pd.concat(frames(reply))["id"]) >= set(EVIL_NAMES)
    assert_shown_as_written(app)

    reply = ask(app, "Which lamp is number 4?")  # the model's own words, streamed (it says "Formula $x$ …")
    assert history[-1]["method"] == "llm"
    assert text_of(reply) == md(history[-1]["content"])
    assert_shown_as_written(app)


def alerts_sent(monkeypatch) -> list[str]:
    """Every st.info/warning/error body the app sends while a run is in progress (the browser's view,
    including messages a later delta replaces, which the finished AppTest tree no longer has)."""
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

    sent: list[str] = []
    real_enqueue = ForwardMsgQueue.enqueue

    def record(self, msg):
        if msg.HasField("delta") and msg.delta.HasField("new_element") and msg.delta.new_element.HasField("alert"):
            sent.append(msg.delta.new_element.alert.body)
        return real_enqueue(self, msg)

    monkeypatch.setattr(ForwardMsgQueue, "enqueue", record)
    return sent


@pytest.mark.slow
def test_a_question_behind_another_answer_shows_its_place_and_sessions_keep_their_own_chats(app, monkeypatch):
    """The test thread holds the answer queue (another session's answer being generated): the page shows
    its place until the turn comes, then answers. A rule/guard answer in a second session does not wait,
    and each session's chat holds only its own questions. (AppTest runs one session at a time; the
    bench, bench/bench_concurrency.py, drives 10 real browser sessions at once.)"""
    import threading
    import time

    sent = alerts_sent(monkeypatch)
    queue = resources.get_answer_queue()
    holder = queue.enter()
    assert queue.wait(holder, timeout=0), "no other answer may hold the queue when the test starts"
    errors: list[BaseException] = []

    def ask_in_session_a():
        try:
            ask(app, "What screen does the iPad Pro have?")
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=ask_in_session_a, daemon=True)
    try:
        thread.start()
        end = time.monotonic() + TIMEOUT  # not a timing check: only stops a broken page from hanging the suite
        while "Waiting for the assistant: 1 question ahead of yours…" not in sent:
            assert thread.is_alive() and time.monotonic() < end, (errors, sent)
            time.sleep(0.05)
        assert len(queue) == 2 and not errors
    finally:
        queue.leave(holder)
    thread.join(TIMEOUT)
    assert not thread.is_alive() and not errors, errors
    chat_a = app.session_state["chats"]["techstore"]
    assert [m["role"] for m in chat_a] == ["user", "assistant"]
    assert chat_a[1]["method"] == "llm" and "OLED" in chat_a[1]["content"]
    assert "OLED" in text_of(app.chat_message[-1])
    assert not any("ahead of yours" in e.value for e in app.info), "the place is replaced by the answer"
    assert len(queue) == 0

    session_b = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    holder = queue.enter()  # the model is busy again: a guard's answer must not wait for it
    try:
        reply = ask(session_b, "How many calories does the iPhone 15 have?")
    finally:
        queue.cancel(holder)
    assert "does not list calories" in text_of(reply)
    chat_b = session_b.session_state["chats"]["techstore"]
    assert [m["content"] for m in chat_b if m["role"] == "user"] == ["How many calories does the iPhone 15 have?"]
    assert [m["content"] for m in app.session_state["chats"]["techstore"] if m["role"] == "user"] == [
        "What screen does the iPad Pro have?"]
    assert [m.name for m in session_b.chat_message] == ["user", "assistant"]


@pytest.mark.usefixtures("signed_in")
def test_an_upload_whose_file_name_the_disk_refuses_is_a_message(app):
    """A browser may send a 250-byte file name; the file system refuses it before any check (was an OSError)."""
    next(t for t in app.text_input if t.label == "New store name").input("long-names")
    next(b for b in app.button if b.label == "Create store").click().run()
    name = "p" * 246 + ".csv"
    app.file_uploader[0].set_value((name, BAKERY_CSV, "text/csv")).run()
    assert not app.exception
    assert [e.value for e in app.error] == [md(f"The file name '{name[:60]}…' is 250 bytes long, over the limit of 200: "
                                               "rename the file and upload it again.")]
