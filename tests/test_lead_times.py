"""Lead times of very long runs: folded into a bounded sketch, the same way in both engines.

Up to `lead_times.EXACT_MAX` parts per replication the engines keep every lead time and
the percentiles are numpy's (SPEC §3.6.11); beyond it they fold them into buckets, so
memory stays bounded however long the horizon (issue 3), with percentiles within 0.45 %.
The engine tests shrink the limits so that an ordinary run folds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin import kpis, lead_times
from twin.engines import fast, reference
from twin.engines.fast import state as fast_state
from twin.lead_times import LeadTimeFolder, LeadTimeSketch
from twin.model.load import load_line

LINES = Path(__file__).resolve().parent.parent / "lines"
#: relative error of a percentile read from the buckets (their geometric middle)
TOLERANCE = lead_times.GROWTH ** 0.5 - 1


def sketch_of(values: np.ndarray) -> LeadTimeSketch:
    sketch = LeadTimeSketch()
    sketch.add(values)
    return sketch


SAMPLES = {
    "exponential": np.random.default_rng(1).exponential(3600.0, 20_000),
    "lognormal, six decades": np.random.default_rng(2).lognormal(3.0, 3.0, 20_000),
    "with zeros and ties": np.concatenate([np.zeros(500), np.full(700, 60.0),
                                           np.random.default_rng(3).uniform(0, 120, 800)]),
    "two parts": np.array([5.0, 7.5]),
    "one part": np.array([42.0]),
}


@pytest.mark.parametrize("values", SAMPLES.values(), ids=SAMPLES.keys())
def test_sketch_percentiles_are_within_the_bucket_error_of_numpys(values):
    sketch = sketch_of(values)
    for q in np.linspace(0, 100, 41):
        exact = np.percentile(values, q)
        assert abs(sketch.percentile(q) - exact) <= TOLERANCE * exact + lead_times.SMALLEST, q
    assert sketch.max() == values.max()
    assert sketch.mean() == pytest.approx(values.mean(), rel=1e-12)
    assert sketch.size == values.size == int(sketch.counts.sum())


def test_the_bucket_error_is_under_half_a_percent():
    assert TOLERANCE < 0.005


def test_folding_does_not_depend_on_when_it_happens(monkeypatch):
    """The engines fold at different moments (the fast one when its array is full, the
    reference one as parts come): the same sequence must give the same sketch."""
    monkeypatch.setattr(lead_times, "EXACT_MAX", 100)
    monkeypatch.setattr(lead_times, "BLOCK", 32)
    values = np.random.default_rng(4).exponential(100.0, 1000)
    sketches = []
    for moments in ([], [150, 151, 400, 999], list(range(101, 1000, 7))):
        folder, pending, start = LeadTimeFolder(), np.zeros(0), 0
        for end in moments + [values.size]:
            pending = np.concatenate([pending, values[start:end]])
            start = end
            if end in moments:
                pending = pending[folder.fold(pending):]
        sketches.append(folder.result(pending))
    for other in sketches[1:]:
        np.testing.assert_array_equal(other.counts, sketches[0].counts)
        assert (other.size, other.total, other.maximum) == (sketches[0].size, sketches[0].total,
                                                            sketches[0].maximum)


def test_up_to_the_limit_the_lead_times_stay_exact(monkeypatch):
    monkeypatch.setattr(lead_times, "EXACT_MAX", 100)
    values = np.arange(100, dtype=np.float64)
    folder = LeadTimeFolder()
    assert folder.fold(values) == 0
    np.testing.assert_array_equal(folder.result(values), values)
    assert isinstance(LeadTimeFolder().result(np.arange(101.0)), LeadTimeSketch)


def line_and_horizon():
    return load_line(LINES / "bench_10.yaml"), 3600.0, 100 * 3600.0  # about 3 800 parts


def test_both_engines_fold_alike_and_close_to_the_exact_percentiles(monkeypatch):
    line, warmup, duration = line_and_horizon()
    exact = kpis.line_kpis(fast.run_replication(line, warmup, duration, 5, 0), duration)
    monkeypatch.setattr(lead_times, "EXACT_MAX", 1000)
    monkeypatch.setattr(lead_times, "BLOCK", 256)
    got = fast.run_replication(line, warmup, duration, 5, 0)
    ref = reference.run_replication(line, warmup, duration, 5, 0)
    assert isinstance(got.lead_times, LeadTimeSketch) and isinstance(ref.lead_times, LeadTimeSketch)
    np.testing.assert_array_equal(got.lead_times.counts, ref.lead_times.counts)
    assert kpis.line_kpis(got, duration) == kpis.line_kpis(ref, duration)
    folded = kpis.line_kpis(got, duration)
    assert folded["completed"] == exact["completed"] == got.lead_times.size
    assert folded["lead_time_max"] == exact["lead_time_max"]
    assert folded["lead_time_mean"] == pytest.approx(exact["lead_time_mean"], rel=1e-12)
    for key in ("lead_time_p50", "lead_time_p95"):
        assert folded[key] == pytest.approx(exact[key], rel=TOLERANCE), key
        assert folded[key] != exact[key], key  # read from the buckets, not the list


def test_the_fast_engine_keeps_its_lead_time_array_bounded(monkeypatch):
    """Folded, the lead times never ask the state for more room, however many parts finish."""
    line, warmup, duration = line_and_horizon()
    grown = []  # sizes the lead-time array grew to
    grow = fast_state.grow

    def spy(state):
        bigger = grow(state)
        if bigger.lead.size > state.lead.size:
            grown.append(bigger.lead.size)
        return bigger

    monkeypatch.setattr(fast_state, "grow", spy)
    fast.run_replication(line, warmup, duration, 5, 0)
    assert grown, "an exact run of this many parts grows its array"
    grown.clear()
    monkeypatch.setattr(lead_times, "EXACT_MAX", 300)
    monkeypatch.setattr(lead_times, "BLOCK", 256)
    result = fast.run_replication(line, warmup, 10 * duration, 5, 0)
    assert result.lead_times.size > 30_000
    assert grown == []


def test_the_lead_time_plot_draws_exact_and_folded_replications(tmp_path):
    from twin.evidence import plots

    values = SAMPLES["exponential"]
    points = [lead_times.histogram_points(values), lead_times.histogram_points(sketch_of(values))]
    assert points[0][1] is None and points[1][1].sum() == values.size
    path = plots.lead_time_histogram(points, tmp_path / "lead_times.png")
    assert path.read_bytes().startswith(b"\x89PNG")
