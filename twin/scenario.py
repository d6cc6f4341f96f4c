"""Acceptance scenarios (SPEC §4): load, overrides, injections, criteria and verdicts.

A scenario names a line file, the window and replications, overrides by
dotted path into the line document, deterministic injections and criteria.
:func:`load_scenario` validates all of it (every problem at once, each naming
the file and field); :func:`run_scenario` simulates it, runs the paired
comparisons that `lost_output` and `recovery_time` need, and judges each
criterion by the confidence-interval rule.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twin.engines import MAX_REPLICATIONS
from twin.errors import InputError, Problem
from twin.kpis import LINE_KEYS, aggregate, criterion_key, summarize
from twin.model.load import read_document
from twin.model.types import PROCESSING_KINDS, Injection, Line
from twin.model.validate import number_id_problem, text_field, validate
from twin.units import parse_duration

ATTRIBUTIONS = ("supplier", "customer", "maintenance")
PAIRED_KPIS = ("lost_output", "recovery_time")
DEFAULT_RECOVERY_WINDOW = 900.0
#: criterion keys that do not apply to a paired kpi (to any other kpi: injection and window)
_MISPLACED = {"lost_output": ("station", "stat", "window"), "recovery_time": ("station", "stat")}
_TOP_KEYS = ("scenario", "line", "requirement", "description", "warmup", "duration", "replications",
             "seed", "overrides", "injections", "criteria")
_CRITERION_KEYS = ("id", "kpi", "station", "stat", "min", "max", "equals", "confidence", "injection",
                   "window", "description")
#: a list index in an override path: ASCII digits only (str.isdigit() also accepts '²'), and
#: few enough for int() (no line has a billion items)
_INDEX = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class Criterion:
    id: str
    kpi: str
    station: str | None = None
    stat: str | None = None
    bound: tuple[str, float] = ("min", 0.0)  # ("min" | "max" | "equals", value)
    confidence: float = 0.95
    injection: int | None = None
    window: float = DEFAULT_RECOVERY_WINDOW

    @property
    def key(self) -> str:
        """The KPI key it reads: `kpi_stat`, or `kpi` (or `kpi_mean` where only that exists)."""
        return criterion_key(self.kpi, self.station, self.stat)


@dataclass(frozen=True)
class Scenario:
    id: str
    file: str
    line: Line
    line_file: str
    requirement: str
    warmup: float
    duration: float
    replications: int
    seed: int
    injections: tuple[Injection, ...]
    criteria: tuple[Criterion, ...]
    raw: dict = field(compare=False, repr=False)
    line_sha256: str = ""
    scenario_sha256: str = ""


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------- loading
def load_scenario(path: str | Path) -> Scenario:
    """Read, resolve and validate a scenario file and the line it names."""
    file = str(path)
    raw = read_document(file)
    base = Path(file).resolve().parent
    line_ref = raw.get("line")
    if "stations" in raw and "scenario" not in raw:
        raise InputError.single(file, "", "a line file, not a scenario: give a scenario file "
                                          "(SPEC §4), which names its line file under `line`")
    if not isinstance(line_ref, str) or not line_ref:
        raise InputError.single(file, "line", "expected the path of a line file (relative to this file)")
    line_file = str((base / line_ref))
    try:
        line_raw = read_document(line_file)
    except InputError as exc:
        raise InputError([Problem(file, "line", f"cannot use line file {line_ref!r}: {p.path + ': ' if p.path else ''}{p.message}")
                          for p in exc.problems]) from None
    if "scenario" in line_raw and "stations" not in line_raw:
        raise InputError.single(file, "line", f"{line_ref!r} is a scenario file, not a line file: "
                                              "give the line file the scenario runs")
    scenario = from_documents(raw, file, line_raw, line_file)
    return _with_hashes(scenario, file, line_file)


def given(raw: dict, key: str, empty):
    """`raw[key]`, or `empty` when it is absent or null (`criteria:` with nothing after it); a
    0, false or '' is given, and reported as not a list or mapping, not read as none."""
    value = raw.get(key)
    return empty if value is None else value


def _with_hashes(scenario: Scenario, file: str, line_file: str) -> Scenario:
    from dataclasses import replace

    return replace(scenario, line_sha256=sha256_file(line_file), scenario_sha256=sha256_file(file))


def from_documents(raw: dict, file: str, line_raw: dict, line_file: str) -> Scenario:
    """Validate a scenario document against its line document (both already parsed)."""
    problems: list[Problem] = []
    add = lambda path, msg: problems.append(Problem(file, path, msg))  # noqa: E731
    for key in raw:
        if key not in _TOP_KEYS:
            add(str(key), f"unknown key (expected one of: {', '.join(_TOP_KEYS)})")
    scenario_id = raw.get("scenario")
    if not isinstance(scenario_id, str) or not scenario_id.strip() or len(scenario_id) > 100:
        add("scenario", "expected a scenario id of at most 100 characters (it names the bundle)")
    elif not scenario_id.isprintable():  # a line break or NUL would break the one-line verdicts
        add("scenario", f"the scenario id {scenario_id!r} holds a control character (a line break, "
                        "a tab, ...): it is printed on one line and names the bundle")
    requirement = text_field(raw, "requirement", add)
    text_field(raw, "description", add)
    resolved = apply_overrides(line_raw, given(raw, "overrides", {}), file, problems)
    line = None
    try:
        line = validate(resolved, line_file if not raw.get("overrides") else f"{line_file} (with overrides of {file})")
    except InputError as exc:
        problems.extend(exc.problems)
    warmup = _duration(raw, "warmup", 3600.0, add)
    duration = _duration(raw, "duration", 8 * 3600.0, add)
    if duration == 0:
        add("duration", "must be greater than 0")
    replications = _integer(raw, "replications", 10, add, minimum=1, maximum=MAX_REPLICATIONS)
    seed = _integer(raw, "seed", 1, add)
    injections = _injections(given(raw, "injections", []), line, warmup + duration, add) if line else ()
    criteria = _criteria(given(raw, "criteria", []), line, injections, warmup + duration, add) if line else ()
    if problems:
        raise InputError(problems)
    return Scenario(id=scenario_id, file=file, line=line, line_file=line_file,
                    requirement=requirement, warmup=warmup, duration=duration,
                    replications=replications, seed=seed, injections=injections, criteria=criteria,
                    raw=raw)


def _duration(raw: dict, key: str, default: float, add) -> float:
    if key not in raw:
        return default
    try:
        return parse_duration(raw[key])
    except ValueError as exc:
        add(key, str(exc))
        return default


def _integer(raw: dict, key: str, default: int, add, minimum: int | None = None,
             maximum: int | None = None) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        add(key, f"expected a whole number, got {value!r}")
        return default
    if minimum is not None and value < minimum:
        add(key, f"must be at least {minimum}, got {value}")
        return default
    if maximum is not None and value > maximum:
        add(key, f"at most {maximum:,}, got {value:,}")
        return default
    return value


def apply_overrides(line_raw: dict, overrides, file: str, problems: list[Problem]) -> dict:
    """A copy of the line document with each `dotted.path: value` set.

    A list segment selects an item by its `id` or `name`, else by index (see
    :func:`_list_index`). A path that does not lead into the document is a problem.
    Only the mappings and lists along each path are copied: a value the file shares
    between stations (a YAML anchor and its aliases) changes only where the path
    points, and a document of any depth or size copies in no time.
    """
    resolved = copy.copy(line_raw)
    if not isinstance(overrides, dict):
        problems.append(Problem(file, "overrides", "expected a mapping of dotted paths to values"))
        return resolved
    set_at: dict[tuple, str] = {}  # the field each path reached (list items by index), and the path
    for path, value in overrides.items():
        field = []
        error = _set_path(resolved, str(path).split("."), value, field)
        if error:
            problems.append(Problem(file, f"overrides.{path}", error))
            continue
        for other_field, other in set_at.items():  # `stations.1.servers` and `stations.m1.servers`
            shorter = min(len(field), len(other_field))
            if tuple(field[:shorter]) == other_field[:shorter]:
                problems.append(Problem(file, f"overrides.{path}", f"sets what {other} sets too: "
                                                                   "which one holds would depend on their order"))
                break
        set_at[tuple(field)] = str(path)
    return resolved


def _set_path(doc, segments: list[str], value, field: list) -> str | None:
    """Set `value` at the path; append each key or list index reached to `field`; the problem."""
    node = doc
    for depth, segment in enumerate(segments):
        last = depth == len(segments) - 1
        where = ".".join(segments[:depth]) or "the line"
        if isinstance(node, dict):
            field.append(segment)
            if last:
                node[segment] = value
                return None
            if segment not in node:
                return f"no field {segment!r} in {where}"
            node[segment] = copy.copy(node[segment])
            node = node[segment]
        elif isinstance(node, list):
            index = _list_index(node, segment)
            if index is None:
                return f"no item {segment!r} in {where} (use an index, an id or a name)"
            field.append(index)
            if last:
                node[index] = value
                return None
            node[index] = copy.copy(node[index])
            node = node[index]
        else:
            return f"{where} is a {type(node).__name__}, not a mapping or list"
    return "empty path"


def _list_index(items: list, segment: str) -> int | None:
    """The item a path segment selects; ids may be all digits, so an id or name wins over an index.

    In a list of items with ids or names (stations, products and resources by
    `id`, failures by `name`), a segment equal to an item's id or name selects
    that item; otherwise a segment of ASCII digits selects by index. With
    stations "30" and "1", `stations.1` is station "1" and `stations.0` is "30".
    """
    for i, item in enumerate(items):
        if isinstance(item, dict) and segment in (item.get("id"), item.get("name")):
            return i
    if _INDEX.fullmatch(segment) and int(segment) < len(items):
        return int(segment)
    return None


def _station_problem(station, line: Line) -> str | None:
    """What is wrong with a `station` field, if anything; a list or map never reaches a set lookup."""
    if not isinstance(station, str):
        return number_id_problem(station, "station") or \
            f"expected a station id (text), got {type(station).__name__}"
    if station not in {s.id for s in line.stations}:
        return f"unknown station {station!r}"
    return None


def _injections(specs, line: Line, horizon: float, add) -> tuple[Injection, ...]:
    if not isinstance(specs, list):
        add("injections", "expected a list")
        return ()
    out = []
    for i, spec in enumerate(specs):
        path = f"injections[{i}]"
        if not isinstance(spec, dict):
            add(path, "expected a mapping {at, station | all, down_for, reason, attribution}")
            continue
        for key in spec:
            if key not in ("at", "station", "all", "down_for", "reason", "attribution"):
                add(f"{path}.{key}", "unknown key")
        at = _duration(spec, "at", math.nan, lambda p, m: add(f"{path}.{p}", m))
        down_for = _duration(spec, "down_for", math.nan, lambda p, m: add(f"{path}.{p}", m))
        for key in ("at", "down_for"):
            if key not in spec:
                add(f"{path}.{key}", "required")
        if at >= horizon:
            add(f"{path}.at", f"starts at or after the end of the run ({horizon:g} s after the start)")
        if down_for == 0:
            add(f"{path}.down_for", "must be greater than 0")
        station = spec.get("station")
        if spec.get("all") is True:
            if station is not None:
                add(path, "give either `station` or `all: true`, not both")
            station = None
        elif station is None:
            add(path, "give the `station` that goes down, or `all: true`")
        elif problem := _station_problem(station, line):
            add(f"{path}.station", problem)
        elif line.station(station).kind not in PROCESSING_KINDS:
            add(f"{path}.station", f"{station!r} is a {line.station(station).kind}; only machines "
                                   "and conveyors can go down")
        attribution = spec.get("attribution", "supplier")
        if attribution not in ATTRIBUTIONS:
            add(f"{path}.attribution", f"expected one of {', '.join(ATTRIBUTIONS)}")
        reason = text_field(spec, "reason", lambda p, m: add(f"{path}.{p}", m))
        out.append(Injection(at, station, down_for, reason, attribution))
    return tuple(out)


def _criteria(specs, line: Line, injections, horizon: float, add) -> tuple[Criterion, ...]:
    from twin.kpis import BUFFER_KEYS, STATION_KEYS

    if not isinstance(specs, list):
        add("criteria", "expected a list")
        return ()
    out, seen = [], set()
    for i, spec in enumerate(specs):
        path = f"criteria[{i}]"
        if not isinstance(spec, dict):
            add(path, "expected a mapping {id, kpi, min | max | equals, ...}")
            continue
        for key in spec:
            if key not in _CRITERION_KEYS:
                add(f"{path}.{key}", f"unknown key (expected: {', '.join(_CRITERION_KEYS)})")
        cid = spec.get("id", f"C{i + 1}")
        if isinstance(cid, bool) or not isinstance(cid, (str, int)) or not str(cid).strip():
            add(f"{path}.id", f"expected a text id such as C{i + 1}, got {cid!r}")
        cid = str(cid)
        if cid in seen:
            add(f"{path}.id", f"duplicate criterion id {cid!r}")
        seen.add(cid)
        text_field(spec, "description", lambda p, m: add(f"{path}.{p}", m))
        bounds = [k for k in ("min", "max", "equals") if k in spec]
        if len(bounds) != 1:
            add(path, "give exactly one of min, max, equals")
            continue
        kind = bounds[0]
        try:
            value = _bound(kind, spec[kind])
        except ValueError as exc:
            add(f"{path}.{kind}", str(exc))
            continue
        if spec.get("kpi") is None:
            add(f"{path}.kpi", "required: the KPI to judge, e.g. throughput")
            continue
        confidence = spec.get("confidence", 0.95)
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
            add(f"{path}.confidence", "expected a level between 0 and 1, e.g. 0.95")
            confidence = 0.95
        station = spec.get("station")
        criterion = Criterion(id=cid, kpi=str(spec.get("kpi")), station=station, stat=spec.get("stat"),
                              bound=(kind, value), confidence=float(confidence),
                              injection=spec.get("injection"),
                              window=_duration(spec, "window", DEFAULT_RECOVERY_WINDOW,
                                               lambda p, m: add(f"{path}.{p}", m)))
        if criterion.window <= 0:
            add(f"{path}.window", "expected a window longer than 0 s (deliveries are compared over "
                                  "it), e.g. 15min")
        for key in _MISPLACED.get(criterion.kpi, ("injection", "window")):
            if key in spec:
                add(f"{path}.{key}", f"does not apply to kpi {criterion.kpi!r}")
        if criterion.kpi in PAIRED_KPIS:
            k = criterion.injection
            if not injections:
                add(f"{path}.injection", f"{criterion.kpi} compares runs with and without an "
                                         "injection, but the scenario has no injections")
                continue
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(injections):
                add(f"{path}.injection", f"{criterion.kpi} needs the index of an injection "
                                         f"(0..{len(injections) - 1})")
                continue
            if criterion.kpi == "recovery_time" and injections[k].at + injections[k].down_for >= horizon:
                add(f"{path}.injection", f"injection {k} lasts to the end of the run: there is no "
                                         "recovery to measure (end it earlier or run longer)")
                continue
        elif station is not None:
            if problem := _station_problem(station, line):
                add(f"{path}.station", problem)
                continue
            kind_keys = BUFFER_KEYS if line.station(station).kind == "buffer" else STATION_KEYS + (
                "technical_availability",)
            if line.station(station).kind not in PROCESSING_KINDS + ("buffer",):
                add(f"{path}.station", f"{station!r} is a {line.station(station).kind}: it has no KPIs")
                continue
            if criterion.key not in kind_keys:
                add(f"{path}.kpi", f"unknown station KPI {criterion.key!r} (known: {', '.join(kind_keys)})")
                continue
        elif criterion.key not in LINE_KEYS:
            add(f"{path}.kpi", f"unknown line KPI {criterion.key!r} (known: "
                               f"{', '.join(LINE_KEYS + PAIRED_KPIS)}; station KPIs need `station`)")
            continue
        out.append(criterion)
    return tuple(out)


def _bound(kind: str, value) -> float:
    """A criterion's bound as a finite float: a verdict and its evidence need a number to compare."""
    if kind == "equals" and isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"expected a number or a duration: {exc}") from None
    if not abs(value) <= sys.float_info.max:  # inf, NaN, or an int too large for a float
        raise ValueError("expected a finite number")
    return float(value)


