"""Chroma access shared by ingest and answering: one *store* = one live Chroma collection.

Each ingest that changes anything writes a complete new collection (copying unchanged rows
with their embeddings, embedding only new/changed rows) and then flips a one-record pointer
in the ``catalog-registry`` collection. Flipping a pointer is a single upsert, so a crash or
``kill -9`` mid-ingest leaves the previous collection live and intact; the half-written one
is an orphan that the next ingest deletes. Readers look the pointer up per question, so a
running app sees a refreshed catalog without a restart. The registry lives in Chroma itself
so the same scheme works with a ``chroma run`` server.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rag.errors import IndexMismatchError, IndexMissingError
from rag.settings import validate_store_name

if TYPE_CHECKING:  # pragma: no cover
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from langchain_core.embeddings import Embeddings

    from rag.settings import Settings

logger = logging.getLogger(__name__)

REGISTRY = "catalog-registry"
COLLECTION_META = {"hnsw:space": "cosine"}


@dataclass(frozen=True)
class StoreInfo:
    """What the registry knows about a store's live index."""

    store: str
    collection: str
    embedding: str
    version: int
    count: int
    updated_at: str
    sources: dict[str, Any] = field(default_factory=dict)  # file name -> {"rows": n, "path": ..., "ingested_at": ...}
    currency: str = ""  # ISO code detected at ingest (or set by the user); "" = not known, amounts shown bare
    currency_source: str = ""  # where the currency came from: "override", "price cells", "header", "text", ""
    language: str = ""  # "es"/"en": the catalog's own language (how amounts are written), "" = not known
    fields: dict[str, list[str]] = field(default_factory=dict)  # role -> metadata keys (see ingest.mapping.field_keys)


def make_client(settings: Settings) -> ClientAPI:
    """Chroma client per settings: a local persistent dir, or a ``chroma run`` server."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class CatalogIndex:
    """Registry of stores and their live collections on one Chroma client."""

    def __init__(self, client: ClientAPI) -> None:
        self.client = client

    # -- registry ---------------------------------------------------------------------------
    def _registry(self) -> Collection:
        return self.client.get_or_create_collection(REGISTRY, metadata=COLLECTION_META)

    def info(self, store: str) -> StoreInfo | None:
        """The store's live index, or None if it was never ingested."""
        validate_store_name(store)
        got = self._registry().get(ids=[store], include=["metadatas"])
        if not got["ids"]:
            return None
        return _info_from_meta(store, got["metadatas"][0])

    def stores(self) -> list[StoreInfo]:
        got = self._registry().get(include=["metadatas"])
        infos = [_info_from_meta(i, m) for i, m in zip(got["ids"], got["metadatas"], strict=True)]
        return sorted(infos, key=lambda s: s.store)

    def publish(self, info: StoreInfo) -> None:
        """Atomically make ``info.collection`` the store's live index."""
        meta = {
            "collection": info.collection,
            "embedding": info.embedding,
            "version": info.version,
            "count": info.count,
            "updated_at": info.updated_at,
            "sources": json.dumps(info.sources, ensure_ascii=False),
            "currency": info.currency,
            "currency_source": info.currency_source,
            "language": info.language,
            "fields": json.dumps(info.fields, ensure_ascii=False),
        }
        self._registry().upsert(ids=[info.store], documents=[info.store], metadatas=[meta], embeddings=[[1.0]])

    def unpublish(self, store: str) -> None:
        self._registry().delete(ids=[store])

    # -- collections ------------------------------------------------------------------------
    def new_collection(self, store: str, version: int) -> Collection:
        name = f"{store}-v{version}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"
        return self.client.create_collection(name, metadata=COLLECTION_META)

    def collection(self, name: str) -> Collection:
        return self.client.get_collection(name)

    def drop_orphans(self, store: str) -> list[str]:
        """Delete collections of ``store`` that are not live (left by a crashed or replaced ingest)."""
        live = self.info(store)
        dropped = []
        for name in self._collection_names():
            if name.startswith(f"{store}-v") and (live is None or name != live.collection):
                self.client.delete_collection(name)
                dropped.append(name)
        if dropped:
            logger.info("Removed %d stale collection(s) of store %s: %s", len(dropped), store, dropped)
        return dropped

    def _collection_names(self) -> list[str]:
        cols = self.client.list_collections()
        return [c if isinstance(c, str) else c.name for c in cols]

    def live_collection(self, store: str, embedding: str) -> tuple[StoreInfo, Collection]:
        """The live collection for answering, checked against the configured embedding model."""
        info = self.info(store)
        if info is None:
            raise IndexMissingError(
                f"The store '{store}' has no index yet. Build it with: python -m ingest --store {store} FILES... "
                "(or just `python -m ingest` for the sample catalogs)."
            )
        if info.embedding != embedding:
            raise IndexMismatchError(
                f"The '{store}' index was built with the '{info.embedding}' embedding model but '{embedding}' "
                f"is configured. Rebuild it: python -m ingest --store {store} --rebuild"
            )
        return info, self.collection(info.collection)

    def vectorstore(self, store: str, embeddings: Embeddings, embedding: str):
        """A LangChain ``Chroma`` over the store's live collection."""
        from langchain_chroma import Chroma

        info, _ = self.live_collection(store, embedding)
        return Chroma(client=self.client, collection_name=info.collection, embedding_function=embeddings)


def _info_from_meta(store: str, meta: dict[str, Any]) -> StoreInfo:
    return StoreInfo(
        store=store,
        collection=meta["collection"],
        embedding=meta["embedding"],
        version=int(meta["version"]),
        count=int(meta["count"]),
        updated_at=meta["updated_at"],
        sources=json.loads(meta.get("sources") or "{}"),
        currency=meta.get("currency", ""),
        currency_source=meta.get("currency_source", ""),
        language=meta.get("language", ""),
        fields=json.loads(meta.get("fields") or "{}"),
    )


PAGE = 5000  # Chroma's SQLite backend fails on one get() of more than 32,766 rows


def get_all(collection: Collection, include: list[str]) -> dict[str, list]:
    """Every record of a collection, read in pages (bounded memory, no SQLite variable limit)."""
    out: dict[str, list] = {"ids": [], **{k: [] for k in include}}
    offset = 0
    while True:
        got = collection.get(include=include, limit=PAGE, offset=offset)
        out["ids"].extend(got["ids"])
        for k in include:
            out[k].extend(got[k] if got[k] is not None else [])
        if len(got["ids"]) < PAGE:
            return out
        offset += PAGE


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
