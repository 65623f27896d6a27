"""The Python API: the same operations as the CLI, returning pandas DataFrames.

import labelgate
run = labelgate.score("data/annotations.json", rulebook="rules.yaml", db="runs.duckdb")
run.findings()          # DataFrame, one row per finding
labelgate.runs("runs.duckdb")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from engine import queries, review
from engine.run import RunSummary, compile_for, score_dataset
from engine.store import Store
from reports.export import export as _export
from rulebook.compiler import Backend, CompiledRulebook


@dataclass(frozen=True)
class Run:
    """A stored run; methods read its tables from the DuckDB file."""

    id: str
    db: Path
    summary: RunSummary | None = None

    def info(self) -> dict[str, object]:
        with Store(self.db).read() as con:
            return queries.run(con, self.id)

    def findings(
        self, *, rule: str | None = None, severity: str | None = None, item: str | None = None
    ) -> pd.DataFrame:
        with Store(self.db).read() as con:
            return queries.findings(con, self.id, rule=rule, severity=severity, item=item)

    def scores(self) -> pd.DataFrame:
        with Store(self.db).read() as con:
            return queries.scores(con, self.id)

    def labels(self) -> pd.DataFrame:
        """Class distribution: annotations, items and share per label."""
        with Store(self.db).read() as con:
            return queries.label_counts(con, self.id)

    def quarantine(self) -> pd.DataFrame:
        with Store(self.db).read() as con:
            return queries.quarantine(con, self.id)

    def reviews(self, *, history: bool = False, overrides_only: bool = False) -> pd.DataFrame:
        """Human decisions next to the model's: the current one per item (every one with
        ``history``); ``overrides_only`` keeps those that overrule the model or fix a label."""
        with Store(self.db).read() as con:
            return review.reviews(con, self.id, history=history, overrides_only=overrides_only)

    def export(self, out: str | Path, *, format: str | None = None, table: str = "findings") -> Path:
        return _export(self.db, self.id, out, format=format, table=table)[1]


def load_rulebook(path: str | Path, *, rule_engine: Backend = "durable") -> CompiledRulebook:
    """Load, validate and compile a rulebook; raises RulebookError listing every problem."""
    return compile_for(path, rule_engine)


def score(
    dataset: str | Path,
    *,
    rulebook: str | Path | CompiledRulebook,
    db: str | Path,
    format: str = "auto",
    rule_engine: Backend = "durable",
) -> Run:
    """Score ``dataset`` against ``rulebook``, storing the run in ``db``."""
    summary = score_dataset(dataset, rulebook, db, format=format, rule_engine=rule_engine)
    return Run(summary.run_id, Path(db), summary)


def open_run(run: str, db: str | Path) -> Run:
    """A stored run by id, unique id prefix, or ``"latest"``."""
    with Store(db).read() as con:
        return Run(queries.resolve_run(con, run), Path(db))


def runs(db: str | Path) -> pd.DataFrame:
    with Store(db).read() as con:
        return queries.runs(con)


def findings(run: str, db: str | Path) -> pd.DataFrame:
    return open_run(run, db).findings()


def export(run: str, db: str | Path, out: str | Path, *, format: str | None = None, table: str = "findings") -> Path:
    return _export(db, run, out, format=format, table=table)[1]
