"""Streamlit entry point: `streamlit run app.py` (or `paraseek serve`, or `make run`)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the ui package beside this file

st.set_page_config(page_title="paraseek", page_icon="🔎", layout="wide")
st.title("paraseek")
pages = [
    st.Page("ui/search.py", title="Search", icon="🔎", default=True),
    st.Page("ui/compare.py", title="Compare", icon="⚖️"),
    st.Page("ui/explore.py", title="Explore", icon="🗺️"),
    st.Page("ui/library.py", title="Library", icon="📚"),
]
st.navigation(pages).run()
