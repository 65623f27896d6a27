"""Streamlit entry script of the review screen: ``labelgate review --db runs.duckdb`` runs it."""

from app.review_ui import main

main()
