"""Parameter sweeps (SPEC §7): grids of overrides × replications, run locally or on Dask.

A sweep has three layers, in this order:

1. *describe*: :func:`parse_params` reads the ``--param PATH=V1,V2,...`` texts;
   :func:`build_sweep` builds every grid point's line (line document, then the
   scenario's overrides, then the point's) and validates all of them before
   anything runs, raising one :class:`InputError` with every problem;
2. *run*: :func:`run_sweep` hands each point to :func:`run_point` (a picklable
   top-level task) on a process pool, in-process, or on a Dask cluster, saves
   each finished point under ``DIR/.points/`` and skips points already saved
   with the same settings (resume);
3. *write*: :func:`write_outputs` writes ``points.csv``, ``summary.csv`` and
   ``plots/``.

Every point uses the same seed, so replication r of every point sees the same
random numbers at every node the point does not change (common random
numbers): differences between points are differences of the line, not of luck.
Results are ordered by point index, never by completion order, so every
backend gives identical files.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import yaml

from twin import __version__
from twin.errors import InputError, Problem, not_a_folder
from twin.kpis import LINE_KEYS, replication_kpis, summarize
from twin.model.load import read_document
from twin.model.types import Line
from twin.model.validate import validate
from twin.scenario import Scenario, apply_overrides, from_documents, given, judge, run_scenario

#: the defaults of `twin run` (SPEC §7), used where neither option nor scenario says otherwise
RUN_DEFAULTS = {"warmup": 3600.0, "duration": 8 * 3600.0, "replications": 10, "seed": 1,
                "engine": "fast"}
POINTS_DIR = ".points"
TABLES = ("points.csv", "summary.csv")
#: the most points a sweep takes: checking them alone takes about 1 ms each, and a larger grid
#: is more likely a slip (a range typed with one digit too many) than a plan
MAX_POINTS = 100_000
CLUSTER_HINT = "pip install -e '.[cluster]'"


# ----------------------------------------------------------------------------- describing
@dataclass(frozen=True)
class Param:
    """One swept parameter: a dotted path into the line document and its values, in order."""

    path: str
    values: tuple


@dataclass(frozen=True)
class Settings:
    """What every point shares: window, replications, seed (common random numbers), engine."""

    warmup: float
    duration: float
    replications: int
    seed: int
    engine: str = "fast"


@dataclass(frozen=True)
class Point:
    """One grid point: its parameter values, its validated line and (with a scenario) scenario.

    `key` is the first 12 hex digits of the sha256 over the point's parameters
    and everything that decides its results; a saved point is reused only
    when its key matches.
    """

    index: int
    values: tuple
    line: Line
    scenario: Scenario | None
    settings: Settings
    key: str

    @property
    def file_name(self) -> str:
        return f"{self.index}-{self.key}.json"


@dataclass(frozen=True)
class Sweep:
    """A validated grid, ready to run: points in itertools.product order of the params."""

    line_id: str
    params: tuple[Param, ...]
    points: tuple[Point, ...]
    settings: Settings
    criteria: tuple[str, ...] = ()  # criterion ids, in the scenario's order (empty without one)


def parse_param(text: str) -> Param:
    """``PATH=V1,V2,...`` → Param; each value is read as a YAML scalar (``12`` int, ``4h`` str).

    Raises InputError naming ``--param`` and the text when the syntax is wrong.

    Examples
    --------
    >>> parse_param("stations.b1.capacity=4,8")
    Param(path='stations.b1.capacity', values=(4, 8))
    >>> parse_param("stations.op30.failures.0.ttr.mean=10min,0.5h").values
    ('10min', '0.5h')
    """
    def bad(message: str) -> InputError:
        return InputError.single("--param", text, message)

    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep:
        raise bad("expected PATH=V1,V2,... (e.g. stations.b1.capacity=4,8,12)")
    if not path or not all(s.strip() == s and s for s in path.split(".")):
        raise bad(f"expected a dotted path before '=', such as stations.b1.capacity, got {path!r}")
    values, seen = [], set()
    for item in (part.strip() for part in rest.split(",")):
        if not item:
            raise bad("empty value: give one or more values separated by commas")
        try:
            value = yaml.safe_load(item)
        except yaml.YAMLError:
            raise bad(f"value {item!r} is not a YAML scalar") from None
        except ValueError:  # an integer of over 4300 digits (Python's limit for reading one)
            raise bad(f"value {item[:20]}... ({len(item)} characters) is a number too long to read") from None
        if not isinstance(value, (bool, int, float, str)) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise bad(f"value {item!r} is not a YAML scalar (a number, a duration or a word)")
        if repr(value) in seen:
            raise bad(f"value {item!r} is given twice")
        seen.add(repr(value))
        values.append(value)
    return Param(path, tuple(values))


def parse_params(texts: list[str]) -> tuple[Param, ...]:
    """Every ``--param`` text, in the order given; all problems reported at once."""
    params, problems = [], []
    for text in texts:
        try:
            param = parse_param(text)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if any(p.path == param.path for p in params):
            problems.append(Problem("--param", text, f"{param.path} is swept twice"))
        params.append(param)
    if not params and not problems:
        problems.append(Problem("--param", "", "give at least one PATH=V1,V2,..."))
    points = math.prod(len(p.values) for p in params)
    if points > MAX_POINTS:
        problems.append(Problem("--param", " × ".join(p.path for p in params),
                                f"a grid of {points:,} points: at most {MAX_POINTS:,} (each point "
                                "is checked, then run over its replications)"))
    if problems:
        raise InputError(problems)
    return tuple(params)


def resolve_settings(scenario: Scenario | None = None, **given) -> Settings:
    """Options given explicitly (not None) win over the scenario, which wins over RUN_DEFAULTS."""
    chosen = dict(RUN_DEFAULTS)
    if scenario is not None:
        chosen.update(warmup=scenario.warmup, duration=scenario.duration,
                      replications=scenario.replications, seed=scenario.seed)
    chosen.update({k: v for k, v in given.items() if v is not None})
    if chosen["duration"] <= 0:
        raise InputError.single("--duration", "", "must be greater than 0")
    return Settings(**chosen)


def build_sweep(line_file: str | Path, params: tuple[Param, ...], settings: Settings,
                scenario: Scenario | None = None) -> Sweep:
    """Build and validate every grid point; any bad point raises InputError with every problem.

    A point's line document is the line file's, then the scenario's overrides,
    then the point's own (``apply_overrides`` in that order). With a scenario,
    its injections and criteria are checked against every point's line too.
    """
    line_file = str(line_file)
    base = read_document(line_file)
    problems: list[Problem] = []
    if scenario is not None:
        base = apply_overrides(base, given(scenario.raw, "overrides", {}), scenario.file, problems)
    if problems:
        raise InputError(problems)
    base_line = validate(base, line_file)
    points = []
    for index, values in enumerate(itertools.product(*(p.values for p in params))):
        point = _build_point(index, values, params, base, line_file, settings, scenario, problems)
        if point is not None:
            points.append(point)
    if problems:
        raise InputError(list(dict.fromkeys(problems)))  # one path error shows in many points
    criteria = tuple(c.id for c in scenario.criteria) if scenario is not None else ()
    return Sweep(base_line.id, tuple(params), tuple(points), settings, criteria)


def _build_point(index: int, values: tuple, params, base: dict, line_file: str, settings: Settings,
                 scenario: Scenario | None, problems: list[Problem]) -> Point | None:
    overrides = {p.path: v for p, v in zip(params, values)}
    found: list[Problem] = []
    doc = apply_overrides(base, overrides, "--param", found)
    if found:  # apply_overrides names scenario fields (overrides.PATH); here PATH is the option's
        problems.extend(Problem(p.file, p.path.removeprefix("overrides."), p.message) for p in found)
        return None
    label = f"{line_file} with " + ", ".join(f"{p}={_cell(v)}" for p, v in overrides.items())
    try:
        line = validate(doc, label)
        point_scenario = None
        if scenario is not None:
            point_scenario = from_documents({**scenario.raw, "overrides": {}}, scenario.file, doc, label)
            point_scenario = replace(point_scenario, warmup=settings.warmup, duration=settings.duration,
                                     replications=settings.replications, seed=settings.seed)
    except InputError as exc:
        problems.extend(exc.problems)
        return None
    key = point_key(overrides, doc, settings, point_scenario)
    return Point(index, tuple(values), line, point_scenario, settings, key)


def point_key(overrides: dict, doc: dict, settings: Settings, scenario: Scenario | None) -> str:
    """12 hex digits of sha256 over the parameters, the resolved line document and the settings."""
    payload = {
        "params": [[path, value] for path, value in overrides.items()],
        "line": doc,
        "settings": asdict(settings),
        "injections": [asdict(i) for i in scenario.injections] if scenario else [],
        "criteria": [asdict(c) for c in scenario.criteria] if scenario else [],
        "twin": __version__,
    }
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# ----------------------------------------------------------------------------- running
def run_point(point: Point) -> dict:
    """Simulate one point over all replications: the task every backend runs.

    A top-level function of plain, picklable data. Without a scenario it runs
    ``simulate``; with one, ``twin.scenario.run_scenario`` (injections, the
    paired runs of `lost_output` / `recovery_time`, verdicts). Returns a
    JSON-ready dict: per-replication line KPIs (NaN as None) and, with a
    scenario, every criterion's verdict at this point and per replication.
    A point runs on one thread: the backends run points side by side.
    """
    s = point.settings
    criteria, verdict = [], None
    if point.scenario is None:
        from twin.engines import simulate

        results = simulate(point.line, s.warmup, s.duration, s.replications, s.seed, engine=s.engine,
                           workers=1)
    else:
        outcome = run_scenario(point.scenario, engine=s.engine, workers=1)
        results, verdict = outcome.results, outcome.verdict
        for c, judged in zip(point.scenario.criteria, outcome.criteria):
            per_rep = [judge(c, [math.nan if v is None else v])["verdict"]
                       for v in judged["per_replication"]]
            criteria.append({"id": c.id, "verdict": judged["verdict"], "measured": judged["measured"],
                             "ci95": judged["ci95"], "per_replication": per_rep})
    kpis = [replication_kpis(point.line, r, s.duration)["line"] for r in results]
    return _json_ready({"index": point.index, "key": point.key, "params": list(point.values),
                        "kpis": [{k: rep[k] for k in LINE_KEYS} for rep in kpis],
                        "criteria": criteria, "verdict": verdict})


def _json_ready(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


@dataclass
class SweepRun:
    """Results of every point in point order, and how many were loaded from an earlier run."""

    results: list[dict]
    resumed: int


def run_sweep(sweep: Sweep, out_dir: str | Path, workers: int | None = None,
              scheduler: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> SweepRun:
    """Run the points not yet saved in ``out_dir/.points``; return all results in point order.

    Local by default: a process pool of `workers` (default ``os.cpu_count()``),
    in-process when that is 1. With `scheduler`, a Dask cluster at that
    address. `progress(done, total)` is called as points finish.
    """
    if scheduler is not None:
        _dask()  # fail before anything runs when Dask is missing
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise InputError.single("--out", str(out_dir), "exists and is not a folder")
    store = Path(out_dir) / POINTS_DIR
    if os.path.lexists(store) and not store.is_dir():
        raise InputError.single("--out", str(store), f"{not_a_folder(store)}, where the finished "
                                                     "points are kept: remove it")
    for table in TABLES:  # a file or link there is replaced at the end, a folder cannot be
        if (Path(out_dir) / table).is_dir():
            raise InputError.single("--out", str(Path(out_dir) / table), f"a folder, where the sweep "
                                                                        f"writes its {table}: remove it")
    results: dict[int, dict] = {}
    for point in sweep.points:
        saved = _load_point(store / point.file_name, point)
        if saved is not None:
            results[point.index] = saved
    resumed = len(results)
    total = len(sweep.points)
    if progress is not None:
        progress(resumed, total)

    def finished(result: dict) -> None:
        _write_atomic(store / f"{result['index']}-{result['key']}.json",
                      json.dumps(result, allow_nan=False, sort_keys=True))
        results[result["index"]] = result
        if progress is not None:
            progress(len(results), total)

    todo = [p for p in sweep.points if p.index not in results]
    if todo and scheduler is not None:
        _run_dask(todo, scheduler, finished)
    elif todo:
        _run_local(todo, workers or os.cpu_count() or 1, finished)
    return SweepRun([results[p.index] for p in sweep.points], resumed)


def _load_point(path: Path, point: Point) -> dict | None:
    """A saved result for this point, or None (missing, unreadable or for other settings)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != point.key or data.get("index") != point.index:
        return None
    return data if _is_result_of(data, point) else None


