"""The store's own records: what it embeds and a copy re-embedded with another model (real Chroma, real models)."""

from __future__ import annotations

from rag.factory import build_embeddings, build_index, build_retriever
from rag.models import embedding_id
from rag.store import copy_store

from .conftest import make_settings


def test_a_store_copied_with_another_embedding_keeps_its_documents_and_facts(session_settings, sample_index, tmp_path):
    """How the evaluation compares embedding models: the live store's rows re-embedded, nothing re-read from files."""
    live = sample_index.info("techstore")
    minilm = make_settings(tmp_path / "scratch", embedding="minilm", model_dir=session_settings.model_dir)
    target = build_index(minilm)
    copied = copy_store(sample_index, target, "techstore", build_embeddings(minilm), embedding_id(minilm))
    assert copied.embedding == embedding_id(minilm) != live.embedding
    assert (copied.count, copied.currency, copied.language, copied.fields) == (live.count, live.currency, live.language, live.fields)
    source_ids = set(sample_index.collection(live.collection).get()["ids"])
    assert set(target.collection(copied.collection).get()["ids"]) == source_ids
    retriever = build_retriever(minilm, target, build_embeddings(minilm), "techstore")
    assert retriever.invoke("How much is the iPhone 15?")[0].metadata["name"].startswith("iPhone 15")
