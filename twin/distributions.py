"""Distribution specs (SPEC §3.1) → codes and parameters, and the sampler both engines share.

A distribution is encoded as a code, three float parameters and, for
``empirical``, a slice of a shared value pool. :func:`sample` is jitted and is
the only place a random duration is drawn, by either engine.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass

import numpy as np
from numba import njit

from twin.streams import next_bits, uniform
from twin.units import is_finite_number, parse_duration

CONSTANT, EXPONENTIAL, UNIFORM, TRIANGULAR, NORMAL, LOGNORMAL, GAMMA, WEIBULL, EMPIRICAL = range(9)

KINDS = {
    "constant": (CONSTANT, ("value",)),
    "exponential": (EXPONENTIAL, ("mean",)),
    "uniform": (UNIFORM, ("low", "high")),
    "triangular": (TRIANGULAR, ("low", "mode", "high")),
    "normal": (NORMAL, ("mean", "sd")),
    "lognormal": (LOGNORMAL, ("mean", "cv")),
    "gamma": (GAMMA, ("mean", "cv")),
    "weibull": (WEIBULL, ("shape", "scale")),
    "empirical": (EMPIRICAL, ("values",)),
}
_DIMENSIONLESS = {"cv", "shape"}
#: a gamma's shape is 1 / cv²; below 0.01 its draws underflow to 0 (time would stand still)
MAX_GAMMA_CV = 10.0


@dataclass(frozen=True)
class Dist:
    """A validated distribution: its kind and parameters in seconds (cv, shape unitless)."""

    kind: str
    params: tuple[tuple[str, float], ...]
    values: tuple[float, ...] = ()

    @property
    def code(self) -> int:
        return KINDS[self.kind][0]

    def param(self, name: str) -> float:
        return dict(self.params)[name]

    @property
    def always_zero(self) -> bool:
        """Whether every draw is 0 s (a zero-time station; see the line's zero-time checks)."""
        if self.kind == "empirical":
            return not any(self.values)
        return self.kind in ("constant", "uniform") and self.params[-1][1] == 0.0  # value, high

    @property
    def mean(self) -> float:
        """The nominal mean (for `normal`, the `mean` parameter before truncation)."""
        p = dict(self.params)
        if self.kind == "constant":
            return p["value"]
        if self.kind in ("exponential", "normal", "lognormal", "gamma"):
            return p["mean"]
        if self.kind == "uniform":
            return (p["low"] + p["high"]) / 2
        if self.kind == "triangular":
            return (p["low"] + p["mode"] + p["high"]) / 3
        if self.kind == "weibull":
            return p["scale"] * math.gamma(1 + 1 / p["shape"])
        return float(np.mean(self.values))

    def encode(self) -> tuple[int, tuple[float, float, float], tuple[float, ...]]:
        """(code, three kernel parameters, empirical values) as :func:`sample` wants them."""
        p = dict(self.params)
        if self.kind == "constant":
            return CONSTANT, (p["value"], 0.0, 0.0), ()
        if self.kind == "exponential":
            return EXPONENTIAL, (p["mean"], 0.0, 0.0), ()
        if self.kind == "uniform":
            return UNIFORM, (p["low"], p["high"], 0.0), ()
        if self.kind == "triangular":
            return TRIANGULAR, (p["low"], p["mode"], p["high"]), ()
        if self.kind == "normal":
            return NORMAL, (p["mean"], p["sd"], 0.0), ()
        if self.kind == "lognormal":
            sigma2 = math.log(1.0 + p["cv"] ** 2)
            return LOGNORMAL, (math.log(p["mean"]) - sigma2 / 2, math.sqrt(sigma2), 0.0), ()
        if self.kind == "gamma":
            shape = 1.0 / p["cv"] ** 2
            return GAMMA, (shape, p["mean"] / shape, 0.0), ()
        if self.kind == "weibull":
            return WEIBULL, (p["shape"], p["scale"], 0.0), ()
        return EMPIRICAL, (0.0, float(len(self.values)), 0.0), self.values


def constant(seconds: float) -> Dist:
    return Dist("constant", (("value", float(seconds)),))


def parse_dist(spec: object) -> tuple[Dist | None, list[tuple[str, str]]]:
    """Parse a distribution spec; return (dist, problems as (sub-path, message)).

    A bare duration means `constant`. Every problem is collected, none raised.
    """
    if not isinstance(spec, dict):
        try:
            return constant(parse_duration(spec)), []
        except ValueError as exc:
            return None, [("", str(exc))]
    kind = spec.get("dist")
    if kind not in KINDS:
        known = ", ".join(KINDS)
        return None, [("dist", f"unknown distribution {kind!r} (known: {known})")]
    names = KINDS[kind][1]
    problems = [(k, f"unknown parameter for {kind} (expected: {', '.join(names)})")
                for k in spec if k != "dist" and k not in names]
    problems += [(n, f"missing parameter of {kind}") for n in names if n not in spec]
    if problems:
        return None, problems
    if kind == "empirical":
        return _parse_empirical(spec["values"])
    params = []
    for name in names:
        value, problem = _parse_param(name, spec[name])
        if problem:
            problems.append((name, problem))
        params.append((name, value))
    problems += _check_shape(kind, dict(params)) if not problems else []
    if problems:
        return None, problems
    dist = Dist(kind, tuple(params))
    return (dist, []) if _computable(dist) else (None, [("", f"{kind} parameters so extreme that "
                                                             "its mean or its sampling overflows")])


def _parse_param(name: str, raw: object) -> tuple[float, str | None]:
    if name in _DIMENSIONLESS:
        if not is_finite_number(raw):
            return 0.0, f"expected a number, got {reprlib.repr(raw)}"
        return float(raw), None
    try:
        return parse_duration(raw), None
    except ValueError as exc:
        return 0.0, str(exc)


def _parse_empirical(raw: object) -> tuple[Dist | None, list[tuple[str, str]]]:
    if not isinstance(raw, list) or not raw:
        return None, [("values", "expected a non-empty list of durations")]
    values, problems = [], []
    for i, item in enumerate(raw):
        try:
            values.append(parse_duration(item))
        except ValueError as exc:
            problems.append((f"values[{i}]", str(exc)))
    return (None if problems else Dist("empirical", (), tuple(values))), problems


def _computable(dist: Dist) -> bool:
    """Whether the mean and the sampler's parameters are finite numbers (a Weibull shape of
    0.001 has a mean of 1000! times its scale; a gamma cv of 1e-200 squares to 0)."""
    try:
        return all(math.isfinite(x) for x in (dist.mean, *dist.encode()[1]))
    except (OverflowError, ZeroDivisionError, ValueError):
        return False


def _check_shape(kind: str, p: dict[str, float]) -> list[tuple[str, str]]:
    """Parameter relations each distribution needs to be well defined."""
    if kind == "exponential" and p["mean"] <= 0:
        return [("mean", "must be > 0")]
    if kind == "uniform" and p["low"] > p["high"]:
        return [("high", "must be >= low")]
    if kind == "triangular" and not p["low"] <= p["mode"] <= p["high"]:
        return [("mode", "must satisfy low <= mode <= high")]
    if kind == "triangular" and p["low"] == p["high"]:
        return [("high", "must be > low")]
    if kind == "normal" and p["mean"] <= 0:
        return [("mean", "must be > 0 (the distribution is truncated at 0)")]
    if kind in ("lognormal", "gamma") and p["mean"] <= 0:
        return [("mean", "must be > 0")]
    if kind in ("lognormal", "gamma") and p["cv"] <= 0:
        return [("cv", "must be > 0")]
    if kind == "gamma" and p["cv"] > MAX_GAMMA_CV:
        return [("cv", f"must be <= {MAX_GAMMA_CV:g}: with a larger cv nearly every draw is 0")]
    if kind == "weibull" and p["shape"] <= 0:
        return [("shape", "must be > 0")]
    if kind == "weibull" and p["scale"] <= 0:
        return [("scale", "must be > 0")]
    return []


def _exponential_ziggurat(layers: int = 256, r: float = 7.69711747013104972,
                          v: float = 3.949659822581572e-3):
    """Tables of the ziggurat for the standard exponential (Marsaglia and Tsang, 2000) on 53-bit
    draws: layer i accepts a draw j < k[i] as j * w[i]; f[i] is the density at the layer's edge.
    `r` is the base layer's right edge and `v` each layer's area, for 256 layers."""
    scale = 2.0 ** 53
    k, w, f = np.zeros(layers, np.uint64), np.zeros(layers), np.zeros(layers)
    q = v / math.exp(-r)
    k[0], w[0], f[0] = int(r / q * scale), q / scale, 1.0
    w[-1], f[-1] = r / scale, math.exp(-r)
    edge, previous = r, r
    for i in range(layers - 2, 0, -1):
        edge = -math.log(v / edge + math.exp(-edge))
        k[i + 1] = int(edge / previous * scale)
        previous = edge
        f[i], w[i] = math.exp(-edge), edge / scale
    return r, k, w, f


ZIG_R, ZIG_K, ZIG_W, ZIG_F = _exponential_ziggurat()
_LAYER_MASK, _S11 = np.uint64(255), np.uint64(11)


@njit(cache=True)
def _standard_exponential(keys, counters, s):
    """Ziggurat: one draw of 64 bits (8 pick the layer, 53 the abscissa), accepted at once
    99 % of the time; no logarithm on that path, the engines' most frequent draw."""
    while True:
        bits = next_bits(keys, counters, s)
        i = bits & _LAYER_MASK
        j = bits >> _S11
        x = float(j) * ZIG_W[i]
        if j < ZIG_K[i]:
            return x
        if i == 0:  # the tail beyond r is r plus an exponential (memoryless)
            return ZIG_R - math.log(1.0 - uniform(keys, counters, s))
        if ZIG_F[i] + (ZIG_F[i - 1] - ZIG_F[i]) * uniform(keys, counters, s) < math.exp(-x):
            return x


@njit(cache=True)
def _standard_normal(keys, counters, s):
    """Box-Muller from two uniforms of stream `s` (the second variate is not kept)."""
    u1 = 1.0 - uniform(keys, counters, s)  # (0, 1]
    u2 = uniform(keys, counters, s)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def _standard_gamma(shape, keys, counters, s):
    """Marsaglia-Tsang; shape < 1 by the boost gamma(shape + 1) * u ** (1 / shape)."""
    boost = 1.0
    if shape < 1.0:
        boost = (1.0 - uniform(keys, counters, s)) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = _standard_normal(keys, counters, s)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = 1.0 - uniform(keys, counters, s)
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * boost


@njit(cache=True)
def sample(code, p0, p1, p2, pool, keys, counters, s):
    """One draw of the encoded distribution from stream `s` (seconds, >= 0)."""
    if code == CONSTANT:
        return p0
    if code == EXPONENTIAL:
        return p0 * _standard_exponential(keys, counters, s)
    if code == UNIFORM:
        return p0 + (p1 - p0) * uniform(keys, counters, s)
    if code == TRIANGULAR:
        u = uniform(keys, counters, s)
        cut = (p1 - p0) / (p2 - p0)
        if u < cut:
            return p0 + math.sqrt(u * (p2 - p0) * (p1 - p0))
        return p2 - math.sqrt((1.0 - u) * (p2 - p0) * (p2 - p1))
    if code == NORMAL:
        while True:
            x = p0 + p1 * _standard_normal(keys, counters, s)
            if x >= 0.0:
                return x
    if code == LOGNORMAL:
        return math.exp(p0 + p1 * _standard_normal(keys, counters, s))
    if code == GAMMA:
        return p1 * _standard_gamma(p0, keys, counters, s)
    if code == WEIBULL:
        return p1 * _standard_exponential(keys, counters, s) ** (1.0 / p0)
    # EMPIRICAL: p0 is the offset of the values in the pool, p1 their count
    n = int(p1)
    i = int(uniform(keys, counters, s) * n)
    return pool[int(p0) + min(i, n - 1)]
