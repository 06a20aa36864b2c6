"""The draws and times the generator shares: Poisson counts, the next working-hours window,
timestamps as the records write them.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta


def ts(seconds: float) -> str:
    return datetime.fromtimestamp(round(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def next_window(t: float) -> float:
    """Move t into the next weekday 09:00–17:00 UTC window."""
    moment = datetime.fromtimestamp(t, UTC)
    while moment.weekday() >= 5 or not 9 <= moment.hour < 17:
        moment = (moment + timedelta(hours=1)).replace(minute=0, second=0)
    return moment.timestamp()
