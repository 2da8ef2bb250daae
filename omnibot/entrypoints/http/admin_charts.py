"""The dashboard's charts of the last 48 hours: geometry worked out here, drawn as inline SVG by ``_charts.html``.

Server-side SVG needs no script and nothing from a CDN, and every shape takes its colour from a class
in ``admin.css``, so the pages' Content-Security-Policy (no inline styles) holds. A chart's words are
omnibot's own and its numbers are counts and times: nothing a shop or customer typed reaches one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from omnibot.adapters.db.admin_queries import AdminQueries, HourDeliveryTimes, HourOutcomes
from omnibot.domain.model import Channel

HOURS = 48
REFRESH_SECONDS = 60  # hourly bars change slowly; the list beside them refreshes every few seconds
# The time axis's unit: (name, seconds, used while the highest value is below).
_TIME_UNITS = [("ms", 0.001, 1.0), ("s", 1, 120.0), ("min", 60, 7200.0), ("h", 3600, math.inf)]


@dataclass(frozen=True)
class Frame:
    """The SVG's size and the plot area inside it, in the SVG's own units."""

    width: int = 600
    height: int = 200
    left: int = 52  # room for the y labels
    right: int = 592
    top: int = 10
    bottom: int = 166  # below: the x labels, two lines

    def x(self, slot: float, slots: int) -> float:
        return self.left + (self.right - self.left) * slot / slots

    def y(self, value: float, top_value: float) -> float:
        return self.bottom - (self.bottom - self.top) * value / top_value


FRAME = Frame()


@dataclass(frozen=True)
class Tick:
    at: float  # x or y, in the SVG's units
    label: str
    detail: str = ""  # a second line under an x label: the date, at midnight


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str  # the CSS class that colours it
    title: str  # shown on hover


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Line:
    series: str
    points: list[Point]
    runs: list[str]  # SVG ``points`` of each run of consecutive hours with a value; gaps stay gaps


@dataclass(frozen=True)
class Chart:
    key: str  # unique on the page: the ids of its title and description
    title: str
    description: str  # what a screen reader says for the picture
    legend: list[tuple[str, str]]  # (series, label)
    note: str
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    empty: bool = False  # nothing happened in the window: the page says so instead of drawing zeros
    frame: Frame = FRAME


def last_hours(queries: AdminQueries, now: datetime) -> list[Chart]:
    """Both charts for the 48 hours up to and including the current one (UTC)."""
    first = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    return [outcomes_chart(queries.outcomes_per_hour(first, HOURS)),
            delivery_time_chart(queries.time_to_deliver_per_hour(first, HOURS))]


_OUTCOMES = [("telegram", "Telegram sent"), ("viber", "Viber sent"), ("failed", "Failed")]


def outcomes_chart(hours: Sequence[HourOutcomes]) -> Chart:
    """One stacked bar per hour: Telegram sent, Viber sent, then failed on top."""
    stacks = [[hour.sent[Channel.TELEGRAM], hour.sent[Channel.VIBER], hour.failed] for hour in hours]
    totals = [sum(column) for column in zip(*stacks, strict=True)] if stacks else [0, 0, 0]
    chart = Chart(
        key="outcomes", title="Sent and failed per hour", legend=_OUTCOMES,
        note="Sent: messages a messenger accepted, by the hour sent. Failed: notifications that failed for good, "
             "by the hour they were accepted. UTC.",
        description=_outcomes_summary(hours, stacks, totals), empty=not any(totals))
    if chart.empty:
        return chart
    ticks = _scale(max(sum(stack) for stack in stacks), whole=True)
    top_value = ticks[-1]
    slot = (FRAME.right - FRAME.left) / len(hours)
    bars: list[Bar] = []
    for n, (hour, stack) in enumerate(zip(hours, stacks, strict=True)):
        below = 0
        for (series, label), count in zip(_OUTCOMES, stack, strict=True):
            if count:
                top, bottom = FRAME.y(below + count, top_value), FRAME.y(below, top_value)
                bars.append(Bar(_r(FRAME.x(n + 0.15, len(hours))), _r(top), _r(slot * 0.7), _r(bottom - top),
                                series, f"{_hour_span(hour.hour)}: {count} {label.lower()}"))
                below += count
    return _with_axes(chart, hours, ticks, str, bars=bars)


_PERCENTILES: list[tuple[str, str, Callable[[HourDeliveryTimes], float | None]]] = [
    ("p50", "p50 (median)", lambda hour: hour.p50), ("p95", "p95", lambda hour: hour.p95)]


def delivery_time_chart(hours: Sequence[HourDeliveryTimes]) -> Chart:
    """p50 and p95 of each hour's time to deliver, as lines that break over hours with no delivery."""
    legend = [(series, label) for series, label, _ in _PERCENTILES]
    deliveries = sum(hour.deliveries for hour in hours)
    slowest = max((hour for hour in hours if hour.p95 is not None), key=lambda hour: hour.p95 or 0, default=None)
    description = (f"Time to deliver per hour over the last {len(hours)} hours (UTC), {deliveries} deliveries"
                   + (f"; the highest p95 was {duration(slowest.p95)} at {_hour_span(slowest.hour)}."
                      if slowest is not None and slowest.p95 is not None else "."))
    chart = Chart(
        key="time-to-deliver", title="Time to deliver per hour", legend=legend, description=description,
        note="From accepting a notification to a messenger accepting it, retries and waits included "
             "(not the messenger's own latency, which omnibot does not store). UTC.",
        empty=deliveries == 0)
    if chart.empty:
        return chart
    highest = max(hour.p95 or 0 for hour in hours)
    unit_name, unit = next((name, size) for name, size, below in _TIME_UNITS if highest < below)
    ticks = [value * unit for value in _scale(highest / unit, whole=False)]
    lines = []
    for series, label, of_hour in _PERCENTILES:
        points: list[Point | None] = []
        for n, hour in enumerate(hours):
            value = of_hour(hour)
            points.append(None if value is None else Point(
                _r(FRAME.x(n + 0.5, len(hours))), _r(FRAME.y(value, ticks[-1])),
                f"{_hour_span(hour.hour)}: {label} {duration(value)} of {hour.deliveries} deliveries"))
        lines.append(Line(series, [p for p in points if p is not None], _runs(points)))
    return _with_axes(chart, hours, ticks, lambda value: f"{value / unit:g} {unit_name}", lines=lines)


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _with_axes(chart: Chart, hours: Sequence[HourOutcomes | HourDeliveryTimes], ticks: list[float],
               label: Callable[[float], str], **drawn: list[Bar] | list[Line]) -> Chart:
    x_ticks = [Tick(_r(FRAME.x(n + 0.5, len(hours))), f"{hour.hour:%H}:00",
                    _day(hour.hour) if hour.hour.hour == 0 else "")
               for n, hour in enumerate(hours) if hour.hour.hour % 6 == 0]
    y_ticks = [Tick(_r(FRAME.y(value, ticks[-1])), label(value)) for value in ticks]
    return replace(chart, x_ticks=x_ticks, y_ticks=y_ticks, **drawn)


