"""One module per dashboard page; each is a thin Streamlit script over the plain dashboard modules."""
