"""Small helpers shared by the tests: lines from YAML text, runs, KPIs."""

from __future__ import annotations

import textwrap

import yaml

from twin.engines import simulate
from twin.kpis import aggregate
from twin.model.validate import validate


def line_from_yaml(text: str, name: str = "<test>"):
    return validate(yaml.safe_load(textwrap.dedent(text)), name)


def run_kpis(line, *, warmup: float, duration: float, replications: int, seed: int = 1,
             engine: str = "reference") -> dict:
    results = simulate(line, warmup, duration, replications, seed, engine=engine)
    return aggregate(line, results, duration)


def within_interval(kpi: dict, theory: float, widen: float = 1.0) -> bool:
    """Whether `theory` lies in the KPI's confidence interval (optionally widened)."""
    lo, hi = kpi["ci95"]
    half = (hi - lo) / 2 * widen
    return abs(kpi["mean"] - theory) <= half
