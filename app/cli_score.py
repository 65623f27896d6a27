"""Commands that create runs: ``score`` and ``demo``."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from app.output import err, out
from app.progress import run_progress
from app.summary import print_summary
from engine.run import score_dataset
from ingest.formats import FORMATS
from labelgate.resources import example_path
from labelgate.settings import DB
from reports.export import export

DEMO_RULEBOOK = "nuimages-boxes.yaml"


def register(app: typer.Typer) -> None:
    app.command("score")(score)
    app.command("demo")(demo)


def score(
    dataset: Path = typer.Argument(
        ..., help="Dataset file or folder (COCO .json, YOLO or VOC folder, .jsonl, .csv, .conll ...)."
    ),
    rulebook: Path = typer.Option(..., "--rulebook", "-r", help="Rulebook YAML file."),
    db: Path = typer.Option(None, "--db", help="DuckDB file for runs [env LABELGATE_DB]."),
    format: str = typer.Option("auto", "--format", "-f", help=f"Dataset format: auto, {', '.join(FORMATS)}."),
    rule_engine: str = typer.Option("durable", "--rule-engine", help="durable (default) or reference."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary; print only the run id."),
) -> None:
    """Score a dataset against a rulebook and store the run.

    Example: labelgate score data/annotations.json --rulebook rules.yaml --db runs.duckdb
    """
    if rule_engine not in ("durable", "reference"):
        raise typer.BadParameter("use durable or reference", param_hint="--rule-engine")
    database = db or Path(DB.get())
    with run_progress(quiet) as progress:
        summary = score_dataset(
            dataset,
            rulebook,
            database,
            format=format,
            rule_engine=rule_engine,  # type: ignore[arg-type]
            progress=progress,
        )
    if quiet:
        print(summary.run_id)
        return
    print_summary(summary)
    out.print(f"\nrun id: [bold]{summary.run_id}[/bold]")
    out.print(f"next:   labelgate findings {summary.run_id} --db {database}", soft_wrap=True)


def demo(
    out_dir: Path = typer.Option(Path("labelgate-demo"), "--out", help="Folder for the demo files."),
    images: int = typer.Option(40, "--images", min=1, max=5000, help="Number of synthetic images."),
    seed: int = typer.Option(7, "--seed", help="Random seed for the synthetic dataset."),
) -> None:
    """Generate a synthetic street-scene dataset with known defects and score it, offline.

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
    with run_progress(False) as progress:
        summary = score_dataset(dataset.coco, rulebook, database, format="coco", progress=progress)
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
        f"labelgate score {dataset.coco} --rulebook {rulebook} --db {database}",
    ):
        out.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)
