"""Exports and reports built from the store (read-only)."""
