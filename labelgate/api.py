"""The Python API: the same operations as the CLI, returning pandas DataFrames.

import labelgate
run = labelgate.score("data/annotations.json", rulebook="rules.yaml", db="runs.duckdb")
run.findings()          # DataFrame, one row per finding
labelgate.runs("runs.duckdb")
labelgate.report("latest", "runs.duckdb", "report.html")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from engine import queries, review
from engine.run import RunSummary, compile_for, score_dataset, stored_summary
from engine.store import Store
from reports.export import export as _export
from rulebook.compiler import Backend, CompiledRulebook

if TYPE_CHECKING:
    from engine.model_run import JudgeSetup


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

    def report(self, out: str | Path) -> Path:
        """Write this run's self-contained HTML audit report."""
        return report(self.id, self.db, out)


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
    judge: str | JudgeSetup | None = None,
) -> Run:
    """Score ``dataset`` against ``rulebook``, storing the run in ``db``.

    ``judge="sim"`` answers judgments with the simulated models; a :class:`JudgeSetup`
    configures real ones; ``None`` sends items whose rules need a judgment to review.
    """
    from engine.model_run import JudgeSetup
    from scorers.providers.spec import parse_model

    setup = judge
    if judge == "sim":
        setup = JudgeSetup(models={"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")})
    elif isinstance(judge, str):
        setup = JudgeSetup(models={"cheap": parse_model(judge)})
    assert setup is None or isinstance(setup, JudgeSetup)
    summary = score_dataset(dataset, rulebook, db, format=format, rule_engine=rule_engine, judge=setup)
    return Run(summary.run_id, Path(db), summary)


def resume(
    run: str,
    db: str | Path,
    *,
    rulebook: str | Path | None = None,
    dataset: str | Path | None = None,
    allow_changed: bool = False,
) -> Run:
    """Continue a killed or interrupted run (same as ``labelgate resume``); stored model answers are replayed."""
    from engine.run import resume_run

    summary = resume_run(db, run, allow_changed=allow_changed, rulebook=rulebook, dataset=dataset)
    return Run(summary.run_id, Path(db), summary)


def open_run(run: str, db: str | Path) -> Run:
    """A stored run by id, unique id prefix, or ``"latest"``."""
    with Store(db).read() as con:
        run_id = queries.resolve_run(con, run)
        return Run(run_id, Path(db), stored_summary(con, run_id, Path(db)))


def runs(db: str | Path) -> pd.DataFrame:
    with Store(db).read() as con:
        return queries.runs(con)


def findings(run: str, db: str | Path) -> pd.DataFrame:
    return open_run(run, db).findings()


def export(run: str, db: str | Path, out: str | Path, *, format: str | None = None, table: str = "findings") -> Path:
    return _export(db, run, out, format=format, table=table)[1]


def report(run: str, db: str | Path, out: str | Path) -> Path:
    """Write the self-contained HTML audit report of ``run`` to ``out`` (recorded in the audit log)."""
    from reports.html import report as _report

    return _report(db, run, out).path


def compare(run_a: str, run_b: str, db: str | Path, out: str | Path | None = None) -> dict[str, Any]:
    """What changed from ``run_a`` to ``run_b`` (rulebook diff, per-rule counts, flipped items);
    with ``out``, also written as HTML."""
    from reports.compare import compare_report

    return compare_report(db, run_a, run_b, out).as_dict()


def audit_log(db: str | Path) -> pd.DataFrame:
    """The whole audit log, in sequence order (``payload`` is JSON text)."""
    with Store(db).read() as con:
        return con.execute("SELECT * FROM audit_log ORDER BY seq").df()
