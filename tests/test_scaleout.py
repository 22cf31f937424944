"""Scale-out, run for real: the catalog index on a `chroma run` server, the model on an OpenAI-compatible server.

This module starts both servers itself, on free ports: ``chroma run`` (the CLI that ships with
chromadb) and llama-cpp-python's ``llama_cpp.server`` with the same GGUF as embedded mode, started
through :class:`rag.llm_server.ModelServer` (the flags the app's own model process uses, so a
greedy answer is the same token for token). The sample catalogs are ingested into the Chroma
server through the normal pipeline, questions go through the normal chain with
``llm_backend='openai'``, and the answers must equal embedded mode's (the ``chains`` fixture).
Then each server is SIGKILLed in the middle of a question: the user gets one clear message (chain,
``python -m rag ask`` and the app), and the next question after the server is restarted on the
same port is answered by the same cached clients.

Both servers die with this process whatever happens (fixture teardown; ``PR_SET_PDEATHSIG`` for
chroma and the model process's parent watchdog if pytest itself is killed).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag.chain import ask, stream_answer
from rag.errors import IndexServerError, ModelServerError
from rag.llm_server import MODEL_ALIAS, ModelServer, free_port
from rag.models import resolve_gguf
from tests.conftest import MODEL_CACHE, make_settings

ROOT = Path(__file__).resolve().parent.parent
CHROMA = Path(sys.executable).with_name("chroma")  # the `chroma` CLI installed with chromadb
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)

# (store, question, how the chain decides): answers the model writes, an exact answer from row fields,
# and refusals (by the model and by a check), in both languages.
QUESTIONS = [
    ("techstore", "What screen does the iPad Pro have?", "llm"),
    ("techstore", "How much does the iPhone 15 cost?", "rule:price"),
    ("bella-italia", "¿Qué lleva la Ensalada Caprese?", "llm"),
    ("bella-italia", "¿Hacen delivery?", "llm"),
    ("bella-italia", "Do you serve hamburgers?", "llm:refused"),
    ("bella-italia", "¿Tienen sushi?", "guard:unknown_subject"),
]
STREAMED = ("techstore", "What screen does the iPad Pro have?")  # long enough an answer to kill the server mid-way
PRICE = ("techstore", "How much does the iPhone 15 cost?")  # no model needed: retrieval is all the index server does
DELIVERY = ("bella-italia", "¿Hacen delivery?")  # a short answer written by the model


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the test process dies, even by SIGKILL."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class ChromaServer:
    """``chroma run`` on a folder and a port; killed and restarted on the same port and data by the tests."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path, self.log = path, log
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def where(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                env=dict(os.environ, ANONYMIZED_TELEMETRY="False"),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"chroma run exited: {self.log.read_text(errors='replace')[-2000:]}"
            try:
                with urllib.request.urlopen(f"http://{self.where}/api/v2/heartbeat", timeout=1) as r:
                    if "nanosecond heartbeat" in json.loads(r.read()):
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"chroma run did not answer within {timeout:.0f} s")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or an out-of-memory kill ends it, and wait until the port is closed."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(30)


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chroma-server")
    server = ChromaServer(folder / "data", folder / "chroma.log")
    t0 = time.perf_counter()
    server.start()
    print(f"\nchroma run ready in {time.perf_counter() - t0:.1f} s")  # shown with -s
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def model_endpoint(tmp_path_factory, session_settings):
    """llama-cpp-python's OpenAI-compatible server with the embedded mode's GGUF and flags, on a free port."""
    folder = tmp_path_factory.mktemp("model-server")
    server = ModelServer(resolve_gguf(session_settings), n_ctx=2048, n_threads=2, log_path=folder / "server.log")
    t0 = time.perf_counter()
    server.start()
    print(f"\nllama_cpp.server ready in {time.perf_counter() - t0:.1f} s")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def remote_settings(tmp_path_factory, chroma_server, model_endpoint):
    """Settings of a box that keeps nothing itself: index on the Chroma server, answers from the model server."""
    return make_settings(tmp_path_factory.mktemp("app-box"), chroma_host="127.0.0.1", chroma_port=chroma_server.port,
                         llm_backend="openai", openai_base_url=model_endpoint.base_url, openai_model=MODEL_ALIAS)


@pytest.fixture(scope="module")
def remote_index(remote_settings, embeddings):
    from ingest.pipeline import run
    from rag.factory import build_index

    index = build_index(remote_settings)
    reports = run(settings=remote_settings, index=index, embeddings=embeddings)
    assert sorted(r.store for r in reports) == ["bella-italia", "techstore"]
    return index


@pytest.fixture(scope="module")
def remote_llm(remote_settings):
    from rag.chain import warm_up
    from rag.factory import build_llm

    llm = build_llm(remote_settings)
    warm_up(llm)  # as the app does for every backend: the fixed prompt prefix is in the server's cache
    return llm


