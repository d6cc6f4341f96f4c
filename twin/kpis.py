"""State times and counts → the KPI keys of SPEC §5; statistics over replications.

Per replication, :func:`replication_kpis` turns one `ReplicationResult` into
plain numbers; :func:`summarize` turns a list of them into
``{"mean", "ci95", "per_replication"}`` with a Student-t interval.
Ratios whose denominator is zero (nothing produced, no time worked) are 0;
lead-time statistics of a replication without finished parts are NaN (null in
JSON) and left out of the mean.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special  # not scipy.stats: importing it takes a second of every start

from twin import lead_times
from twin.accounting import STATES
from twin.model.types import BUFFER, CONVEYOR, PROCESSING_KINDS, Line
from twin.results import ReplicationResult

LINE_KEYS = ("throughput", "completed", "scrapped", "scrap_rate", "lead_time_mean", "lead_time_p50",
             "lead_time_p95", "lead_time_max", "wip_mean", "wip_max", "deadlock")
STATION_KEYS = STATES + ("availability", "performance", "quality", "oee", "produced", "good",
                         "scrapped")
BUFFER_KEYS = ("occupancy_mean", "occupancy_max", "full", "empty")


def criterion_key(kpi: str, station: str | None, stat: str | None) -> str:
    """The KPI key a criterion reads (SPEC §5): `kpi_stat`; without a stat `kpi`, or `kpi_mean`
    where only that exists (the line's `wip`, a buffer's `occupancy`)."""
    if stat:
        return f"{kpi}_{stat}"
    keys = LINE_KEYS if station is None else BUFFER_KEYS
    return f"{kpi}_mean" if kpi not in keys and f"{kpi}_mean" in keys else kpi


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def line_kpis(res: ReplicationResult, duration: float) -> dict[str, float]:
    lead = lead_times.summary(res.lead_times)
    return {
        "throughput": res.completed * 3600.0 / duration,
        "completed": float(res.completed),
        "scrapped": float(res.scrapped),
        "scrap_rate": _ratio(res.scrapped, res.scrapped + res.completed),
        "lead_time_mean": lead["mean"],
        "lead_time_p50": lead["p50"],
        "lead_time_p95": lead["p95"],
        "lead_time_max": lead["max"],
        "wip_mean": res.wip_area / duration,
        "wip_max": float(res.wip_max),
        "deadlock": 1.0 if res.deadlock else 0.0,
    }


def station_kpis(line: Line, res: ReplicationResult, n: int, duration: float) -> dict[str, float]:
    """State fractions (averaged over servers) and ISO 22400-2 ratios of node `n`."""
    station = line.stations[n]
    server_time = station.places * duration
    out = {state: float(res.state_time[n, k] / server_time) for k, state in enumerate(STATES)}
    working_time = float(res.state_time[n, 0])  # server-seconds: servers × APT
    planned = server_time - float(res.state_time[n, STATES.index("off")])
    produced_by_product = res.produced[n]
    produced = int(produced_by_product.sum())
    scrapped = int(res.scrapped_at[n])
    ideal = ideal_cycle_times(line, n)
    out["availability"] = _ratio(working_time, planned)
    out["performance"] = _ratio(float(np.dot(ideal, produced_by_product)), working_time)
    out["quality"] = _ratio(produced - scrapped, produced)
    out["oee"] = out["availability"] * out["performance"] * out["quality"]
    out["produced"] = float(produced)
    out["good"] = float(produced - scrapped)
    out["scrapped"] = float(scrapped)
    return out


def ideal_cycle_times(line: Line, n: int) -> np.ndarray:
    """Ideal cycle time per product of node `n` (a conveyor's: its mean travel time)."""
    station = line.stations[n]
    if station.kind == CONVEYOR:
        return np.full(len(line.products), station.travel_time.mean)
    return np.array([station.ideal_cycle_time.get(p, 0.0) for p in line.product_ids])  # 0: never here


def buffer_kpis(res: ReplicationResult, n: int, duration: float) -> dict[str, float]:
    return {
        "occupancy_mean": float(res.level_area[n] / duration),
        "occupancy_max": float(res.level_max[n]),
        "full": float(res.full_time[n] / duration),
        "empty": float(res.empty_time[n] / duration),
    }


def replication_kpis(line: Line, res: ReplicationResult, duration: float) -> dict:
    """All KPIs of one replication: {"line": {...}, "stations": {id: {...}}}."""
    stations = {}
    for n, station in enumerate(line.stations):
        if station.kind in PROCESSING_KINDS:
            stations[station.id] = station_kpis(line, res, n, duration)
        elif station.kind == BUFFER:
            stations[station.id] = buffer_kpis(res, n, duration)
    return {"line": line_kpis(res, duration), "stations": stations}


def summarize(values: list[float], confidence: float = 0.95) -> dict:
    """Mean, Student-t interval and the values; NaNs (no data) are left out of both."""
    finite = np.array([v for v in values if not math.isnan(v)], np.float64)
    per_replication = [None if math.isnan(v) else float(v) for v in values]
    if finite.size == 0:
        return {"mean": None, "ci95": [None, None], "per_replication": per_replication}
    mean = float(finite.mean())
    if finite.size == 1:
        return {"mean": mean, "ci95": [mean, mean], "per_replication": per_replication}
    half = float(special.stdtrit(finite.size - 1, 0.5 + confidence / 2)  # = stats.t.ppf
                 * finite.std(ddof=1) / math.sqrt(finite.size))
    return {"mean": mean, "ci95": [mean - half, mean + half], "per_replication": per_replication}


def aggregate(line: Line, results: list[ReplicationResult], duration: float) -> dict:
    """KPIs over replications with the keys of SPEC §5 (`kpis.line`, `kpis.stations.<id>`)."""
    per_rep = [replication_kpis(line, r, duration) for r in results]
    out = {"line": {k: summarize([p["line"][k] for p in per_rep]) for k in LINE_KEYS},
           "stations": {}}
    for sid, first in per_rep[0]["stations"].items():
        out["stations"][sid] = {k: summarize([p["stations"][sid][k] for p in per_rep]) for k in first}
    return out
