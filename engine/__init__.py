"""Run orchestration, the DuckDB store (the only writer), queries."""
