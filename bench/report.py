"""Writing a run's results: ``<stamp>.json``, the Markdown summary, the PNG chart, ``latest.md``."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.results_model import Row, ScenarioResult


def write(results: Path, stamp: str, meta: dict[str, Any], scenarios: list[ScenarioResult],
          latest: bool = True) -> Path:
    document = {"meta": meta, "scenarios": {s.name: _scenario_json(s) for s in scenarios}}
    (results / f"{stamp}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    png = _chart(results / f"{stamp}.png", scenarios)
    markdown = summary(stamp, meta, scenarios, png)
    (results / f"{stamp}.md").write_text(markdown)
    if latest:  # a --quick run's tiny figures never replace the last full run's
        shutil.copyfile(results / f"{stamp}.md", results / "latest.md")
    return results / f"{stamp}.md"


def _scenario_json(scenario: ScenarioResult) -> dict[str, Any]:
    return {"data": scenario.data, "rows": [asdict(r) for r in scenario.rows], "notes": scenario.notes,
            "profiles": scenario.profiles, "error": scenario.error}


def _cell(value: float | str | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _met(row: Row) -> str:
    return "" if row.met is None else ("✅ met" if row.met else "❌ missed")


def summary(stamp: str, meta: dict[str, Any], scenarios: list[ScenarioResult], png: Path | None) -> str:
    lines = [f"# omnibot benchmarks — {stamp}", ""]
    lines += [f"- {key}: {value}" for key, value in meta.items() if not isinstance(value, dict | list)]
    lines += ["", "Absolute numbers drift from machine to machine; each ratio is against a baseline measured in "
              "the same run, on the same 2 cores.", ""]
    lines += ["| Scenario | Metric | omnibot | Baseline | Ratio | Target | Result |",
              "|---|---|---|---|---|---|---|"]
    for scenario in scenarios:
        if scenario.error:
            lines.append(f"| {scenario.name} | **failed** | {scenario.error[:120]} | | | | |")
        for row in scenario.rows:
            baseline = f"{_cell(row.baseline, row.unit)} ({row.baseline_name})" if row.baseline_name else "—"
            ratio = "—" if row.ratio is None else f"{row.ratio:.2f}×"
            lines.append(f"| {row.scenario} | {row.metric} | {_cell(row.omnibot, row.unit)} | {baseline} | {ratio} "
                         f"| {row.target} | {_met(row)} |")
    if png is not None:
        lines += ["", f"![throughput and latency]({png.name})"]
    lines += ["", "## Notes", ""]
    for scenario in scenarios:
        took = (f"{scenario.data.get('seconds', '?')} s, load average {scenario.data.get('load_average_after', '?')} "
                "at its end")
        lines += [f"- **{scenario.name}** ({took}): {note}" for note in scenario.notes[:1]]
        lines += [f"- **{scenario.name}**: {note}" for note in scenario.notes[1:]]
    profiles = {name: p for s in scenarios for name, p in s.profiles.items()}
    if profiles:
        lines += ["", "## Profiles (py-spy, CPU samples of active threads)", ""]
        for name, profile in profiles.items():
            lines += _profile_lines(name, profile)
    return "\n".join(lines) + "\n"


def _profile_lines(name: str, profile: dict[str, Any]) -> list[str]:
    if "error" in profile:
        return [f"- {name}: {profile['error']}"]
    lines = [f"### {name}", ""]
    for kind, what in (("cpu", "GIL holder (where the CPU goes in Python)"),
                       ("wall", "every active thread (waits on locks and sockets in C included)")):
        part = profile.get(kind, {})
        if "error" in part or not part:
            lines += [f"- {what}: {part.get('error', 'no recording')}", ""]
            continue
        libs = ", ".join(f"{x['name']} {x['percent']}%" for x in part["by_library"][:8])
        lines += [f"**{what}**, {part['samples']} samples, flame graph `{part['svg']}`. By library (leaf frame): "
                  f"{libs}.", ""]
        lines += ["| omnibot function (inclusive) | % | hottest leaf frame (self) | % |", "|---|---|---|---|"]
        for own, leaf in zip(part["omnibot_inclusive"][:8], part["self"][:8], strict=False):
            lines.append(f"| `{own['name']}` | {own['percent']} | `{leaf['name']}` | {leaf['percent']} |")
        lines.append("")
    return lines


def _chart(path: Path, scenarios: list[ScenarioResult]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return None
    bars = [item for s in scenarios for item in s.throughput]
    latencies = [item for s in scenarios for item in s.latency]
    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 6.5))
    if bars:
        labels, values = zip(*bars, strict=True)
        colours = ["#e07b39" if "omnibot" in label else "#7a9cc6" for label in labels]
        left.barh(range(len(values)), values, color=colours)
        left.set_yticks(range(len(values)), labels, fontsize=8)
        left.invert_yaxis()
        left.set_xlabel("per second")
        left.set_title("Throughput (orange: omnibot, blue: baselines)")
        for i, value in enumerate(values):
            left.text(value, i, f" {value:,.0f}", va="center", fontsize=7)
    if latencies:
        labels = [x[0] for x in latencies]
        positions = range(len(latencies))
        right.barh([p - 0.2 for p in positions], [max(x[1], 0.01) for x in latencies], 0.4, label="p50",
                   color="#9ccc65")
        right.barh([p + 0.2 for p in positions], [max(x[2], 0.01) for x in latencies], 0.4, label="p99",
                   color="#ef5350")
        right.set_yticks(list(positions), labels, fontsize=8)
        right.invert_yaxis()
        right.set_xscale("log")
        right.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        right.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        right.set_xlabel("milliseconds (log scale)")
        right.set_title("Latency percentiles")
        right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
