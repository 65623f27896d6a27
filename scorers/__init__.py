"""Deterministic measurements, model judges, providers, the router and cost. No storage."""
