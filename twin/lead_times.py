"""A replication's lead times: the exact list, or a bounded sketch when there are very many.

SPEC §3.6.11 takes numpy's percentiles over a replication's parts, which needs
every lead time; issue 3 asks for memory bounded however long the horizon. Both
hold up to `EXACT_MAX` parts finished in a replication's window (32 MiB of lead
times): the engines keep the list and the percentiles are numpy's, exact.
Beyond it, the lead times are folded into counts per bucket of relative width
`GROWTH`, in blocks of `BLOCK` parts: a percentile is then within 0.45 % of
numpy's (a bucket's value is its geometric middle), the maximum stays exact and
the mean exact up to the order of its additions.

Both engines fold the same sequence in the same blocks (the i-th block is the
i-th run of `BLOCK` lead times, the rest is folded last), whenever each of them
folds, so their results stay identical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: lead times of one replication kept exactly, at most
EXACT_MAX = 1 << 22
#: lead times folded at a time, once there are more than EXACT_MAX
BLOCK = 1 << 20
#: ratio of a bucket's upper to its lower bound
GROWTH = 1.009
#: seconds; shorter lead times fall in bucket 0, whose value is 0
SMALLEST = 1e-6
#: longest lead time with a bucket of its own (seconds, some 300 000 years); longer ones share
#: the last
LONGEST = 1e13
N_BUCKETS = 2 + math.ceil(math.log(LONGEST / SMALLEST) / math.log(GROWTH))


def _bucket(values: np.ndarray) -> np.ndarray:
    """Bucket 0 below `SMALLEST`, then bucket b for [SMALLEST·GROWTHᵇ⁻¹, SMALLEST·GROWTHᵇ)."""
    safe = np.maximum(values, SMALLEST)
    b = 1 + np.floor(np.log(safe / SMALLEST) / math.log(GROWTH)).astype(np.int64)
    return np.where(values < SMALLEST, 0, np.minimum(b, N_BUCKETS - 1))


def _bucket_values() -> np.ndarray:
    """The value a bucket stands for: 0, then the geometric middle of its bounds."""
    b = np.arange(N_BUCKETS, dtype=np.float64)
    return np.where(b == 0, 0.0, SMALLEST * GROWTH ** (b - 0.5))


BUCKET_VALUES = _bucket_values()


@dataclass(eq=False)  # (its counts are an array: compare the fields)
class LeadTimeSketch:
    """Lead times folded into counts per bucket (see the module docstring)."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(N_BUCKETS, np.int64))
    size: int = 0
    total: float = 0.0
    maximum: float = -math.inf

    def add(self, block: np.ndarray) -> None:
        self.counts += np.bincount(_bucket(block), minlength=N_BUCKETS)
        self.size += block.size
        self.total += float(np.sum(block))
        self.maximum = max(self.maximum, float(block.max()))

    def mean(self) -> float:
        return self.total / self.size

    def max(self) -> float:
        return self.maximum

    def percentile(self, q: float) -> float:
        """numpy's linear percentile `q` (0..100), each order statistic read from its bucket."""
        ends = np.cumsum(self.counts)
        rank = (self.size - 1) * q / 100.0
        low = math.floor(rank)
        below, above = np.searchsorted(ends, [low, min(low + 1, self.size - 1)], side="right")
        values = BUCKET_VALUES
        return float(values[below] + (rank - low) * (values[above] - values[below]))

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, counts) of the buckets that hold lead times."""
        held = self.counts > 0
        return BUCKET_VALUES[held], self.counts[held]


class LeadTimeFolder:
    """Folds one replication's lead times as they come, the same way in both engines."""

    def __init__(self) -> None:
        self.sketch: LeadTimeSketch | None = None

    def room(self) -> int:
        """How many lead times may wait unfolded before `fold` has something to do."""
        return BLOCK if self.sketch is not None else EXACT_MAX

    def fold(self, pending: np.ndarray) -> int:
        """Fold the whole blocks at the start of `pending` (the lead times not folded yet, in
        order) once the replication has more than `EXACT_MAX`; returns how many it folded."""
        if self.sketch is None:
            if pending.size <= EXACT_MAX:
                return 0
            self.sketch = LeadTimeSketch()
        whole = pending.size // BLOCK * BLOCK
        for start in range(0, whole, BLOCK):
            self.sketch.add(pending[start:start + BLOCK])
        return whole

    def result(self, pending: np.ndarray) -> np.ndarray | LeadTimeSketch:
        """The replication's lead times, given those not folded yet: a copy of them if none
        were folded, else the sketch of all of them."""
        rest = pending[self.fold(pending):]
        if self.sketch is None:
            return np.array(rest, np.float64)
        if rest.size:
            self.sketch.add(rest)
        return self.sketch


def summary(lead: np.ndarray | LeadTimeSketch) -> dict[str, float]:
    """Mean, p50, p95 and max of a replication's lead times (NaN without parts)."""
    if lead.size == 0:
        return dict.fromkeys(("mean", "p50", "p95", "max"), math.nan)
    if isinstance(lead, LeadTimeSketch):
        p50, p95 = lead.percentile(50), lead.percentile(95)
    else:
        p50, p95 = float(np.percentile(lead, 50)), float(np.percentile(lead, 95))
    return {"mean": float(lead.mean()), "p50": p50, "p95": p95, "max": float(lead.max())}


def histogram_points(lead: np.ndarray | LeadTimeSketch) -> tuple[np.ndarray, np.ndarray | None]:
    """(values, counts) to plot: every lead time (counts None), or the sketch's buckets."""
    if isinstance(lead, LeadTimeSketch):
        return lead.points()
    return lead, None
