"""Monthly billing periods."""

from __future__ import annotations

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later, clamped to the last day of a shorter month."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def current_period(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The period containing `now`, stepping a month at a time from (start, end)."""
    while now >= end:
        start, end = end, add_months(end, 1)
    return start, end
