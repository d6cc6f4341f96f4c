"""Statistics over replications: the Student-t interval of SPEC §5."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from twin.kpis import summarize


@pytest.mark.parametrize("values, confidence, t_table", [
    ([1.0, 2.0, 3.0, 4.0], 0.95, 3.182),  # t(0.975, 3) from a printed table
    ([10.0, 12.0], 0.90, 6.314),  # t(0.95, 1)
    (list(np.linspace(0.0, 1.0, 30)), 0.99, 2.756),  # t(0.995, 29)
])
def test_interval_is_student_t(values, confidence, t_table):
    out = summarize(values, confidence)
    mean, sd, n = np.mean(values), np.std(values, ddof=1), len(values)
    assert out["mean"] == pytest.approx(mean)
    half = (out["ci95"][1] - out["ci95"][0]) / 2
    assert half == pytest.approx(t_table * sd / math.sqrt(n), rel=2e-4)
    # and scipy.stats' interval (the same quantile function; twin does not import scipy.stats)
    lo, hi = stats.t.interval(confidence, n - 1, loc=mean, scale=sd / math.sqrt(n))
    assert out["ci95"] == pytest.approx([lo, hi], rel=1e-12)


def test_missing_values_are_left_out_and_one_value_is_its_own_interval():
    assert summarize([math.nan, 5.0])["ci95"] == [5.0, 5.0]
    assert summarize([math.nan, 5.0])["per_replication"] == [None, 5.0]
    assert summarize([math.nan])["mean"] is None