def _scale(highest: float, *, whole: bool) -> list[float]:
    """Round tick values from 0 to just above ``highest``: steps of 1, 2 or 5 times a power of ten."""
    if highest <= 0:
        return [0.0, 1.0]
    rough = highest / 4
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    if whole:
        step = max(1, round(step))
    steps = math.ceil(highest / step - 1e-9)
    return [round(step * n, 10) for n in range(steps + 1)]


def _runs(points: list[Point | None]) -> list[str]:
    runs: list[list[Point]] = [[]]
    for point in points:
        if point is None:
            runs.append([])
        else:
            runs[-1].append(point)
    return [" ".join(f"{p.x},{p.y}" for p in run) for run in runs if len(run) > 1]


def _outcomes_summary(hours: Sequence[HourOutcomes], stacks: list[list[int]], totals: list[int]) -> str:
    telegram, viber, failed = totals
    text = (f"Per hour over the last {len(hours)} hours (UTC): {telegram} messages sent on Telegram, "
            f"{viber} on Viber, {failed} notifications failed")
    if not any(totals):
        return text + "."
    busiest = max(range(len(hours)), key=lambda n: sum(stacks[n]))
    return text + f"; the busiest hour, {_hour_span(hours[busiest].hour)}, had {sum(stacks[busiest])}."


def _hour_span(start: datetime) -> str:
    return f"{_day(start)} {start:%H}:00–{start + timedelta(hours=1):%H}:00"


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b}"


def _r(value: float) -> float:
    return round(value, 1)