def _is_result_of(data: dict, point: Point) -> bool:
    """Whether a saved file has the shape `run_point` gives this point (else it is run again:
    an edited or damaged file must not end in a traceback or in wrong tables)."""
    n = point.settings.replications
    criteria = point.scenario.criteria if point.scenario is not None else ()
    verdicts = ("pass", "fail")

    def number(value) -> bool:
        return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))

    def criterion_ok(saved, c) -> bool:
        return (isinstance(saved, dict) and saved.get("id") == c.id and saved.get("verdict") in verdicts
                and number(saved.get("measured")) and isinstance(saved.get("ci95"), list)
                and len(saved["ci95"]) == 2 and all(map(number, saved["ci95"]))
                and isinstance(saved.get("per_replication"), list) and len(saved["per_replication"]) == n
                and all(v in verdicts for v in saved["per_replication"]))

    kpis, saved_criteria = data.get("kpis"), data.get("criteria")
    return (data.get("params") == _json_ready(list(point.values))
            and isinstance(kpis, list) and len(kpis) == n
            and all(isinstance(rep, dict) and set(rep) == set(LINE_KEYS) and all(map(number, rep.values()))
                    for rep in kpis)
            and isinstance(saved_criteria, list) and len(saved_criteria) == len(criteria)
            and all(criterion_ok(saved, c) for saved, c in zip(saved_criteria, criteria))
            and (data.get("verdict") is None if point.scenario is None else data.get("verdict") in verdicts))


