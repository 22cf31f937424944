"""Shared fixtures: real settings in a temp dir, the real sample index, the real local models.

Heavy fixtures are session-scoped so the suite loads each model once. Fakes are used only
for pure chain logic (see test_chain.py), never in place of Chroma or the models.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag.settings import Settings, load_settings  # noqa: E402

DATA = ROOT / "tests" / "data"


@pytest.fixture(autouse=True)
def _no_catalog_env(monkeypatch):
    """Tests never pick up a developer's own CATALOG_* environment."""
    for key in list(os.environ):
        if key.startswith("CATALOG_"):
            monkeypatch.delenv(key, raising=False)


MODEL_CACHE = ROOT / ".assistant" / "models"  # assembled GGUFs are reused across test runs


def make_settings(data_dir: Path, **overrides) -> Settings:
    overrides.setdefault("model_dir", MODEL_CACHE)
    return load_settings(data_dir=data_dir, **overrides)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("assistant"))


@pytest.fixture(scope="session")
def embeddings(session_settings):
    from rag.factory import build_embeddings

    return build_embeddings(session_settings)


@pytest.fixture(scope="session")
def sample_index(session_settings, embeddings):
    """The sample catalogs ingested once into a temp Chroma dir with the real e5 model."""
    from ingest.pipeline import run
    from rag.factory import build_index

    run(settings=session_settings)
    return build_index(session_settings)


@pytest.fixture(scope="session")
def llm(session_settings):
    from rag.factory import build_llm

    return build_llm(session_settings)


@pytest.fixture(scope="session")
def chains(session_settings, sample_index, embeddings, llm):
    from rag.factory import build_store_chain

    return {
        store: build_store_chain(session_settings, sample_index, embeddings, llm, store)
        for store in ("techstore", "bella-italia")
    }


ADMIN_PASSWORD = "back-office-2468"


def signed_in_as_admin(at, monkeypatch):
    """Run the page ``at`` signed in through its admin gate, the password coming from the environment
    (as from Cloud secrets). tests/test_app_auth.py tests the gate itself; this only gets past it."""
    from app_pages import auth, resources

    monkeypatch.setenv("CATALOG_ADMIN_PASSWORD", ADMIN_PASSWORD)
    resources.get_settings.clear()
    auth.get_access.clear()
    at.run()
    at.text_input(key="admin_password").input(ADMIN_PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert at.session_state["auth_admin"], [e.value for e in at.error]
    return at
