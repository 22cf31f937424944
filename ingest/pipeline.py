"""Ingest as a library: which files make up a store, and one call that brings stores in line with them.

``python -m ingest`` (``ingest/__main__.py``), the app's Catalog page and first-run build, the
benchmarks and the tests all call :func:`run`; ``--delete-store`` and the Catalog page's delete
button call :func:`delete_store`.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.indexer import IngestReport, store_lock, sync_store
from ingest.loaders import SUPPORTED_SUFFIXES
from rag.errors import CatalogFileError
from rag.settings import Settings, load_settings, validate_store_name
from rag.store import DeletedStore



def sample_stores(settings: Settings) -> dict[str, list[Path]]:
    """The stores shipped in ``catalog/``: one folder each, every supported file inside."""
    if not settings.catalog_dir.is_dir():
        raise CatalogFileError(
            f"The sample catalog folder {settings.catalog_dir} does not exist: pass your catalog files, "
            "or set CATALOG_CATALOG_DIR to a folder with one sub-folder per store."
        )
    stores = {}
    for folder in sorted(p for p in settings.catalog_dir.iterdir() if p.is_dir()):
        files = expand_paths([folder])
        if files:
            stores[folder.name] = files
    return stores


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders expanded to the supported files they contain (sorted)."""
    out: list[Path] = []
    for p in paths:
        try:
            p.stat()
        except FileNotFoundError:
            pass  # reported below
        except OSError as exc:  # e.g. a name longer than the file system allows
            raise CatalogFileError(
                f"{p} cannot be opened ({exc.strerror}): check the path, or give the file a shorter name."
            ) from None
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                              and not f.name.endswith(".mapping.json")))
        elif not p.exists():
            raise CatalogFileError(f"{p} does not exist: check the path (catalog files or a folder of them).")
        else:
            out.append(p)
    return out


def run(
    paths: list[Path] | None = None,
    *,
    store: str | None = None,
    settings: Settings | None = None,
    dry_run: bool = False,
    rebuild: bool = False,
    strict: bool = False,
    mapping: dict[str, str] | None = None,
    currency: str | None = None,
    progress=None,
    index=None,
    embeddings=None,
) -> list[IngestReport]:
    """Ingest ``paths`` into ``store`` (or every sample store when no paths are given).

    ``index``/``embeddings`` let a long-running caller (the app) reuse its cached objects.
    """
    from rag.factory import build_embeddings, build_index
    from rag.models import embedding_id

    settings = settings or load_settings()
    if currency is not None and not re.fullmatch(r"[A-Za-z]{3}", currency.strip()):
        raise CatalogFileError(f"--currency {currency!r} is not a currency code: use three letters such as EUR, USD or ARS.")
    currency = currency.strip().upper() if currency else None
    if paths:
        jobs = {validate_store_name(store or settings.default_store): expand_paths(paths)}
    else:
        jobs = sample_stores(settings)
        if store:
            if store not in jobs:
                raise CatalogFileError(f"No sample catalog folder named '{store}' in {settings.catalog_dir}; pass the files to ingest.")
            jobs = {store: jobs[store]}
    for name, files in jobs.items():
        if not files:
            raise CatalogFileError(f"No catalog files to ingest for '{name}' (supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}).")
    index = index or build_index(settings)
    embeddings = embeddings or build_embeddings(settings)
    return [
        sync_store(
            index, embeddings, embedding_id(settings), name, files,
            lock_dir=settings.locks_dir, dry_run=dry_run, rebuild=rebuild, strict=strict,
            mapping=mapping, currency=currency, progress=progress, limits=settings.limits,
        )
        for name, files in jobs.items()
    ]


def delete_store(store: str, *, settings: Settings | None = None, index=None) -> DeletedStore:
    """Remove ``store`` completely (see :meth:`rag.store.CatalogIndex.delete_store`), under its ingest lock.

    Refused with IngestLockedError while an ingest of that store runs, and with IndexMissingError
    (naming the stores there are) when no store has that name.
    """
    from rag.factory import build_index

    settings = settings or load_settings()
    validate_store_name(store)
    index = index or build_index(settings)
    busy = f"The store '{store}' is being ingested right now. Wait for the ingest to finish and delete it again."
    with store_lock(settings.locks_dir, store, busy):
        return index.delete_store(store)
