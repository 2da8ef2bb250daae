"""The shop's quiet hours: a daily window in which notifications that can wait do wait for morning."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class QuietHours:
    """From ``start`` to ``end`` local time in ``zone``; a window that crosses midnight (21:00-08:00)
    is the usual one."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, window: str, zone: str) -> QuietHours:
        """``"21:00-08:00"`` in an IANA zone; ValueError on anything else."""
        found = _WINDOW.match(window.strip())
        if found is None:
            raise ValueError("must be HH:MM-HH:MM, e.g. 21:00-08:00")
        start = time(int(found[1]), int(found[2]))
        end = time(int(found[3]), int(found[4]))
        if start == end:
            raise ValueError("start and end must differ")
        return cls(start, end, ZoneInfo(zone))

    def remaining(self, now: datetime) -> timedelta | None:
        """How long the window in force at ``now`` still lasts; None outside it."""
        local = now.astimezone(self.zone)
        clock = local.time().replace(tzinfo=None)
        crosses_midnight = self.start > self.end
        inside = (clock >= self.start or clock < self.end) if crosses_midnight else self.start <= clock < self.end
        if not inside:
            return None
        end_day = local.date() + timedelta(days=1) if crosses_midnight and clock >= self.start else local.date()
        # Wall-clock arithmetic in the zone, then back to an instant: a DST change inside the
        # window moves the morning with the clocks, as the customers' own clocks do.
        morning = datetime.combine(end_day, self.end, tzinfo=self.zone)
        return morning.astimezone(UTC) - now.astimezone(UTC)
