"""Commands that create runs: ``score`` and ``demo``."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from app.judge_options import judge_setup
from app.output import err, out
from app.progress import run_progress
from app.summary import print_summary
from engine.run import resume_run, score_dataset
from ingest.formats import FORMATS
from labelgate.resources import example_path
from labelgate.settings import DB
from reports.export import export

DEMO_RULEBOOK = "nuimages-boxes.yaml"
FORMAT_HELP = f"Dataset format: auto, {', '.join(FORMATS)}."


def register(app: typer.Typer) -> None:
    app.command("score")(score)
    app.command("resume")(resume)
    app.command("demo")(demo)


def score(
    dataset: Path = typer.Argument(..., help="Dataset file or folder (e.g. a COCO .json)."),
    rulebook: Path = typer.Option(..., "--rulebook", "-r", help="Rulebook YAML file."),
    db: Path = typer.Option(None, "--db", help="DuckDB file for runs [env LABELGATE_DB]."),
    format: str = typer.Option("auto", "--format", "-f", help=FORMAT_HELP),
    rule_engine: str = typer.Option("durable", "--rule-engine", help="durable (default) or reference."),
    judge: str = typer.Option(None, "--judge", help="'sim': simulated cheap and capable models (offline)."),
    cheap_model: str = typer.Option(None, "--cheap-model", help="Model for routine items, e.g. openai/gpt-4o-mini."),
    capable_model: str = typer.Option(None, "--capable-model", help="Model for hard items and escalations."),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible server for the models."),
    mode: str = typer.Option(None, "--mode", help="instructor mode: tools, json, json_schema, md_json."),
    api_key_env: str = typer.Option(None, "--api-key-env", help="Environment variable holding the API key."),
    concurrency: int = typer.Option(16, "--concurrency", min=1, max=512, help="Model calls in flight."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="Seconds allowed per model call."),
    rpm: int = typer.Option(None, "--rpm", min=1, help="Requests per minute per model."),
    tpm: int = typer.Option(None, "--tpm", min=1, help="Tokens per minute per model."),
    budget_per_item: float = typer.Option(None, "--budget-per-item", help="Max estimated USD per item."),
    escalate_below: float = typer.Option(0.7, "--escalate-below", help="Confidence that triggers escalation."),
    price: list[str] = typer.Option(None, "--price", help="MODEL=IN,OUT USD per million tokens (repeatable)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Ask the models even for requests answered before."),
    judge_failed_items: bool = typer.Option(
        False, "--judge-failed-items", help="Also judge items a deterministic finding already fails."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary; print only the run id."),
) -> None:
    """Score a dataset against a rulebook and store the run.

    Example: labelgate score data/annotations.json --rulebook rules.yaml --db runs.duckdb --judge sim
    """
    if rule_engine not in ("durable", "reference"):
        raise typer.BadParameter("use durable or reference", param_hint="--rule-engine")
    setup = judge_setup(
        judge=judge,
        cheap_model=cheap_model,
        capable_model=capable_model,
        base_url=base_url,
        mode=mode,
        api_key_env=api_key_env,
        concurrency=concurrency,
        timeout=timeout,
        rpm=rpm,
        tpm=tpm,
        budget_per_item=budget_per_item,
        escalate_below=escalate_below,
        prices=price,
        cache=not no_cache,
        judge_failed_items=judge_failed_items,
    )
    database = db or Path(DB.get())
    if judge == "sim":
        _warn_without_truth(dataset)
    with run_progress(quiet) as progress:
        summary = score_dataset(
            dataset,
            rulebook,
            database,
            format=format,
            rule_engine=rule_engine,  # type: ignore[arg-type]
            progress=progress,
            judge=setup,  # type: ignore[arg-type]
        )
    if quiet:
        print(summary.run_id)
        return
    print_summary(summary)
    out.print(f"\nrun id: [bold]{summary.run_id}[/bold]")
    out.print(f"next:   labelgate findings {summary.run_id} --db {database}", soft_wrap=True)


def _warn_without_truth(dataset: Path) -> None:
    """The simulated models answer from a generated dataset's truth file; elsewhere they guess."""
    from scorers.providers.sim import Truth

    if Truth.find(dataset) is None:
        err.print(
            f"warning: {dataset} has no labelgate_truth.json, so the simulated models (--judge sim) will guess: "
            "use it to try the mechanics, and a real model (--cheap-model/--capable-model) for real judgments",
            markup=False,
            soft_wrap=True,
        )


