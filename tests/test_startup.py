"""A run's process loads only what it uses: every resume after a kill pays its start-up again.

pandas (~0.5 s), the OpenAI SDK's ``resources`` tree (~0.7 s), Streamlit and the report stack
are for other commands; numpy (~0.1-0.2 s) only for items with many boxes or with polygon masks.
A run that imported them would start that much slower each time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import write_rulebook
from tests.model.conftest import JUDGED_RULEBOOK, one_box_dataset

REPO = Path(__file__).resolve().parents[1]
NOT_FOR_RUNS = ("pandas", "pyarrow", "numpy", "openai.resources", "streamlit", "altair", "reports.html")

SCRIPT = """
import json, sys
from app.cli import app  # what `labelgate score` and `labelgate resume` import before they start
from engine.model_run import JudgeSetup
from engine.run import resume_run, score_dataset
from scorers.providers.spec import parse_model

models = {"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")}
summary = score_dataset(sys.argv[1], sys.argv[2], sys.argv[3], judge=JudgeSetup(models=models))
print(json.dumps({"status": summary.status, "attempts": summary.model_attempts, "modules": sorted(sys.modules)}))
"""


def test_a_model_run_loads_neither_pandas_nor_the_sdk_resources(tmp_path: Path) -> None:
    """A short run from the CLI's imports to its end (a resume runs the same code after it starts)."""
    dataset = one_box_dataset(tmp_path / "data")
    rulebook = write_rulebook(tmp_path, JUDGED_RULEBOOK)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(dataset), str(rulebook), str(tmp_path / "runs.duckdb")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == "finished" and report["attempts"] >= 1  # the model path really ran
    loaded = set(report["modules"])
    assert "openai" in loaded and "duckdb" in loaded
    assert not [name for name in NOT_FOR_RUNS if name in loaded]
