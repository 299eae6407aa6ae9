"""Streamlit pages: short scripts that read widgets, call studio/, render."""