def _run_local(points: list[Point], workers: int, finished: Callable[[dict], None]) -> None:
    workers = min(workers, len(points))
    if workers <= 1:
        for point in points:
            finished(run_point(point))
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_point, point) for point in points]
        try:
            for future in as_completed(futures):
                finished(future.result())
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _dask():
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise InputError.single("--scheduler", "", "running on a Dask cluster needs Dask: "
                                                   f"{CLUSTER_HINT}") from None
    return Client, as_completed


def _run_dask(points: list[Point], address: str, finished: Callable[[dict], None]) -> None:
    Client, as_completed = _dask()
    try:
        client = Client(address)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError.single("--scheduler", address,
                                f"cannot reach the Dask scheduler: {exc}") from None
    with client:
        futures = client.map(run_point, points, pure=False)
        for future in as_completed(futures):
            finished(future.result())


# ----------------------------------------------------------------------------- writing
def points_table(sweep: Sweep, results: list[dict]) -> tuple[list[str], list[list]]:
    """points.csv: parameters, replication, every line KPI, then each criterion per replication."""
    header = [p.path for p in sweep.params] + ["replication", *LINE_KEYS, *sweep.criteria]
    rows = []
    for result in results:
        for r, kpis in enumerate(result["kpis"]):
            rows.append([*result["params"], r, *(kpis[k] for k in LINE_KEYS),
                         *(c["per_replication"][r] for c in result["criteria"])])
    return header, rows


