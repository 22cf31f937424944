"""Retrieval-augmented answering over a shop's own catalog.

Pure core: no Streamlit imports, nothing heavy at import time. Entry points are
``python -m rag ask|eval`` and the factories in :mod:`rag.factory`.
"""