# ---------------------------------------------------------------------------- running
@dataclass
class Outcome:
    """A simulated scenario: results, KPIs and the verdict of every criterion."""

    scenario: Scenario
    engine: str
    results: list  # ReplicationResult, replication 0 with its trace
    kpis: dict
    criteria: list[dict]
    verdict: str
    paired: dict[int, list] = field(default_factory=dict)  # injection index -> paired results


def paired_injections(scenario: Scenario) -> list[int]:
    """Indices of the injections some criterion compares against a paired run without them."""
    return sorted({c.injection for c in scenario.criteria if c.kpi in PAIRED_KPIS})


def replications_to_run(scenario: Scenario) -> int:
    """Replications :func:`run_scenario` simulates: the scenario's, and each paired run's."""
    return scenario.replications * (1 + len(paired_injections(scenario)))


def run_scenario(scenario: Scenario, engine: str = "fast", progress=None,
                 workers: int | None = None) -> Outcome:
    """Simulate the scenario and its paired runs, then judge every criterion.

    `progress` is called with the replications done so far, out of
    :func:`replications_to_run`; `workers` is passed to `twin.engines.simulate`.
    """
    from twin.engines import simulate

    sc = scenario
    paired_needed = paired_injections(sc)

    def runs(injections, offset, **options):
        step = None if progress is None else (lambda done: progress(offset + done))
        return simulate(sc.line, sc.warmup, sc.duration, sc.replications, sc.seed, engine=engine,
                        injections=injections, exits=bool(paired_needed), progress=step,
                        workers=workers, **options)

    results = runs(sc.injections, 0, trace=True)
    paired = {k: runs(sc.injections[:k] + sc.injections[k + 1:], (i + 1) * sc.replications)
              for i, k in enumerate(paired_needed)}
    kpis = aggregate(sc.line, results, sc.duration)
    add_technical_availability(kpis, sc, results)
    verdicts = [judge(c, measured_values(c, sc, kpis, results, paired)) for c in sc.criteria]
    verdict = "pass" if all(v["verdict"] == "pass" for v in verdicts) else "fail"
    return Outcome(sc, engine, results, kpis, verdicts, verdict, paired)


