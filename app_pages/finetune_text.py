"""Fine-tune page tab (placeholder until its module lands)."""

from __future__ import annotations

import streamlit as st


def render() -> None:
    st.info("Coming in this release.")