@pytest.fixture(scope="module")
def remote_chains(remote_settings, remote_index, embeddings, remote_llm):
    from rag.factory import build_store_chain

    return {store: build_store_chain(remote_settings, remote_index, embeddings, remote_llm, store)
            for store in ("techstore", "bella-italia")}


def test_the_sample_catalogs_are_ingested_into_the_chroma_server(remote_index, remote_settings, sample_index,
                                                                  chroma_server):
    samples = {"techstore", "bella-italia"}  # the shared embedded index may also hold other test modules' stores
    remote = {s.store: (s.count, sorted(s.sources)) for s in remote_index.stores()}
    local = {s.store: (s.count, sorted(s.sources)) for s in sample_index.stores() if s.store in samples}
    assert remote == local and set(remote) == samples
    assert remote_index.persist_dir is None  # a server: its disk is on its own box
    assert (chroma_server.path / "chroma.sqlite3").is_file() and not remote_settings.chroma_dir.exists()


@pytest.fixture(autouse=True)
def _both_servers_running(chroma_server, model_endpoint):
    """Each test starts with both servers up, even after a test that failed with one of them killed."""
    yield
    if not chroma_server.alive():
        chroma_server.start()
    if not model_endpoint.alive():
        model_endpoint.start()


@pytest.fixture(scope="module")
def embedded(chains):
    """Embedded mode's answer to a question (the ``chains`` fixture: local Chroma, the app's own model process)."""
    answers = {}

    def answer(store: str, question: str):
        if (store, question) not in answers:
            answers[store, question] = ask(chains[store], question)
        return answers[store, question]

    return answer


def same_answer(got, expected) -> None:
    assert (got.answer, got.method, got.refused) == (expected.answer, expected.method, expected.refused)
    assert [d.id for d in got.sources] == [d.id for d in expected.sources]
    assert [d.id for d in got.retrieved] == [d.id for d in expected.retrieved]


@pytest.mark.slow
@pytest.mark.parametrize(("store", "question", "method"), QUESTIONS, ids=[q for _, q, _ in QUESTIONS])
def test_answers_through_both_servers_are_the_same_as_embedded(remote_chains, embedded, store, question, method):
    remote = ask(remote_chains[store], question)
    same_answer(remote, embedded(store, question))
    assert remote.method == method


def index_server_down(where: str) -> str:
    return (f"The catalog index server at {where} is not answering (connection refused). Start it on its box with "
            f"`chroma run --path INDEX_FOLDER --host 0.0.0.0 --port {where.rsplit(':', 1)[1]}` (the folder that holds "
            "the index), or fix CATALOG_CHROMA_HOST / CATALOG_CHROMA_PORT; then try again.")


def model_server_down(url: str, how: str, why: str) -> str:
    return (f"The model server at {url} {how} ({why}). Start it again on its box (README: \"Several boxes\"), "
            "or fix CATALOG_OPENAI_BASE_URL; then ask again.")


class KillsTheServerOnQuery(Embeddings):
    """The real embeddings, plus a SIGKILL of the Chroma server as the question is embedded.

    That is the middle of retrieval: the store's live collection was looked up on the server a
    moment before, and the vector search on it comes next.
    """

    def __init__(self, inner: Embeddings, server: ChromaServer) -> None:
        self.inner, self.server, self.kills = inner, server, 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        if self.server.alive():
            self.server.kill()
            self.kills += 1
        return self.inner.embed_query(text)


def test_a_chroma_server_killed_during_retrieval_is_a_clear_error_and_its_restart_is_picked_up(
        remote_settings, remote_index, remote_chains, remote_llm, embeddings, embedded, chroma_server):
    from rag.factory import build_store_chain

    store, question = PRICE
    killer = KillsTheServerOnQuery(embeddings, chroma_server)
    chain = build_store_chain(remote_settings, remote_index, killer, remote_llm, store)
    with pytest.raises(IndexServerError) as err:
        ask(chain, question)
    assert killer.kills == 1 and not chroma_server.alive()
    assert str(err.value) == index_server_down(chroma_server.where)

    for _ in range(10):  # still down: the same message every time (LangChain's streaming once lost it at random)
        with pytest.raises(IndexServerError) as again:
            ask(remote_chains[store], question)
        assert str(again.value) == index_server_down(chroma_server.where)

    chroma_server.start()  # same port, same folder: the cached client and chain carry on
    same_answer(ask(remote_chains[store], question), embedded(store, question))


