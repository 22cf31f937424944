#!/usr/bin/env bash
# Held-out check: the laptop catalog from ../shared/data/dev_catalogs, baseline vs default in one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=../shared/data/dev_catalogs/electronics_en.csv
[ -f "$src" ] || { echo "no $src: the held-out check needs ../shared/data" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/catalog/laptops"
cp "$src" "$tmp/catalog/laptops/"
cp bench/heldout/electronics_en.mapping.json "$tmp/catalog/laptops/electronics_en.csv.mapping.json"
export CATALOG_DATA_DIR="$tmp/data" CATALOG_CATALOG_DIR="$tmp/catalog" CATALOG_MODEL_DIR="$PWD/.assistant/models"
.venv/bin/python -m ingest -q --store laptops "$tmp/catalog/laptops/electronics_en.csv" || [ $? -eq 1 ]
.venv/bin/python -m rag eval bench/heldout/electronics_en.jsonl --store laptops --config baseline --config default "$@"
