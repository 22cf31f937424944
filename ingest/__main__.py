"""``python -m ingest``: refresh a store's index from catalog files.

    python -m ingest                                   # every sample store in catalog/
    python -m ingest --store techstore products.csv    # one store from your files
    python -m ingest --store techstore --dry-run x.csv # show what would change
    python -m ingest --json ...                        # the report as one JSON object
    python -m ingest --delete-store oldshop            # remove a store and its index files

Exit codes: 0 done; 1 done but some rows were rejected; 2 nothing done (bad input or setup).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ingest.pipeline import delete_store, run
from rag.errors import AssistantError, CatalogFileError

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
    parser.add_argument("--delete-store", metavar="NAME",
                        help="remove the store NAME completely (its index and files on disk; no confirmation)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.delete_store is not None:
        return _delete(args)
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
        return _fail(args, exc)
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


def _fail(args: argparse.Namespace, exc: AssistantError) -> int:
    """The core's message on stderr (and as JSON with --json); exit code 2."""
    if args.json:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False))
    print(f"error: {exc}", file=sys.stderr)
    return 2


def _delete(args: argparse.Namespace) -> int:
    if args.paths or args.store or args.dry_run or args.rebuild or args.mapping or args.currency:
        print("error: --delete-store takes only a store name (and --json); it cannot be combined with files or "
              "other ingest options.", file=sys.stderr)
        return 2
    try:
        deleted = delete_store(args.delete_store)
    except AssistantError as exc:
        return _fail(args, exc)
    if args.json:
        print(json.dumps({"deleted": deleted.store, "rows": deleted.rows, "collections": deleted.collections,
                          "freed_bytes": deleted.freed_bytes}, ensure_ascii=False, indent=2))
    else:
        print(deleted.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
