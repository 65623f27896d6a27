"""Turn ``labelgate score`` model options into a :class:`engine.model_run.JudgeSetup`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelgate.errors import ConfigError

if TYPE_CHECKING:
    from scorers.providers.spec import ModelSpec

SIM_TIERS = {"cheap": "sim:cheap", "capable": "sim:capable"}


def judge_setup(
    *,
    judge: str | None,
    cheap_model: str | None,
    capable_model: str | None,
    base_url: str | None,
    mode: str | None,
    api_key_env: str | None,
    concurrency: int,
    timeout: float,
    rpm: int | None,
    tpm: int | None,
    budget_per_item: float | None,
    escalate_below: float,
    prices: list[str] | None,
    cache: bool,
    judge_failed_items: bool,
) -> object | None:
    """None when no model is configured (judgment-based rules then send items to review)."""
    from engine.model_run import JudgeSetup
    from scorers.cost import PriceBook, parse_price
    from scorers.judge.judge import JudgeSettings
    from scorers.providers.spec import parse_model
    from scorers.router import RouterConfig

    models: dict[str, ModelSpec] = {}
    if judge is not None:
        if judge != "sim":
            raise ConfigError(f"--judge {judge!r}: the only shorthand is 'sim'; use --cheap-model/--capable-model")
        models = {tier: parse_model(name) for tier, name in SIM_TIERS.items()}
    for tier, name in (("cheap", cheap_model), ("capable", capable_model)):
        if name:
            models[tier] = parse_model(name, base_url=base_url, mode=mode, api_key_env=api_key_env)
    if not models:
        return None
    try:
        overrides = dict(parse_price(p) for p in prices or [])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    settings = JudgeSettings(
        concurrency=concurrency, timeout_s=timeout, rpm=rpm, tpm=tpm, cache=cache, escalate_below=escalate_below
    )
    router = RouterConfig(
        default_tier="cheap" if "cheap" in models else "capable",
        budget_usd_per_item=budget_per_item,
        skip_failed_items=not judge_failed_items,
    )
    return JudgeSetup(models=models, settings=settings, router=router, prices=PriceBook(overrides))
