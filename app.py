"""Streamlit entry point: `streamlit run app.py` (or `paraseek serve`, or `make run`)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the ui package beside this file

st.set_page_config(page_title="paraseek", page_icon=":material/search:", layout="wide")
st.title("paraseek")
pages = [
    # Material icons ship with Streamlit; emoji need a font the machine may lack.
    st.Page("ui/search.py", title="Search", icon=":material/search:", default=True),
    st.Page("ui/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("ui/explore.py", title="Explore", icon=":material/scatter_plot:"),
    st.Page("ui/library.py", title="Library", icon=":material/library_books:"),
    st.Page("ui/read.py", title="Read", icon=":material/menu_book:", url_path="read"),
]
st.navigation(pages).run()
