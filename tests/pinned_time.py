"""Fixed moments for tests whose outcome depends on "now".

Deadlines come from the working calendar, which knows only the years the State Council has published; a test
that computed deadlines from the real clock would change meaning, and fail, as the real date moves on. Such
tests pin the domain clock (core.clock.pinned_at) to these moments instead.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CST = ZoneInfo("Asia/Shanghai")

# The demo city replays a month of history up to this moment; its open deadlines (up to ~15 working days, plus
# extensions) stay inside the same published year.
DEMO_NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=CST)

# A working Monday morning, for tests that create deadlines and then act on them "now".
WORKDAY_MORNING = dt.datetime(2026, 3, 2, 9, 30, tzinfo=CST)
