"""The Streamlit app's pages and what they share (run through app.py)."""