def add_technical_availability(kpis: dict, scenario: Scenario, results: list) -> None:
    """Availability excluding customer-attributed downtime (VDI 3423), per station.

    Customer-attributed injected downtime inside the window is removed from
    the planned busy time as well as from the down time.
    """
    window = (scenario.warmup, scenario.warmup + scenario.duration)
    for sid, station_kpis in kpis["stations"].items():
        if "availability" not in station_kpis:
            continue
        customer = _covered([(inj.at, inj.at + inj.down_for) for inj in scenario.injections
                             if inj.attribution == "customer"
                             and sid in scenario.line.injected_stations(inj)], *window)
        values = []
        for rep, avail in enumerate(station_kpis["availability"]["per_replication"]):
            off = station_kpis["off"]["per_replication"][rep] * scenario.duration
            planned = scenario.duration - off - customer
            working = avail * (scenario.duration - off)
            values.append(working / planned if planned > 0 else 0.0)
        station_kpis["technical_availability"] = summarize(values)


def _covered(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Length of the union of `intervals` inside [lo, hi] (overlapping outages count once)."""
    total, reach = 0.0, lo
    for a, b in sorted(intervals):
        a, b = max(a, reach), min(b, hi)
        if b > a:
            total += b - a
            reach = b
    return total


def measured_values(c: Criterion, sc: Scenario, kpis: dict, results: list, paired: dict) -> list[float]:
    """Per-replication values of the KPI a criterion reads."""
    if c.kpi == "lost_output":
        return [float(p.completed - r.completed) for r, p in zip(results, paired[c.injection])]
    if c.kpi == "recovery_time":
        inj = sc.injections[c.injection]
        end = inj.at + inj.down_for
        horizon = sc.warmup + sc.duration
        return [recovery_time(r.exit_times, p.exit_times, end, c.window, horizon)
                for r, p in zip(results, paired[c.injection])]
    table = kpis["stations"][c.station] if c.station else kpis["line"]
    return [math.nan if v is None else v for v in table[c.key]["per_replication"]]


def recovery_time(injected: np.ndarray, paired: np.ndarray, end: float, window: float,
                  horizon: float, share: float = 0.95) -> float:
    """Least t >= 0 with injected deliveries in [end+t, end+t+w] >= 95 % of the paired run's.

    The counts only change where a window edge meets a delivery, so they are
    constant between consecutive such points: trying each point and one
    instant between it and the next finds the least t (an infimum when the
    condition holds just after a point). If none qualifies before the
    horizon, the whole rest of the run is returned.
    """
    points = {0.0}
    for times in (injected, paired):
        points.update(t - end for t in times if t >= end)
        points.update(t - end - window for t in times if t - window >= end)
    ordered = sorted(p for p in points if end + p < horizon) + [max(horizon - end, 0.0)]
    for here, after in zip(ordered, ordered[1:]):
        for t in (here, (here + after) / 2):
            width = min(window, horizon - end - t)  # a window is clipped at the end of the run
            if _delivered(injected, end + t, width) >= share * _delivered(paired, end + t, width):
                return float(here)
    return float(max(horizon - end, 0.0))


def _delivered(times: np.ndarray, start: float, window: float) -> int:
    return int(np.count_nonzero((times >= start) & (times <= start + window)))


def judge(c: Criterion, values: list[float]) -> dict:
    """A criterion passes when its whole interval lies on the right side of the bound."""
    stats = summarize(values, c.confidence)
    kind, bound = c.bound
    if any(math.isnan(v) for v in values):  # a replication without data cannot show compliance
        return _verdict(c, stats, passed=False, margin=None)
    mean = stats["mean"]
    lo, hi = stats["ci95"]
    if kind == "min":
        passed, margin = lo >= bound, mean - bound
    elif kind == "max":
        passed, margin = hi <= bound, bound - mean
    else:
        passed = all(v == bound for v in values)
        margin = -max(abs(v - bound) for v in values)
    return _verdict(c, stats, passed, margin)


def _verdict(c: Criterion, stats: dict, passed: bool, margin: float | None) -> dict:
    kind, bound = c.bound
    lo, hi = stats["ci95"]
    mean = stats["mean"]
    return {"id": c.id, "kpi": c.kpi, "station": c.station, "stat": c.stat,
            "bound": {kind: bound}, "confidence": c.confidence, "measured": mean,
            "ci95": [lo, hi], "margin": margin, "per_replication": stats["per_replication"],
            "verdict": "pass" if passed else "fail"}