def summary_table(sweep: Sweep, results: list[dict]) -> tuple[list[str], list[list]]:
    """summary.csv: parameters, mean and interval of every line KPI, then verdicts."""
    header = [p.path for p in sweep.params]
    header += [f"{k}_{s}" for k in LINE_KEYS for s in ("mean", "ci_low", "ci_high")]
    if sweep.criteria:
        header += ["verdict", *sweep.criteria]
    rows = []
    for result in results:
        row = list(result["params"])
        for key in LINE_KEYS:
            stats = point_summary(result, key)
            row += [stats["mean"], *stats["ci95"]]
        if sweep.criteria:
            row += [result["verdict"], *(c["verdict"] for c in result["criteria"])]
        rows.append(row)
    return header, rows


def point_summary(result: dict, key: str) -> dict:
    """Mean and Student-t interval of one line KPI of a point (``twin.kpis.summarize``)."""
    return summarize([math.nan if rep[key] is None else rep[key] for rep in result["kpis"]])


def feasible(result: dict) -> bool:
    """Whether every criterion passes at this point (False without a scenario)."""
    return result["verdict"] == "pass"


def write_outputs(sweep: Sweep, results: list[dict], out_dir: str | Path) -> dict[str, Path]:
    """Write points.csv, summary.csv and plots/; return their paths."""
    from twin.sweep_plots import write_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"points": out / TABLES[0], "summary": out / TABLES[1], "plots": out / "plots"}
    write_csv(paths["points"], *points_table(sweep, results))
    write_csv(paths["summary"], *summary_table(sweep, results))
    write_plots(sweep, results, paths["plots"])
    return paths


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """A CSV by the csv module, written to a temporary file and renamed into place."""
    with _atomic(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([_cell(v) for v in row] for row in rows)


def _cell(value) -> str:
    """One CSV cell: floats by repr (exact round trip), no data as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def _write_atomic(path: Path, text: str) -> None:
    with _atomic(path) as handle:
        handle.write(text)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _atomic:
    """Open a temporary file next to `path`; on success rename it over `path` (os.replace)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        os.chmod(self.tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
        return self.handle

    def __exit__(self, kind, exc, tb):
        self.handle.close()
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            os.unlink(self.tmp)
        return False
