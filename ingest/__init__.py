"""Catalog ingest: files -> documents -> an incremental, atomic Chroma index (``python -m ingest``)."""
