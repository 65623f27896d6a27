"""User interfaces: the ``labelgate`` CLI and the Streamlit review screen."""
