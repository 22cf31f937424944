"""``python -m ingest``: refresh a store's index from catalog files.

    python -m ingest                                   # every sample store in catalog/
    python -m ingest --store techstore products.csv    # one store from your files
    python -m ingest --store techstore --dry-run x.csv # show what would change
    python -m ingest --json ...                        # the report as one JSON object

Exit codes: 0 done; 1 done but some rows were rejected; 2 nothing done (bad input or setup).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path

from ingest.indexer import IngestReport, sync_store
from ingest.loaders import SUPPORTED_SUFFIXES
from rag.errors import AssistantError, CatalogFileError
from rag.settings import Settings, load_settings, validate_store_name

logger = logging.getLogger("ingest")


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
            mapping=mapping, currency=currency, progress=progress,
        )
        for name, files in jobs.items()
    ]


class _TqdmProgress:
    """tqdm bars per phase; the core only calls ``progress(phase, done, total)``."""

    def __init__(self) -> None:
        self.bars: dict[str, object] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self.bars.get(phase)
        if bar is None:
            bar = self.bars[phase] = tqdm(total=total, desc={"embed": "embedding", "copy": "copying"}.get(phase, phase), unit="row", file=sys.stderr)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()
            del self.bars[phase]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Refresh a store's catalog index.")
    parser.add_argument("paths", nargs="*", type=Path, help="catalog files or folders (default: the sample catalogs)")
    parser.add_argument("--store", help="store name (default: the folder name for sample catalogs, else settings.default_store)")
    parser.add_argument("--dry-run", action="store_true", help="report what would change without writing")
    parser.add_argument("--rebuild", action="store_true", help="start the store over from these files")
    parser.add_argument("--strict", action="store_true", help="refuse a whole file if any row is bad")
    parser.add_argument("--mapping", type=Path, help='JSON file {"Header": "role"} for unusual column names')
    parser.add_argument("--currency", metavar="CODE",
                        help="the store's currency (ISO code such as EUR, ARS) when the files do not say it")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        mapping = None
        if args.mapping:
            try:
                raw = json.loads(args.mapping.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CatalogFileError(f"{args.mapping}: cannot read the mapping file ({exc}); it must be JSON like {{\"Artikel\": \"name\"}}.") from None
            mapping = raw.get("columns", raw) if isinstance(raw, dict) else None
        reports = run(
            args.paths, store=args.store, dry_run=args.dry_run, rebuild=args.rebuild, strict=args.strict,
            mapping=mapping, currency=args.currency, progress=None if (args.quiet or args.json) else _TqdmProgress(),
        )
    except AssistantError as exc:
        if args.json:
            print(json.dumps({"error": str(exc)}, ensure_ascii=False))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        payload = reports[0].to_dict() if len(reports) == 1 else {"stores": [r.to_dict() for r in reports]}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        for r in reports:
            print(r.summary() + f"  [{r.total} rows, {r.embedded} embedded, {r.seconds:.1f}s]")
            print(f"  currency: {r.currency} (from {r.currency_source})" if r.currency else
                  "  currency: not stated in the files; amounts are shown without a symbol (set it with --currency EUR)")
            for name, roles in r.mappings.items():
                if not {"price", "price_option"} & set(roles.values()):
                    print(f"  {name}: no price column recognised. If one holds prices, name it in {name}.mapping.json: "
                          '{"columns": {"<header>": "price"}} (or "price_option" for each portion/size price)')
            for err in r.rejected:
                print(f"  rejected: {err}")
    return 1 if any(r.rejected for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
