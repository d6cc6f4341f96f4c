"""The shared sampler against the moments of each distribution."""

import math

import numpy as np
import pytest

from twin.distributions import ZIG_R, parse_dist, sample
from twin.streams import seed_key

N = 40000


def _draws(spec, n=N, seed=1):
    dist, problems = parse_dist(spec)
    assert not problems
    code, (p0, p1, p2), values = dist.encode()
    pool = np.array(values or (0.0,))
    keys, counters = np.array([seed_key(seed)], np.uint64), np.zeros(1, np.uint64)
    return dist, np.array([sample(code, p0, p1, p2, pool, keys, counters, 0) for _ in range(n)])


@pytest.mark.parametrize("spec, mean, var", [
    ({"dist": "exponential", "mean": "60s"}, 60.0, 3600.0),
    ({"dist": "uniform", "low": 10, "high": 20}, 15.0, 100 / 12),
    ({"dist": "triangular", "low": 0, "mode": 3, "high": 9}, 4.0, (81 + 9 - 27) / 18),
    ({"dist": "lognormal", "mean": "52s", "cv": 0.08}, 52.0, (52 * 0.08) ** 2),
    ({"dist": "gamma", "mean": 60, "cv": 0.5}, 60.0, 900.0),
    ({"dist": "gamma", "mean": 60, "cv": 2.0}, 60.0, 14400.0),
    ({"dist": "weibull", "shape": 2.0, "scale": 100}, 100 * math.gamma(1.5),
     100 ** 2 * (math.gamma(2) - math.gamma(1.5) ** 2)),
    ({"dist": "normal", "mean": 61, "sd": 3}, 61.0, 9.0),
    ({"dist": "empirical", "values": [10, 20, 60]}, 30.0, (100 + 400 + 3600) / 3 - 900),
])
def test_moments(spec, mean, var):
    dist, x = _draws(spec)
    assert dist.mean == pytest.approx(mean)
    se = math.sqrt(var / N)
    assert abs(x.mean() - mean) < 5 * se
    assert x.var() == pytest.approx(var, rel=0.08)
    assert x.min() >= 0


def test_normal_is_truncated_at_zero_by_resampling():
    _, x = _draws({"dist": "normal", "mean": 1, "sd": 2})
    assert x.min() >= 0
    # truncated N(1, 2^2) at 0 has mean 1 + 2 phi(0.5) / Phi(0.5)
    phi, cdf = math.exp(-0.125) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(0.5 / math.sqrt(2)))
    assert x.mean() == pytest.approx(1 + 2 * phi / cdf, rel=0.02)


def test_exponential_has_the_exact_distribution():
    """The ziggurat sampler against the exponential CDF: Kolmogorov-Smirnov over the whole
    range, and the tail beyond the ziggurat's base layer, which it samples separately."""
    n = 400_000
    _, x = _draws({"dist": "exponential", "mean": "60s"}, n=n)
    cdf = -np.expm1(-np.sort(x) / 60.0)
    d = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert d * math.sqrt(n) < 1.95  # the 0.1 % critical value
    tail = math.exp(-ZIG_R)
    assert abs(np.mean(x > 60.0 * ZIG_R) - tail) < 5 * math.sqrt(tail / n)
    assert np.mean(x > 60.0 * ZIG_R * 1.5) > 0  # beyond the tables' range too


def test_constant_and_bare_duration_consume_nothing():
    dist, x = _draws("52s", n=10)
    assert dist.kind == "constant" and set(x.tolist()) == {52.0}


@pytest.mark.parametrize("spec, path, fragment", [
    ({"dist": "poisson", "mean": 3}, "dist", "unknown distribution"),
    ({"dist": "exponential"}, "mean", "missing"),
    ({"dist": "exponential", "mean": "-3s"}, "mean", "negative"),
    ({"dist": "exponential", "mean": 0}, "mean", "> 0"),
    ({"dist": "uniform", "low": 5, "high": 1}, "high", ">= low"),
    ({"dist": "lognormal", "mean": 5, "cv": -1}, "cv", "> 0"),
    ({"dist": "gamma", "mean": 1, "cv": 1e10}, "cv", "nearly every draw is 0"),
    ({"dist": "weibull", "shape": 0.001, "scale": "5s"}, "", "overflows"),
    ({"dist": "empirical", "values": []}, "values", "non-empty"),
    ({"dist": "exponential", "mean": 3, "sd": 1}, "sd", "unknown parameter"),
    ("fast", "", "bad duration"),
])
def test_bad_specs_name_the_parameter(spec, path, fragment):
    dist, problems = parse_dist(spec)
    assert dist is None
    assert any(p == path and fragment in m for p, m in problems), problems
