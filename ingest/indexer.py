"""Incremental, atomic, idempotent indexing of catalog files into a store.

Contract:
- ids are the catalog's own ids (sku) or derived from the name/content, never counters, so
  re-ingesting the same files changes nothing and writes nothing;
- rows whose ``content_hash`` changed are re-embedded; unchanged rows keep their embedding;
- rows that disappeared from a file ingested in this run are removed (rows that came from
  other files of the store are kept unless ``rebuild``);
- the new state is written to a fresh collection and published with one registry upsert
  (see :mod:`rag.store`), under a per-store file lock so two ingests never interleave;
- after a publish, replaced versions and their folders are reclaimed (:meth:`CatalogIndex.reclaim`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from langchain_core.documents import Document

from ingest.loaders import RowError, load_file
from ingest.mapping import ColumnMapping, currency_in_text, field_keys
from rag.errors import IngestLockedError
from rag.prompts import detect_language
from rag.settings import UploadLimits
from rag.store import CatalogIndex, StoreInfo, as_documents, embed_into, get_all, now_iso

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (phase, done, total)
COPY_BATCH = 1000
NOT_COMPARED = {"line", "content_hash"}


@dataclass
class IngestReport:
    """What an ingest run did (or, with ``dry_run``, would do)."""

    store: str
    files: list[str]
    added: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # id -> changed field names
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> {column header: detected role}
    dry_run: bool = False
    rebuilt: bool = False
    currency: str = ""  # detected (or overridden) store currency, "" = not known
    currency_source: str = ""
    total: int = 0
    embedded: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def field_changes(self) -> dict[str, int]:
        """How many rows changed each field, e.g. {"price": 12}."""
        return dict(Counter(f for fields in self.updated.values() for f in fields))

    def to_dict(self) -> dict[str, Any]:
        """Counts at the top level (``added``, ``updated``, …) and the lists under ``details``."""
        return {
            "store": self.store,
            "files": self.files,
            "dry_run": self.dry_run,
            "rebuilt": self.rebuilt,
            "added": len(self.added),
            "updated": len(self.updated),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
            "field_changes": self.field_changes(),
            "mappings": self.mappings,
            "currency": self.currency,
            "currency_source": self.currency_source,
            "total": self.total,
            "embedded": self.embedded,
            "seconds": self.seconds,
            "details": {
                "added": self.added,
                "updated": self.updated,
                "removed": self.removed,
                "rejected": [{"source": e.source, "line": e.line, "reason": e.reason, "message": str(e)} for e in self.rejected],
            },
        }

    def summary(self) -> str:
        """One human line, e.g. "techstore: 3 added, 12 updated (12 price), 0 removed, 40 unchanged, 1 rejected"."""
        fc = self.field_changes()
        detail = f" ({', '.join(f'{n} {f}' for f, n in sorted(fc.items(), key=lambda x: -x[1]))})" if fc else ""
        prefix = "[dry run] " if self.dry_run else ""
        return (
            f"{prefix}{self.store}: {len(self.added)} added, {len(self.updated)} updated{detail}, "
            f"{len(self.removed)} removed, {self.unchanged} unchanged, {len(self.rejected)} rejected"
        )


def load_documents(
    paths: Sequence[Path], *, strict: bool = False, mapping: dict[str, str] | None = None,
    limits: UploadLimits | None = None,
) -> tuple[list[Document], list[RowError], dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    """Load every file under ``limits``; ids must be unique across the store's files (later duplicates are rejected).

    Returns the documents, the rejected rows, per-file source info and per-file detected column roles.
    """
    docs: dict[str, Document] = {}
    errors: list[RowError] = []
    sources: dict[str, dict[str, Any]] = {}
    mappings: dict[str, dict[str, str]] = {}
    for path in paths:
        result = load_file(path, mapping=mapping, strict=strict, limits=limits)
        errors.extend(result.errors)
        if result.mapping is not None:
            mappings[Path(path).name] = dict(result.mapping.roles)
        kept = 0
        for doc in result.documents:
            if doc.id in docs:
                first = docs[doc.id].metadata
                errors.append(
                    RowError(
                        str(path), int(doc.metadata.get("line", 0)),
                        f"id '{doc.id}' is already used by {first['source']} line {first.get('line')}: "
                        "give each product its own id",
                    )
                )
                continue
            docs[doc.id] = doc
            kept += 1
        sources[Path(path).name] = {"path": str(Path(path).resolve()), "rows": kept, "ingested_at": now_iso()}
    return list(docs.values()), errors, sources, mappings


def _changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = (set(old) | set(new)) - NOT_COMPARED
    return sorted(k for k in keys if old.get(k) != new.get(k))


def store_currency(docs: Sequence[Document], override: str | None = None) -> tuple[str, str]:
    """(ISO code, where it came from) for a whole store; ("", "") when nothing says.

    The user's override wins; then the currency of the price cells (a symbol, a currency column
    or the price header: set per row at load); then currency symbols written next to amounts
    in the rows and sections ("0,49 €/L", "envío gratis desde $50") when at least
    :data:`MIN_TEXT_CURRENCY` documents agree. A store whose
    files never name one gets none: an amount is shown bare rather than with a guessed symbol.
    """
    if override:
        return override.upper(), "override"
    counts = Counter(d.metadata["currency"] for d in docs if d.metadata.get("currency"))
    if counts:
        return counts.most_common(1)[0][0], "price cells"
    found = Counter(c for d in docs if (c := currency_in_text(d.page_content)))
    if found and found.most_common(1)[0][1] >= MIN_TEXT_CURRENCY:
        return found.most_common(1)[0][0], "text"
    return "", ""


#: Rows or sections that must write an amount with the same currency before the store takes it
#: from free text (one "(BONO $48500)" in a description is not the price list's currency).
MIN_TEXT_CURRENCY = 2


def store_language(docs: Sequence[Document]) -> str:
    """The catalog's own language ("es"/"en"), from its row and section text; "" when too little text."""
    sample = " ".join(d.page_content for d in docs[:300])
    return detect_language(sample) if len(sample.split()) >= 20 else ""


