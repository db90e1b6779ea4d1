"""Tests over trained tiny zoos, Streamlit's AppTest, the HTTP API, a browser, real CIFAKE."""
