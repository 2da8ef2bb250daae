"""The dashboard charts' geometry: scales, stacked bars, lines that break over hours without deliveries, and
Viber's month climbing towards its budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from omnibot.adapters.db.admin_queries import DayViber, HourDeliveryTimes, HourOutcomes
from omnibot.domain.model import Billing, Channel
from omnibot.entrypoints.http.admin.charts import (
    FRAME,
    RIGHT_AXIS_FRAME,
    delivery_time_chart,
    month_of,
    outcomes_chart,
    viber_month_chart,
)

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


APRIL = datetime(2026, 4, 1, tzinfo=UTC)


def april(sends: dict[int, tuple[int, int, int]], unrecorded: dict[int, int] | None = None) -> list[DayViber]:
    """April's 30 days; ``sends`` maps a day of the month to its (billable, free in session, free from the quota)."""
    days = []
    for n in range(30):
        billable, session, quota = sends.get(n + 1, (0, 0, 0))
        days.append(DayViber(APRIL + timedelta(days=n), {
            Billing.BILLABLE: billable, Billing.FREE_SESSION: session, Billing.FREE_QUOTA: quota,
            None: (unrecorded or {}).get(n + 1, 0)}, {}))
    return days


def test_the_month_of_a_moment_is_its_utc_calendar_month() -> None:
    assert month_of(datetime(2026, 2, 14, 9, tzinfo=UTC)) == (datetime(2026, 2, 1, tzinfo=UTC), 28)
    new_year_in_kyiv = datetime(2027, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))  # still 2026 in UTC
    assert month_of(new_year_in_kyiv) == (datetime(2026, 12, 1, tzinfo=UTC), 31)


def test_viber_days_stack_billable_under_free_and_the_billable_so_far_climb_to_today() -> None:
    now = APRIL + timedelta(days=9, hours=12)  # 10 April, noon
    chart = viber_month_chart(april({1: (30, 5, 5), 3: (20, 0, 10), 10: (10, 0, 0)}), 100, now)

    assert chart.frame == RIGHT_AXIS_FRAME and not chart.empty
    assert [label for _, label in chart.legend] == ["Billable", "Free", "Billable so far (right axis)",
                                                    "Budget (right axis)"]
    assert [(b.series, b.title) for b in chart.bars] == [
        ("billable", "1 Apr: 30 billable"), ("free", "1 Apr: 10 free"), ("billable", "3 Apr: 20 billable"),
        ("free", "3 Apr: 10 free"), ("billable", "10 Apr: 10 billable")]
    billable, free = chart.bars[:2]
    assert billable.y + billable.height == RIGHT_AXIS_FRAME.bottom and round(free.y + free.height, 1) == billable.y
    assert [t.label for t in chart.y_ticks] == ["0", "10", "20", "30", "40"]  # the busiest day's 40 messages

    so_far, budget = chart.lines
    assert len(so_far.points) == 10 and len(so_far.runs) == 1  # 1 to 10 April: nothing drawn for days to come
    assert so_far.points[-1].title == "10 Apr: 60 billable so far of 100"
    assert [p.y for p in so_far.points[:3]] == [RIGHT_AXIS_FRAME.y(30, 100)] * 2 + [RIGHT_AXIS_FRAME.y(50, 100)]
    assert [t.label for t in chart.right_ticks][-1] == "100"
    budget_at = RIGHT_AXIS_FRAME.y(100, 100)
    assert (budget.series, budget.points) == ("budget", [])
    assert budget.runs == [f"{RIGHT_AXIS_FRAME.left},{budget_at} {RIGHT_AXIS_FRAME.right},{budget_at}"]
    assert [t.label for t in chart.x_ticks] == ["1 Apr", "8 Apr", "15 Apr", "22 Apr", "29 Apr"]
    assert chart.description == ("Viber per day in April 2026 (UTC): 60 billable and 20 free messages sent; "
                                 "60 of the budget of 100 (60%); the busiest day, 1 Apr, had 40.")


def test_the_right_axis_reaches_past_a_budget_already_overrun() -> None:
    chart = viber_month_chart(april({2: (130, 0, 0)}), 100, APRIL + timedelta(days=20))
    so_far, _ = chart.lines
    assert [t.label for t in chart.right_ticks] == ["0", "50", "100", "150"]
    assert so_far.points[-1].title == "21 Apr: 130 billable so far of 100"


def test_without_a_budget_the_chart_says_billable_messages_are_off_and_draws_no_budget_line() -> None:
    chart = viber_month_chart(april({4: (0, 3, 0)}, unrecorded={5: 2}), 0, APRIL + timedelta(days=6))
    assert [series for series, _ in chart.legend] == ["billable", "free", "unrecorded", "billable-so-far"]
    assert [line.series for line in chart.lines] == ["billable-so-far"]
    assert [(b.series, b.title) for b in chart.bars] == [("free", "4 Apr: 3 free"),
                                                         ("unrecorded", "5 Apr: 2 billing not recorded")]
    assert "2 before omnibot recorded billing; billable messages are off (VIBER_MONTHLY_BUDGET is 0)" \
        in chart.description


def test_a_month_with_no_viber_message_draws_nothing_and_says_so() -> None:
    chart = viber_month_chart(april({}), 100, APRIL + timedelta(days=3))
    assert chart.empty and not chart.bars and not chart.lines
    assert chart.empty_text == "No Viber message sent this month yet."
