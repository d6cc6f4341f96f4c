"""Plain-text KPI tables for the terminal (no logic beyond formatting)."""

from __future__ import annotations

from twin.units import format_duration

_LABELS = {"occupancy_mean": "occ. mean", "occupancy_max": "occ. max", "availability": "avail.",
           "performance": "perf.", "waiting_resource": "wait res."}
_TIME_KEYS = {"lead_time_mean", "lead_time_p50", "lead_time_p95", "lead_time_max"}
_FRACTION_KEYS = {"working", "setup", "down", "blocked", "starved", "off", "waiting_resource",
                  "availability", "performance", "quality", "oee", "full", "empty", "scrap_rate"}


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key in _TIME_KEYS:
        return format_duration(value)
    if key in _FRACTION_KEYS:
        return f"{100 * value:.1f}%"
    return f"{value:.2f}" if abs(value) < 1e6 else f"{value:.4g}"


def _kpi_cell(key: str, kpi: dict) -> str:
    lo, hi = kpi["ci95"]
    if lo is None or lo == hi:
        return _fmt(key, kpi["mean"])
    return f"{_fmt(key, kpi['mean'])} [{_fmt(key, lo)}, {_fmt(key, hi)}]"


def line_table(kpis: dict) -> str:
    rows = [(key, _kpi_cell(key, kpi)) for key, kpi in kpis["line"].items()]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def station_table(kpis: dict, columns: tuple[str, ...]) -> str:
    """One row per station: the mean of each column (absent ones blank)."""
    names = list(kpis["stations"])
    if not names:
        return ""
    width = max(len(n) for n in names + ["station"])
    head = f"  {'station':<{width}}" + "".join(f" {_LABELS.get(c, c):>11}" for c in columns)
    lines = [head]
    for name in names:
        cells = []
        for c in columns:
            kpi = kpis["stations"][name].get(c)
            cells.append(f" {'' if kpi is None else _fmt(c, kpi['mean']):>11}")
        lines.append(f"  {name:<{width}}" + "".join(cells))
    return "\n".join(lines)


def kpi_report(title: str, kpis: dict) -> str:
    """The `twin run` table: line KPIs (mean [95 % CI]), then machines and buffers."""
    machine_cols = ("working", "setup", "down", "blocked", "starved", "availability",
                    "performance", "oee", "produced")
    buffer_cols = ("occupancy_mean", "occupancy_max", "full", "empty")
    machines = {k: v for k, v in kpis["stations"].items() if "oee" in v}
    buffers = {k: v for k, v in kpis["stations"].items() if "full" in v}
    parts = [title, "", "Line (mean [95% CI]; times in h/min/s, rates per hour)", line_table(kpis)]
    if machines:
        parts += ["", "Stations (means)", station_table({"stations": machines}, machine_cols)]
    if buffers:
        parts += ["", "Buffers (means)", station_table({"stations": buffers}, buffer_cols)]
    return "\n".join(parts)