def store_fields(mappings: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """Role -> metadata keys over every file of the store (see :func:`ingest.mapping.field_keys`)."""
    out: dict[str, list[str]] = {}
    for roles in mappings.values():
        for role, keys in field_keys(ColumnMapping(headers=tuple(roles), roles=roles)).items():
            out.setdefault(role, [])
            out[role] += [k for k in keys if k not in out[role]]
    return out


def sync_store(
    index: CatalogIndex,
    embeddings: Any,
    embedding_id: str,
    store: str,
    paths: Sequence[Path],
    *,
    lock_dir: Path,
    dry_run: bool = False,
    rebuild: bool = False,
    strict: bool = False,
    mapping: dict[str, str] | None = None,
    currency: str | None = None,
    batch_size: int = 64,
    progress: Progress | None = None,
    limits: UploadLimits | None = None,
) -> IngestReport:
    """Bring ``store`` in line with ``paths`` (each file read under ``limits``); see the module docstring."""
    start = time.perf_counter()
    busy = f"Another ingest is writing to the store '{store}' right now. Wait for it to finish and run again."
    with store_lock(lock_dir, store, busy):
        report = _sync_locked(
            index, embeddings, embedding_id, store, paths,
            dry_run=dry_run, rebuild=rebuild, strict=strict, mapping=mapping, currency=currency,
            batch_size=batch_size, progress=progress, limits=limits,
        )
    report.seconds = round(time.perf_counter() - start, 3)
    return report


@contextmanager
def store_lock(lock_dir: Path, store: str, busy: str) -> Iterator[None]:
    """Hold the store's ingest lock (a file lock, so it works across processes), or raise
    IngestLockedError with ``busy`` at once: everything that writes a store takes it."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_dir / f"{store}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IngestLockedError(busy) from None
    try:
        yield
    finally:
        lock.release()


def _sync_locked(
    index, embeddings, embedding_id, store, paths, *, dry_run, rebuild, strict, mapping, currency, batch_size, progress,
    limits,
):
    docs, errors, sources, mappings = load_documents(paths, strict=strict, mapping=mapping, limits=limits)
    report = IngestReport(store=store, files=[str(p) for p in paths], rejected=errors, mappings=mappings, dry_run=dry_run)
    live = index.info(store)
    if live is not None and live.embedding != embedding_id:
        logger.warning("Store %s was embedded with %s; re-embedding everything with %s", store, live.embedding, embedding_id)
        rebuild = True
    report.rebuilt = rebuild

    existing: dict[str, dict[str, Any]] = {}
    old_col = None
    if live is not None:
        old_col = index.collection(live.collection)
        got = get_all(old_col, ["metadatas"])
        existing = dict(zip(got["ids"], got["metadatas"], strict=True))

    ingested_sources = set(sources)
    new_by_id = {d.id: d for d in docs}
    to_embed: list[Document] = []
    keep_ids: list[str] = []
    for doc_id, doc in new_by_id.items():
        old = existing.get(doc_id)
        if old is None:
            report.added.append(doc_id)
            to_embed.append(doc)
        elif rebuild or old.get("content_hash") != doc.metadata.get("content_hash"):
            if old.get("content_hash") != doc.metadata.get("content_hash"):
                report.updated[doc_id] = _changed_fields(old, doc.metadata)
            else:
                report.unchanged += 1
            to_embed.append(doc)
        else:
            report.unchanged += 1
            keep_ids.append(doc_id)
    for doc_id, meta in existing.items():
        if doc_id in new_by_id:
            continue
        if rebuild or meta.get("source") in ingested_sources:
            report.removed.append(doc_id)
        else:
            keep_ids.append(doc_id)  # belongs to another file of this store, untouched this run

    report.total = len(keep_ids) + len(to_embed)
    all_sources = {} if (live is None or rebuild) else dict(live.sources)
    all_sources.update(sources)
    # Row counts per file from the rows that will actually be live (a row may move between files).
    live_sources = Counter(existing[i].get("source") for i in keep_ids if i in existing and i not in new_by_id)
    live_sources.update(d.metadata.get("source") for d in new_by_id.values())
    all_sources = {name: {**info, "rows": live_sources.get(name, 0)} for name, info in all_sources.items() if live_sources.get(name)}

    if dry_run:
        report.currency, report.currency_source = store_currency(docs, currency)
        return report
    index.reclaim(store)  # what a crashed run left, and the version the last run replaced
    if live is not None and not rebuild and not report.changed:
        profile = _profile(docs if not keep_ids else _live_docs(old_col, keep_ids, new_by_id), report, live, currency)
        if any(getattr(live, k) != v for k, v in profile.items()):  # only the store-wide facts changed
            index.publish(replace(live, updated_at=now_iso(), **profile))
        return report  # the fast path: nothing embedded


    version = (live.version if live else 0) + 1
    new_col = index.new_collection(store, version)
    try:
        _copy_unchanged(old_col, new_col, keep_ids, progress)
        embed_into(new_col, embeddings, to_embed, batch_size, progress)
        report.embedded = len(to_embed)
        kept_docs = [new_by_id[i] for i in keep_ids if i in new_by_id] + to_embed
        index.publish(
            StoreInfo(
                store=store, collection=new_col.name, embedding=embedding_id, version=version,
                count=new_col.count(), updated_at=now_iso(), sources=all_sources,
                **_profile(kept_docs, report, live, currency),
            )
        )
    except BaseException:
        # Never leave a half-built collection behind on a normal error; a hard kill leaves
        # an orphan that reclaim() removes next time. The live index is untouched.
        index.client.delete_collection(new_col.name)
        raise
    index.reclaim(store, keep_replaced=True)  # the replaced version stays until the next run; older ones go
    return report


def _profile(docs: Sequence[Document], report: IngestReport, live: StoreInfo | None, currency: str | None) -> dict[str, Any]:
    """The store-wide facts the assistant reads: currency (and its source), language, field roles."""
    code, source = store_currency(docs, currency)
    if not code and live is not None and live.currency_source == "override":
        code, source = live.currency, live.currency_source  # an earlier override holds until changed
    report.currency, report.currency_source = code, source
    fields = {} if live is None or report.rebuilt else {r: list(k) for r, k in live.fields.items()}
    for role, keys in store_fields(report.mappings).items():  # files not re-ingested this run keep their roles
        fields[role] = fields.get(role, []) + [k for k in keys if k not in fields.get(role, [])]
    return {"currency": code, "currency_source": source, "language": store_language(docs), "fields": fields}


def _live_docs(col, keep_ids: list[str], new_by_id: dict[str, Document]) -> list[Document]:
    """Documents of an unchanged store: the ones loaded now plus those of its other files."""
    other = [i for i in keep_ids if i not in new_by_id]
    return list(new_by_id.values()) + (as_documents(col.get(ids=other, include=["documents", "metadatas"])) if other else [])


def _copy_unchanged(old_col, new_col, ids: list[str], progress: Progress | None) -> None:
    for start in range(0, len(ids), COPY_BATCH):
        batch = ids[start : start + COPY_BATCH]
        got = old_col.get(ids=batch, include=["embeddings", "documents", "metadatas"])
        new_col.add(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"], metadatas=got["metadatas"])
        if progress:
            progress("copy", min(start + COPY_BATCH, len(ids)), len(ids))
