"""Prices of model calls in USD, from the maintained genai-prices table.

Simulated tiers carry their own (configurable) prices. Any model can be priced explicitly
with an override (USD per million input and output tokens), which wins over the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scorers.providers.spec import ModelSpec


@dataclass(frozen=True)
class Price:
    input_usd_per_mtok: float
    output_usd_per_mtok: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_usd_per_mtok + output_tokens * self.output_usd_per_mtok) / 1e6


@dataclass
class PriceBook:
    """Looks prices up once per model; ``None`` when a model's price is unknown."""

    overrides: Mapping[str, Price] = field(default_factory=dict)
    _cache: dict[str, Price | None] = field(default_factory=dict)

    def price(self, spec: ModelSpec, sim_price: Price | None = None) -> Price | None:
        if spec.name in self.overrides:
            return self.overrides[spec.name]
        if spec.simulated:
            return sim_price
        if spec.name not in self._cache:
            self._cache[spec.name] = _table_price(spec)
        return self._cache[spec.name]

    def cost(
        self, spec: ModelSpec, input_tokens: int, output_tokens: int, sim_price: Price | None = None
    ) -> float | None:
        price = self.price(spec, sim_price)
        return None if price is None else price.cost(input_tokens, output_tokens)


def _table_price(spec: ModelSpec) -> Price | None:
    from genai_prices import Usage, calc_price

    provider = None if spec.base_url else spec.provider
    try:
        per_input = calc_price(
            Usage(input_tokens=1_000_000, output_tokens=0), model_ref=spec.model, provider_id=provider
        )
        per_output = calc_price(
            Usage(input_tokens=0, output_tokens=1_000_000), model_ref=spec.model, provider_id=provider
        )
    except (LookupError, ValueError):
        return None
    return Price(float(per_input.total_price), float(per_output.total_price))


def parse_price(text: str) -> tuple[str, Price]:
    """``MODEL=IN,OUT`` (USD per million tokens) as given on the command line."""
    model, _, numbers = text.partition("=")
    parts = numbers.split(",")
    if not model or len(parts) != 2:
        raise ValueError(f"price {text!r} must look like MODEL=INPUT_USD,OUTPUT_USD (per million tokens)")
    return model.strip(), Price(float(parts[0]), float(parts[1]))