@pytest.mark.slow
def test_a_model_server_killed_while_it_streams_an_answer_is_a_clear_error_and_its_restart_is_picked_up(
        remote_chains, embedded, model_endpoint):
    store, question = STREAMED
    written = []
    with pytest.raises(ModelServerError) as err:
        for piece in stream_answer(remote_chains[store], question):
            if isinstance(piece, str):  # the first words are on screen: the server dies now
                written.append(piece)
                if model_endpoint.alive():
                    os.kill(model_endpoint.proc.pid, signal.SIGKILL)
                    model_endpoint.proc.wait()
    assert written and len("".join(written)) < len(embedded(store, question).answer)  # it died mid-answer
    assert str(err.value) == model_server_down(
        model_endpoint.base_url, "stopped answering", "the connection was closed in the middle of a request")

    with pytest.raises(ModelServerError) as down:  # the next question, while it is still down
        ask(remote_chains[store], question)
    assert str(down.value) == model_server_down(model_endpoint.base_url, "is not answering", "connection refused")

    model_endpoint.start()  # same port: the cached ChatOpenAI client reconnects
    store, question = DELIVERY
    same_answer(ask(remote_chains[store], question), embedded(store, question))


def box_env(settings, **overrides: str) -> dict[str, str]:
    """The CATALOG_* variables of an app box that uses both servers (see README, "Several boxes")."""
    env = {
        "CATALOG_DATA_DIR": str(settings.data_dir),
        "CATALOG_MODEL_DIR": str(MODEL_CACHE),
        "CATALOG_CHROMA_HOST": settings.chroma_host,
        "CATALOG_CHROMA_PORT": str(settings.chroma_port),
        "CATALOG_LLM_BACKEND": "openai",
        "CATALOG_OPENAI_BASE_URL": settings.openai_base_url,
        "CATALOG_OPENAI_MODEL": settings.openai_model,
    }
    env.update(overrides)
    return env


def rag_ask(env: dict[str, str], store: str, question: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_")}
    return subprocess.run([sys.executable, "-m", "rag", "ask", "--store", store, question], env={**clean, **env},
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_rag_ask_on_a_dead_chroma_server_exits_with_one_clear_line(remote_settings, remote_index):
    dead = free_port()
    got = rag_ask(box_env(remote_settings, CATALOG_CHROMA_PORT=str(dead)), *PRICE)
    assert got.returncode == 2 and got.stdout == ""
    assert got.stderr == f"error: {index_server_down(f'127.0.0.1:{dead}')}\n"


def test_rag_ask_on_a_dead_model_server_exits_with_one_clear_line(remote_settings, remote_index):
    url = f"http://127.0.0.1:{free_port()}/v1"
    got = rag_ask(box_env(remote_settings, CATALOG_OPENAI_BASE_URL=url), *DELIVERY)
    assert got.returncode == 2 and got.stdout == ""
    assert got.stderr == f"error: {model_server_down(url, 'is not answering', 'connection refused')}\n"


@pytest.fixture
def app_box(remote_settings, remote_index, monkeypatch):
    """The Streamlit app on an app box: its index on the Chroma server, its model on the model server."""
    from streamlit.testing.v1 import AppTest

    from app_pages import auth, resources

    caches = (resources.get_settings, resources.get_index, resources.get_llm, resources.get_chain, resources._loaded,
              auth.get_access)
    for key, value in box_env(remote_settings).items():
        monkeypatch.setenv(key, value)
    for cache in caches:
        cache.clear()
    try:
        yield AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    finally:
        for cache in caches:  # the next test module builds the app's objects for its own settings
            cache.clear()


def test_the_app_shows_a_dead_chroma_server_and_carries_on_once_it_is_back(app_box, chroma_server):
    from app_pages.components import md

    at = app_box.run()
    assert not at.exception and not at.error and at.title[0].value == "💬 Ask the catalog"
    assert at.selectbox(key="store").options == ["bella-italia", "techstore"]

    chroma_server.kill()  # the app's cached client is now talking to nobody
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [md(index_server_down(chroma_server.where))]

    chroma_server.start()
    at.run()
    assert not at.exception and not at.error and at.title[0].value == "💬 Ask the catalog"
    assert at.selectbox(key="store").options == ["bella-italia", "techstore"]


@pytest.mark.slow
def test_the_ask_page_shows_a_dead_model_server_and_answers_once_it_is_back(app_box, model_endpoint, embedded):
    from app_pages.components import md

    model_endpoint.stop()
    at = app_box.run()
    at.selectbox(key="store").set_value("bella-italia").run()
    at.chat_input[0].set_value(DELIVERY[1]).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        md(model_server_down(model_endpoint.base_url, "is not answering", "connection refused"))]

    model_endpoint.start()
    at.chat_input[0].set_value(DELIVERY[1]).run()
    assert not at.exception
    assert len(at.error) == 1  # the earlier message, kept in the chat history
    assert at.chat_message[-1].markdown[0].value == md(embedded(*DELIVERY).answer)
