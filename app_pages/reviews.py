"""Placeholder until its tool lands."""

from __future__ import annotations

import streamlit as st

st.info("Coming in this release.")
