"""What a scenario hands the report: its figures, its summary rows, and what to plot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One line of the summary table: omnibot's figure against its baseline, and the target."""

    scenario: str
    metric: str
    omnibot: float | str | None
    baseline_name: str = ""
    baseline: float | str | None = None
    unit: str = ""
    target: str = ""
    met: bool | None = None
    # omnibot / baseline, when both are numbers; set by the scenario when a ratio means something.
    ratio: float | None = None


@dataclass
class ScenarioResult:
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    throughput: list[tuple[str, float]] = field(default_factory=list)  # (label, per second)
    latency: list[tuple[str, float, float]] = field(default_factory=list)  # (label, p50 ms, p99 ms)
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, 3)


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max of ``values`` (nearest rank), rounded to 3 decimals."""
    if not values:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan"), "count": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))], 3)

    return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": round(ordered[-1], 3), "count": len(ordered)}