def resume(
    run: str = typer.Argument(..., help="Run id, a unique prefix of it, or 'latest'."),
    db: Path = typer.Option(None, "--db", help="DuckDB file for runs [env LABELGATE_DB]."),
    allow_changed: bool = typer.Option(
        False, "--allow-changed", help="Resume even if the rulebook, models, prompts or dataset changed."
    ),
    rulebook: Path = typer.Option(None, "--rulebook", "-r", help="Use this rulebook file instead of the run's."),
    dataset: Path = typer.Option(
        None, "--dataset", "-d", help="The run's dataset in a new place (its content must be unchanged)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary; print only the run id."),
) -> None:
    """Continue a killed or interrupted run where it stopped, without paying for a model call twice.

    Example: labelgate resume 20261125-004512-3fa9 --db runs.duckdb
    """
    database = db or Path(DB.get())
    with run_progress(quiet) as progress:
        summary = resume_run(
            database, run, allow_changed=allow_changed, rulebook=rulebook, dataset=dataset, progress=progress
        )
    if quiet:
        print(summary.run_id)
        return
    print_summary(summary)
    out.print(f"\nrun id: [bold]{summary.run_id}[/bold] (resumed)")


def demo(
    out_dir: Path = typer.Option(Path("labelgate-demo"), "--out", help="Folder for the demo files."),
    images: int = typer.Option(40, "--images", min=1, max=5000, help="Number of synthetic images."),
    seed: int = typer.Option(7, "--seed", help="Random seed for the synthetic dataset."),
) -> None:
    """Generate a synthetic street-scene dataset with known defects and score it, offline.

    Judgment-based rules are answered by the simulated models (sim:cheap, sim:capable), which
    read the dataset's ground truth; everything printed says so.

    Example: labelgate demo --out ./labelgate-demo
    """
    from ingest.synthetic import SyntheticSpec, generate

    dataset_dir = out_dir / "dataset"
    if dataset_dir.exists():
        shutil.rmtree(dataset_dir)
    err.print(f"generating {images} synthetic images with injected defects in {dataset_dir} ...")
    dataset = generate(dataset_dir, SyntheticSpec(images=images, seed=seed))
    database = out_dir / "labelgate.duckdb"
    rulebook = example_path(DEMO_RULEBOOK)
    setup = judge_setup(
        judge="sim",
        cheap_model=None,
        capable_model=None,
        base_url=None,
        mode=None,
        api_key_env=None,
        concurrency=16,
        timeout=30.0,
        rpm=None,
        tpm=None,
        budget_per_item=None,
        escalate_below=0.7,
        prices=None,
        cache=True,
        judge_failed_items=False,
    )
    with run_progress(False) as progress:
        summary = score_dataset(dataset.coco, rulebook, database, format="coco", progress=progress, judge=setup)  # type: ignore[arg-type]
    findings_file = out_dir / "findings.csv"
    export(database, summary.run_id, findings_file, format="csv")
    print_summary(summary)
    out.print(f"\nwrote {dataset.coco}, {database} and {findings_file}", soft_wrap=True)
    out.print("\nnext, try:")
    for command in (
        f"labelgate runs --db {database}",
        f"labelgate findings {summary.run_id} --db {database}",
        f"labelgate findings {summary.run_id} --db {database} --json",
        f"labelgate export {summary.run_id} --db {database} --format parquet --out {out_dir / 'findings.parquet'}",
        f"labelgate report {summary.run_id} --db {database} --out {out_dir / 'report.html'}",
        f"labelgate score {dataset.coco} --rulebook {rulebook} --db {database} --judge sim",
        f"labelgate review --db {database}",
    ):
        out.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)
