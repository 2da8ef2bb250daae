"""The dashboard's charts (the last 48 hours, Viber this month): geometry worked out here, drawn as inline SVG
by ``_charts.html``.

Server-side SVG needs no script and nothing from a CDN, and every shape takes its colour from a class
in ``admin.css``, so the pages' Content-Security-Policy (no inline styles) holds. A chart's words are
omnibot's own and its numbers are counts and times: nothing a shop or customer typed reaches one.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from omnibot.domain.model import Channel
from omnibot.ports.dashboard import DashboardQueries, DayViber, HourDeliveryTimes, HourOutcomes

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
RIGHT_AXIS_FRAME = Frame(right=548)  # room on the right for a second axis's labels


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
    right_ticks: list[Tick] = field(default_factory=list)  # a second y axis, for the lines, when it has one
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    empty: bool = False  # nothing happened in the window: the page says so instead of drawing zeros
    empty_text: str = "Nothing in the last 48 hours yet: the chart fills in as notifications go out."
    frame: Frame = FRAME


def last_hours(queries: DashboardQueries, now: datetime) -> list[Chart]:
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
    bars = _stacked_bars(stacks, _OUTCOMES, ticks[-1], [_hour_span(hour.hour) for hour in hours], FRAME)
    return _with_axes(replace(chart, bars=bars), hours, ticks, str)


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
    return _with_axes(replace(chart, lines=lines), hours, ticks, lambda value: f"{value / unit:g} {unit_name}")


def month_of(now: datetime) -> tuple[datetime, int]:
    """The start of ``now``'s calendar month in UTC (the month Viber's budget counts) and its number of days."""
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first, calendar.monthrange(first.year, first.month)[1]


def viber_this_month(queries: DashboardQueries, now: datetime, budget: int) -> Chart:
    first, days = month_of(now)
    return viber_month_chart(queries.viber_per_day(first, days), budget, now)


_VIBER_BARS = [("billable", "Billable"), ("free", "Free"), ("unrecorded", "Billing not recorded")]
_VIBER_LINES = [("billable-so-far", "Billable so far (right axis)"), ("budget", "Budget (right axis)")]


def viber_month_chart(days: Sequence[DayViber], budget: int, now: datetime) -> Chart:
    """Each day of the month: billable and free messages as stacked bars; the billable ones so far as a line
    climbing towards the budget's, on an axis of their own (a day's bars would be slivers beside the budget)."""
    stacks = [[day.billable, day.free, day.sent[None]] for day in days]
    billable, free, unrecorded = (sum(column) for column in zip(*stacks, strict=True))
    names = [_day(day.day) for day in days]
    spent = f"{billable} of the budget of {budget} ({billable / budget:.0%})" if budget else \
        "billable messages are off (VIBER_MONTHLY_BUDGET is 0)"
    description = (f"Viber per day in {days[0].day:%B %Y} (UTC): {billable} billable and {free} free messages sent"
                   + (f", {unrecorded} before omnibot recorded billing" if unrecorded else "") + f"; {spent}")
    if billable or free or unrecorded:
        busiest = max(range(len(days)), key=lambda n: sum(stacks[n]))
        description += f"; the busiest day, {names[busiest]}, had {sum(stacks[busiest])}"
    chart = Chart(
        key="viber-month", title="Viber this month, per day", description=description + ".",
        legend=_VIBER_BARS[:3 if unrecorded else 2] + _VIBER_LINES[:2 if budget else 1],
        note="Bars: messages Viber accepted each day (left axis). Line: billable ones so far this month (right "
             "axis) against VIBER_MONTHLY_BUDGET. The budget card counts from the ledger the budget is enforced "
             "on, which also keeps a message that may have reached Viber after a timeout. UTC.",
        empty=not (billable or free or unrecorded), empty_text="No Viber message sent this month yet.",
        frame=RIGHT_AXIS_FRAME)
    if chart.empty:
        return chart
    frame = chart.frame
    ticks, right_ticks = _scale(max(map(sum, stacks)), whole=True), _scale(max(budget, billable), whole=True)
    so_far = 0
    points: list[Point] = []
    for n, day in enumerate(days):
        if day.day > now:
            break  # the days still to come have nothing so far to draw
        so_far += day.billable
        points.append(Point(_r(frame.x(n + 0.5, len(days))), _r(frame.y(so_far, right_ticks[-1])),
                            f"{names[n]}: {so_far} billable so far" + (f" of {budget}" if budget else "")))
    lines = [Line("billable-so-far", points, _runs(points))]
    if budget:
        at = _r(frame.y(budget, right_ticks[-1]))
        lines.append(Line("budget", [], [f"{frame.left},{at} {frame.right},{at}"]))
    return replace(chart, bars=_stacked_bars(stacks, _VIBER_BARS, ticks[-1], names, frame), lines=lines,
                   x_ticks=[Tick(_r(frame.x(n + 0.5, len(days))), names[n]) for n in range(0, len(days), 7)],
                   y_ticks=[Tick(_r(frame.y(value, ticks[-1])), f"{value:.0f}") for value in ticks],
                   right_ticks=[Tick(_r(frame.y(value, right_ticks[-1])), f"{value:.0f}") for value in right_ticks])


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _with_axes(chart: Chart, hours: Sequence[HourOutcomes | HourDeliveryTimes], ticks: list[float],
               label: Callable[[float], str]) -> Chart:
    x_ticks = [Tick(_r(FRAME.x(n + 0.5, len(hours))), f"{hour.hour:%H}:00",
                    _day(hour.hour) if hour.hour.hour == 0 else "")
               for n, hour in enumerate(hours) if hour.hour.hour % 6 == 0]
    y_ticks = [Tick(_r(FRAME.y(value, ticks[-1])), label(value)) for value in ticks]
    return replace(chart, x_ticks=x_ticks, y_ticks=y_ticks)


def _stacked_bars(stacks: list[list[int]], legend: list[tuple[str, str]], top_value: float, slot_names: list[str],
                  frame: Frame) -> list[Bar]:
    """A column per slot, its series stacked from the axis up in the legend's order; none drawn for a zero."""
    width = (frame.right - frame.left) / len(stacks) * 0.7
    bars: list[Bar] = []
    for n, (stack, slot_name) in enumerate(zip(stacks, slot_names, strict=True)):
        below = 0
        for (series, label), count in zip(legend, stack, strict=True):
            if count:
                top, bottom = frame.y(below + count, top_value), frame.y(below, top_value)
                bars.append(Bar(_r(frame.x(n + 0.15, len(stacks))), _r(top), _r(width), _r(bottom - top),
                                series, f"{slot_name}: {count} {label.lower()}"))
                below += count
    return bars


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


def _runs(points: Sequence[Point | None]) -> list[str]:
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
