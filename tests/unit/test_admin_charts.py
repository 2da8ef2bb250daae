"""The dashboard charts' geometry: scales, stacked bars, lines that break over hours without deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnibot.adapters.db.admin_queries import HourDeliveryTimes, HourOutcomes
from omnibot.domain.model import Channel
from omnibot.entrypoints.http.admin_charts import FRAME, delivery_time_chart, outcomes_chart

FIRST = datetime(2026, 4, 1, 22, tzinfo=UTC)


def hour(n: int) -> datetime:
    return FIRST + timedelta(hours=n)


def outcomes(*counts: tuple[int, int, int]) -> list[HourOutcomes]:
    return [HourOutcomes(hour(n), {Channel.TELEGRAM: telegram, Channel.VIBER: viber}, failed)
            for n, (telegram, viber, failed) in enumerate(counts)]


def times(*values: tuple[float, float] | None) -> list[HourDeliveryTimes]:
    return [HourDeliveryTimes(hour(n), 0, None, None) if value is None else HourDeliveryTimes(hour(n), 4, *value)
            for n, value in enumerate(values)]


def test_bars_stack_per_hour_on_a_whole_number_axis_that_reaches_the_busiest_hour() -> None:
    chart = outcomes_chart(outcomes((3, 0, 1), (0, 0, 0), (1, 2, 4)))
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8"]
    assert [(b.series, b.title.rsplit(": ", 1)[1]) for b in chart.bars] == [
        ("telegram", "3 telegram sent"), ("failed", "1 failed"),
        ("telegram", "1 telegram sent"), ("viber", "2 viber sent"), ("failed", "4 failed")]
    busiest = chart.bars[2:]
    assert busiest[0].y + busiest[0].height == FRAME.bottom  # from the axis up, each on the one below
    assert [round(b.y + b.height, 1) for b in busiest[1:]] == [busiest[0].y, busiest[1].y]
    assert busiest[2].y == FRAME.y(7, 8)
    assert "the busiest hour, 2 Apr 00:00–01:00, had 7" in chart.description
    assert [(t.label, t.detail) for t in chart.x_ticks] == [("00:00", "2 Apr")]  # every 6 hours; the date at 0:00


def test_a_window_with_nothing_in_it_draws_nothing_and_says_so() -> None:
    quiet = outcomes_chart(outcomes((0, 0, 0), (0, 0, 0)))
    assert quiet.empty and not quiet.bars and "0 messages sent on Telegram" in quiet.description
    assert delivery_time_chart(times(None, None)).empty


def test_delivery_time_lines_break_over_hours_without_deliveries() -> None:
    chart = delivery_time_chart(times((1, 2), (2, 3), None, (3, 45), None, (2, 2)))
    p50, p95 = chart.lines
    assert (p50.series, p95.series) == ("p50", "p95")
    assert len(p50.points) == 4 and len(p50.runs) == 1  # hours 0-1 joined; 3 and 5 stand alone
    assert p50.runs[0] == f"{p50.points[0].x},{p50.points[0].y} {p50.points[1].x},{p50.points[1].y}"
    assert [t.label for t in chart.y_ticks] == ["0 s", "20 s", "40 s", "60 s"]
    assert "the highest p95 was 45.0 s at 2 Apr 01:00–02:00" in chart.description


def test_the_time_axis_takes_the_unit_of_its_highest_value() -> None:
    assert [t.label for t in delivery_time_chart(times((0.01, 0.03))).y_ticks][-1] == "30 ms"
    assert [t.label for t in delivery_time_chart(times((60, 600))).y_ticks][-1] == "10 min"
    assert [t.label for t in delivery_time_chart(times((600, 9000))).y_ticks][-1] == "3 h"
