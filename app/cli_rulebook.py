"""``labelgate rulebook ...``: check, explain, test, schema, diff and draft rulebooks."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from app.output import emit, err, out, style_from
from engine.golden import run_examples
from engine.run import compile_for
from labelgate.errors import RulebookError
from rulebook.diff import diff_rulebooks
from rulebook.explain import explain_text
from rulebook.expr.parse import ParseContext
from rulebook.judgment_model import judgment_schema
from rulebook.loader import load_file

group = typer.Typer(help="Check, explain, test and compare rulebooks.", no_args_is_help=True)
RULEBOOK_ARG = typer.Argument(..., help="Rulebook YAML file.")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="rulebook")


@group.command("check")
def check(rulebook: Path = RULEBOOK_ARG) -> None:
    """Validate a rulebook; list its problems as file:line:column and exit 1.

    Problems are found in stages: structure, then ids and severities, then conditions; each
    stage lists all of its problems, and the next runs once it is clean.

    Example: labelgate rulebook check rules.yaml
    """
    compiled = compile_for(rulebook)
    rb = compiled.rulebook
    drafts = sum(1 for r in rb.rules if r.status == "draft")
    out.print(
        f"{rulebook}: ok: {rb.rulebook} v{rb.version}, {len(compiled.rules)} active rule(s)"
        + (f", {drafts} draft(s) not used for scoring" if drafts else "")
        + f", {len(compiled.oversight)} oversight check(s), {len(rb.examples)} example(s); "
        f"fingerprint {compiled.fingerprint}",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


@group.command("explain")
def explain(
    rulebook: Path = RULEBOOK_ARG,
    json_: bool = typer.Option(False, "--json", help="Output JSON."),
) -> None:
    """Show every rule with its clause, its condition in plain words and its severity.

    Example: labelgate rulebook explain rules.yaml
    """
    rb = compile_for(rulebook).rulebook
    context = ParseContext(rb.params, rb.taxonomy)
    rows = [
        {
            "rule": r.id,
            "clause": r.clause,
            "when": explain_text(r.when, context),
            "severity": r.severity,
            "status": r.status,
        }
        for r in rb.rules
    ]
    rows += [
        {
            "rule": c.id or f"oversight[{i}]",
            "clause": "oversight: " + c.reason,
            "when": explain_text(c.when, context),
            "severity": "review",
            "status": "active",
        }
        for i, c in enumerate(rb.oversight)
    ]
    import pandas as pd

    emit(pd.DataFrame(rows), style_from(json_, False, False), title=f"{rb.rulebook} v{rb.version}")


@group.command("test")
def test(rulebook: Path = RULEBOOK_ARG) -> None:
    """Run the rulebook's golden examples; exit 1 with a readable diff on any mismatch.

    Example: labelgate rulebook test rules.yaml
    """
    compiled = compile_for(rulebook)
    results = run_examples(compiled)
    if not results:
        err.print(f"{rulebook}: no examples to run: add some under 'examples:'")
        raise typer.Exit(1)
    failed = [r for r in results if not r.passed]
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        out.print(f"{mark}  {result.name}", markup=False, highlight=False)
        if not result.passed:
            for line in result.explain().splitlines():
                out.print(f"      {line}", markup=False, highlight=False, soft_wrap=True)
    out.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@group.command("schema")
def schema(rulebook: Path = RULEBOOK_ARG) -> None:
    """Print the JSON Schema of the judgments a model must return for this rulebook.

    Example: labelgate rulebook schema rules.yaml > judgment.schema.json
    """
    rb = compile_for(rulebook).rulebook
    document = judgment_schema(rb)
    if document is None:
        err.print(f"{rulebook}: this rulebook asks no judgments (add a 'judgments:' section)")
        raise typer.Exit(1)
    print(json.dumps(document, indent=2, ensure_ascii=False))


@group.command("diff")
def diff(
    old: Path = typer.Argument(..., help="Old rulebook."),
    new: Path = typer.Argument(..., help="New rulebook."),
    json_: bool = typer.Option(False, "--json", help="Output JSON."),
) -> None:
    """List rules added, removed and changed between two rulebooks.

    Example: labelgate rulebook diff rules-v1.yaml rules-v2.yaml
    """
    result = diff_rulebooks(load_file(old).rulebook, load_file(new).rulebook)
    if json_:
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    out.print(f"{old} (v{result.old_version}) -> {new} (v{result.new_version})", markup=False, soft_wrap=True)
    if result.identical:
        out.print("no change (same fingerprint)")
        return
    for rule_id in result.added:
        out.print(f"+ {rule_id}", markup=False)
    for rule_id in result.removed:
        out.print(f"- {rule_id}", markup=False)
    for change in result.changed:
        out.print(f"~ {change.rule_id}", markup=False)
        for key, (before, after) in change.changes.items():
            out.print(f"    {key}: {before!r} -> {after!r}", markup=False, highlight=False, soft_wrap=True)
    for section in result.sections:
        out.print(f"~ section {section} changed", markup=False)


__all__ = ["RulebookError", "group", "register"]


@group.command("draft")
def draft(
    guideline: Path = typer.Argument(..., help="Guideline in Markdown or plain text."),
    model: str = typer.Option(..., "--model", "-m", help="e.g. openai/gpt-4o-mini, or a model name with --base-url."),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."),
    mode: str = typer.Option(None, "--mode", help="instructor mode: tools, json, json_schema, md_json."),
    api_key_env: str = typer.Option(None, "--api-key-env", help="Environment variable holding the API key."),
    name: str = typer.Option(None, "--name", help="Rulebook name (default: the guideline's file name)."),
    out_file: Path = typer.Option(None, "--out", "-o", help="Write the draft here instead of stdout."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds allowed per model call."),
) -> None:
    """Draft a rulebook from a prose guideline; every rule is marked draft with its source sentence.

    Example: labelgate rulebook draft guideline.md --model openai/gpt-4o-mini --out rules.draft.yaml
    """
    import asyncio

    from labelgate.errors import ModelError
    from rulebook.loader import to_yaml
    from scorers.drafting import draft_rulebook
    from scorers.providers import build_client, parse_model

    spec = parse_model(model, base_url=base_url, mode=mode, api_key_env=api_key_env)
    if spec.simulated:
        raise ModelError("the simulated provider cannot draft rulebooks: use a real model or --base-url")
    try:
        text = guideline.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{guideline}: cannot read the guideline ({exc})") from None
    client = build_client(spec, timeout_s=timeout)
    drafted = asyncio.run(
        draft_rulebook(client, spec.model, text, name=name or guideline.stem, source_name=guideline.name)
    )
    header = (
        f"# Drafted by {spec.name} from {guideline.name}. Every rule has status: draft and the\n"
        "# guideline sentence it came from. Review each rule, then set status: active.\n"
    )
    document = header + to_yaml(drafted)
    if out_file is None:
        print(document, end="")
        return
    out_file.write_text(document, encoding="utf-8")
    err.print(
        f"wrote {len(drafted.rules)} draft rule(s) to {out_file}; check it with: labelgate rulebook check {out_file}",
        soft_wrap=True,
        markup=False,
    )
