"""Sweeps (SPEC §7): --param parsing, the grid, CSV columns, common random numbers, backends, resume."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import pytest

from twin import sweep as sw
from twin.engines import simulate
from twin.errors import InputError
from twin.kpis import replication_kpis
from twin.model.load import load_line
from twin.sweep_cli import add_parser, cmd_sweep

LINE = """\
line: small
stations:
  - {id: src, kind: source}
  - id: m1
    kind: machine
    process_time: {dist: exponential, mean: 60s}
    failures: [{name: spindle, ttf: {dist: exponential, mean: 30min}, ttr: {dist: exponential, mean: 3min}}]
  - {id: b, kind: buffer, capacity: 2}
  - {id: m2, kind: machine, process_time: {dist: exponential, mean: 55s}}
  - {id: out, kind: sink}
edges: [[src, m1], [m1, b], [b, m2], [m2, out]]
"""
SCENARIO = """\
scenario: small-sizing
line: small.yaml
warmup: 10min
duration: 1h
replications: 3
seed: 11
overrides:
  stations.b.capacity: 3
injections:
  - {at: 30min, station: m2, down_for: 10min, reason: test}
criteria:
  - {id: C1, kpi: throughput, min: 20}
  - {id: C2, kpi: lost_output, injection: 0, max: 30}
"""
# SPEC §5 `kpis.line`, written out here so that the test checks the spec, not the code
SPEC_LINE_KEYS = ["throughput", "completed", "scrapped", "scrap_rate", "lead_time_mean", "lead_time_p50",
                  "lead_time_p95", "lead_time_max", "wip_mean", "wip_max", "deadlock"]
QUICK = ["--duration", "1h", "--warmup", "5min", "--replications", "2", "--engine", "reference"]


@pytest.fixture
def line_file(tmp_path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(LINE)
    return path


@pytest.fixture
def scenario_file(tmp_path, line_file) -> Path:
    path = tmp_path / "sizing.yaml"
    path.write_text(SCENARIO)
    return path


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="twin")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sweep", *map(str, argv)])


def sweep(line_file, out, *options) -> int:
    return cmd_sweep(parse(line_file, *options, "--out", out))


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


# ----------------------------------------------------------------------------- --param
def test_param_values_are_yaml_scalars():
    assert sw.parse_param("stations.b.capacity=4,8,12") == sw.Param("stations.b.capacity", (4, 8, 12))
    assert sw.parse_param("stations.m1.failures.0.ttr.mean=4h, 30min").values == ("4h", "30min")
    assert sw.parse_param("stations.m1.scrap=0.5,0").values == (0.5, 0)


@pytest.mark.parametrize("text", ["stations.b.capacity", "=1,2", "stations..capacity=1", "a.b=",
                                  "a.b=1,,2", "a.b=[1", "a.b={x: 1}", "a.b=1,1", "a.b=" + "9" * 5000])
def test_bad_param_names_the_option_and_the_text(text):
    with pytest.raises(InputError) as exc:
        sw.parse_params([text])
    (problem,) = exc.value.problems
    assert problem.file == "--param" and problem.path == text
    assert str(problem).startswith(f"--param: {text}: ")


def test_bad_param_on_the_command_line_writes_nothing(line_file, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(InputError) as exc:
        sweep(line_file, out, "--param", "stations.b.capacity", "--param", "stations.b.capacity=1",
              "--param", "stations.nope.capacity=1", *QUICK)
    assert [p.file for p in exc.value.problems] == ["--param"]
    assert not out.exists()


def test_a_grid_over_the_limit_is_one_problem_at_once():
    """A million points would take minutes to check before any other word: refused at once."""
    values = ",".join(str(v) for v in range(1, 101))
    with pytest.raises(InputError) as exc:
        sw.parse_params([f"stations.{s}.capacity={values}" for s in ("a", "b", "c")])
    assert [str(p) for p in exc.value.problems] == [
        "--param: stations.a.capacity × stations.b.capacity × stations.c.capacity: a grid of "
        f"1,000,000 points: at most {sw.MAX_POINTS:,} (each point is checked, then run over its "
        "replications)"]
    assert len(sw.parse_params([f"stations.a.capacity={values}", f"stations.b.capacity={values}"])) == 2


def test_the_same_path_twice_is_a_problem():
    with pytest.raises(InputError, match="swept twice"):
        sw.parse_params(["stations.b.capacity=1", "stations.b.capacity=2"])


@pytest.mark.parametrize("item", ["nope", "\u00b2"])  # an index is ASCII digits only: not '²'
def test_unknown_path_items_are_problems(line_file, item):
    params = sw.parse_params([f"stations.{item}.capacity=1,2"])
    with pytest.raises(InputError) as exc:
        sw.build_sweep(line_file, params, sw.resolve_settings())
    assert [str(p) for p in exc.value.problems] == [
        f"--param: stations.{item}.capacity: no item '{item}' in stations (use an index, an id or a name)"]


def test_param_segment_that_is_an_id_wins_over_the_index(tmp_path):
    line_file = tmp_path / "digits.yaml"
    line_file.write_text(LINE.replace("m1", '"2"').replace("m2", '"1"'))  # src, "2", b, "1", out
    params = sw.parse_params(["stations.1.process_time=99s"])
    point = sw.build_sweep(line_file, params, sw.resolve_settings()).points[0]
    assert point.line.station("1").process_time["part"].mean == 99.0  # id "1", not index 1
    assert point.line.station("2").process_time["part"].mean == 60.0


# ----------------------------------------------------------------------------- the grid
def test_grid_is_the_product_in_the_order_given(line_file):
    params = sw.parse_params(["stations.b.capacity=1,5", "stations.m2.process_time=40s,50s,60s"])
    grid = sw.build_sweep(line_file, params, sw.resolve_settings(engine="reference"))
    assert [p.values for p in grid.points] == [(1, "40s"), (1, "50s"), (1, "60s"),
                                               (5, "40s"), (5, "50s"), (5, "60s")]
    assert [p.index for p in grid.points] == list(range(6))
    assert grid.points[4].line.station("b").places == 5
    assert grid.points[4].line.station("m2").process_time["part"].mean == 50.0
    assert len({p.key for p in grid.points}) == 6


def test_point_overrides_come_after_the_scenarios(line_file, scenario_file):
    from twin.scenario import load_scenario

    scenario = load_scenario(scenario_file)
    settings = sw.resolve_settings(scenario, replications=1)
    assert (settings.duration, settings.warmup, settings.replications, settings.seed) == (3600, 600, 1, 11)
    only_other = sw.build_sweep(line_file, sw.parse_params(["stations.m2.scrap=0"]), settings, scenario)
    assert only_other.points[0].line.station("b").places == 3  # the scenario's override
    grid = sw.build_sweep(line_file, sw.parse_params(["stations.b.capacity=7"]), settings, scenario)
    assert grid.points[0].line.station("b").places == 7
    assert grid.points[0].scenario.replications == 1 and grid.criteria == ("C1", "C2")


def test_a_bad_point_stops_everything_before_anything_is_written(line_file, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(InputError) as exc:
        sweep(line_file, out, "--param", "stations.b.capacity=-1,2", "--param",
              "stations.m2.process_time=50s,-5s", *QUICK)
    text = [str(p) for p in exc.value.problems]
    assert len(text) == 4  # (-1, 50s), (-1, -5s) twice, (2, -5s)
    assert all("stations.b.capacity=-1" in t for t in text if "stations[2].capacity" in t)
    assert sum("stations[2].capacity" in t for t in text) == 2
    assert sum("stations[3].process_time" in t for t in text) == 2
    assert not out.exists()


def test_a_bad_point_of_a_graphml_line_names_the_node_as_the_file_does(line_file, tmp_path):
    """The point's document is a copy of the file's, which still names fields as GraphML does."""
    from twin.model.load import graph_from_line, write_graphml

    graphml = tmp_path / "line.graphml"
    write_graphml(graph_from_line(load_line(line_file)), graphml)
    with pytest.raises(InputError) as exc:
        sw.build_sweep(graphml, sw.parse_params(["stations.b.capacity=0,2"]), sw.resolve_settings())
    (problem,) = exc.value.problems
    assert problem.path == '<node id="b">.capacity' and "whole number" in problem.message


# ----------------------------------------------------------------------------- outputs
def test_csv_columns_follow_the_spec(line_file, tmp_path):
    out = tmp_path / "out"
    assert sweep(line_file, out, "--param", "stations.b.capacity=1,4", "--param",
                 "stations.m2.process_time=50s,60s,70s", *QUICK, "--workers", "1") == 0
    points = read_csv(out / "points.csv")
    assert points[0] == ["stations.b.capacity", "stations.m2.process_time", "replication", *SPEC_LINE_KEYS]
    assert len(points) == 1 + 6 * 2
    assert [row[:3] for row in points[1:3]] == [["1", "50s", "0"], ["1", "50s", "1"]]
    summary = read_csv(out / "summary.csv")
    assert summary[0] == ["stations.b.capacity", "stations.m2.process_time"] + [
        f"{k}_{s}" for k in SPEC_LINE_KEYS for s in ("mean", "ci_low", "ci_high")]
    assert [row[:2] for row in summary[1:]] == [[c, t] for c in ("1", "4") for t in ("50s", "60s", "70s")]
    for row in summary[1:]:
        mean, low, high = map(float, row[2:5])
        assert low <= mean <= high
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["throughput_heatmap.png"]


def test_scenario_adds_verdicts_and_its_settings_apply(line_file, scenario_file, tmp_path):
    out = tmp_path / "out"
    assert sweep(line_file, out, "--scenario", scenario_file, "--param", "stations.b.capacity=1,3",
                 "--replications", "2", "--engine", "reference", "--workers", "1") == 0
    points = read_csv(out / "points.csv")
    assert points[0] == ["stations.b.capacity", "replication", *SPEC_LINE_KEYS, "C1", "C2"]
    assert len(points) == 1 + 2 * 2  # --replications given: 2, not the scenario's 3
    assert {row[-1] for row in points[1:]} <= {"pass", "fail"}
    summary = read_csv(out / "summary.csv")
    assert summary[0][-3:] == ["verdict", "C1", "C2"]
    for row in summary[1:]:
        assert row[-3] == ("pass" if row[-2:] == ["pass", "pass"] else "fail")
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "lead_time_mean.png", "throughput.png", "wip_mean.png"]


def test_scenario_point_matches_run_scenario(line_file, scenario_file):
    """At a point that changes nothing, the verdicts are those of `twin accept`'s run."""
    from twin.scenario import load_scenario, run_scenario

    scenario = load_scenario(scenario_file)
    grid = sw.build_sweep(line_file, sw.parse_params(["stations.b.capacity=3"]),
                          sw.resolve_settings(scenario, engine="reference"), scenario)
    result = sw.run_point(grid.points[0])
    outcome = run_scenario(scenario, engine="reference")
    assert result["verdict"] == outcome.verdict
    assert [c["verdict"] for c in result["criteria"]] == [c["verdict"] for c in outcome.criteria]
    assert [c["measured"] for c in result["criteria"]] == [c["measured"] for c in outcome.criteria]


# ----------------------------------------------------------------------------- random numbers
def test_common_random_numbers(line_file):
    """A point that changes nothing reproduces the base line replication by replication."""
    settings = sw.resolve_settings(warmup=300.0, duration=3600.0, replications=3, seed=5, engine="reference")
    grid = sw.build_sweep(line_file, sw.parse_params(["stations.b.capacity=2,6"]), settings)
    same, other = (sw.run_point(p) for p in grid.points)
    line = load_line(line_file)
    base = [replication_kpis(line, r, 3600.0)["line"]
            for r in simulate(line, 300.0, 3600.0, 3, 5, engine="reference")]
    assert same["kpis"] == base
    assert other["kpis"] != base


# ----------------------------------------------------------------------------- backends, resume
GRID = ["--param", "stations.b.capacity=1,3", "--param", "stations.m2.process_time=50s,65s"]


def outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in ("points.csv", "summary.csv")}


def test_two_workers_give_what_one_process_gives(line_file, tmp_path):
    assert sweep(line_file, tmp_path / "one", *GRID, *QUICK, "--workers", "1") == 0
    assert sweep(line_file, tmp_path / "two", *GRID, *QUICK, "--workers", "2") == 0
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")
    saved = lambda d: {p.name: p.read_bytes() for p in (d / ".points").iterdir()}  # noqa: E731
    assert saved(tmp_path / "one") == saved(tmp_path / "two")
    assert len(saved(tmp_path / "one")) == 4


def test_resume_runs_no_point_twice(line_file, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert sweep(line_file, out, *GRID, *QUICK, "--workers", "1") == 0
    first = outputs(out)

    def must_not_run(point):
        raise AssertionError(f"point {point.index} ran again")

    monkeypatch.setattr(sw, "run_point", must_not_run)
    assert sweep(line_file, out, *GRID, *QUICK, "--workers", "1") == 0
    assert outputs(out) == first

    ran = []
    monkeypatch.setattr(sw, "run_point", lambda point: ran.append(point.index) or real_run_point(point))
    wider = ["--param", "stations.b.capacity=1,3,5", *GRID[2:]]
    assert sweep(line_file, out, *wider, *QUICK, "--workers", "1") == 0
    assert ran == [4, 5]  # points 0-3 are the same points with the same settings
    assert read_csv(out / "points.csv")[1:9] == read_csv_text(first["points.csv"])[1:]
    ran.clear()
    assert sweep(line_file, out, *GRID, *QUICK, "--seed", "2", "--workers", "1") == 0
    assert ran == [0, 1, 2, 3]  # another seed: every point again


@pytest.mark.parametrize("edit", [
    lambda d: d.__setitem__("kpis", "garbage"), lambda d: d.__setitem__("kpis", [{"throughput": 1.0}]),
    lambda d: d.__setitem__("kpis", []), lambda d: d.__setitem__("params", []),
    lambda d: d.__setitem__("criteria", "x"), lambda d: d["kpis"][0].__setitem__("completed", "fast"),
    lambda d: d.__setitem__("verdict", "pass"),
])
def test_a_damaged_saved_point_is_run_again(line_file, tmp_path, monkeypatch, edit):
    """A saved point whose file no longer has the shape of a result (edited by hand, say) is
    run again, not read into a traceback or into tables with shifted or missing rows."""
    out = tmp_path / "out"
    assert sweep(line_file, out, *GRID, *QUICK, "--workers", "1") == 0
    first = outputs(out)
    saved = sorted((out / ".points").iterdir())[1]
    data = json.loads(saved.read_text())
    edit(data)
    saved.write_text(json.dumps(data))
    ran = []
    monkeypatch.setattr(sw, "run_point", lambda point: ran.append(point.index) or real_run_point(point))
    assert sweep(line_file, out, *GRID, *QUICK, "--workers", "1") == 0
    assert ran == [1] and outputs(out) == first


def read_csv_text(data: bytes) -> list[list[str]]:
    return list(csv.reader(data.decode().splitlines()))


real_run_point = sw.run_point


def test_missing_dask_says_how_to_install_it(line_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails
    with pytest.raises(InputError, match=r"pip install -e '\.\[cluster\]'"):
        sweep(line_file, tmp_path / "out", *GRID, *QUICK, "--scheduler", "tcp://127.0.0.1:8786")
    assert not (tmp_path / "out").exists()


def test_workers_and_scheduler_do_not_mix(line_file, tmp_path):
    with pytest.raises(InputError, match="local runs only"):
        sweep(line_file, tmp_path / "out", *GRID, *QUICK, "--scheduler", "tcp://x:1", "--workers", "2")


def test_dask_cluster_gives_the_local_files(line_file, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    assert sweep(line_file, tmp_path / "local", *GRID, *QUICK, "--workers", "1") == 0
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        assert sweep(line_file, tmp_path / "dask", *GRID, *QUICK,
                     "--scheduler", cluster.scheduler_address) == 0
    assert outputs(tmp_path / "dask") == outputs(tmp_path / "local")


def test_out_under_a_file_is_bad_input_before_any_point_runs(line_file, tmp_path, monkeypatch):
    monkeypatch.setattr(sw, "run_point", lambda point: pytest.fail("a point ran"))
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(InputError, match="taken exists and is not a folder"):
        sweep(line_file, tmp_path / "taken" / "sub", *GRID, *QUICK, "--workers", "1")


@pytest.mark.parametrize("table", ["points.csv", "summary.csv"])
def test_a_folder_where_a_table_goes_is_bad_input_before_any_point_runs(line_file, tmp_path, monkeypatch,
                                                                        table):
    monkeypatch.setattr(sw, "run_point", lambda point: pytest.fail("a point ran"))
    (tmp_path / "out" / table).mkdir(parents=True)
    with pytest.raises(InputError) as exc:
        sweep(line_file, tmp_path / "out", *GRID, *QUICK, "--workers", "1")
    assert str(exc.value) == (f"--out: {tmp_path / 'out' / table}: a folder, where the sweep writes "
                              f"its {table}: remove it")


def test_an_empty_out_is_bad_input(line_file, tmp_path, monkeypatch):
    """`--out ''` would be the current folder (accept) or the default one (sweep): neither meant."""
    monkeypatch.setattr(sw, "run_point", lambda point: pytest.fail("a point ran"))
    with pytest.raises(InputError, match="--out: '': an empty path"):
        sweep(line_file, "", *GRID, *QUICK, "--workers", "1")


def test_points_store_that_is_not_a_folder_is_bad_input_before_any_point_runs(line_file, tmp_path, monkeypatch):
    monkeypatch.setattr(sw, "run_point", lambda point: pytest.fail("a point ran"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".points").symlink_to(tmp_path / "gone")
    with pytest.raises(InputError) as exc:
        sweep(line_file, tmp_path / "out", *GRID, *QUICK, "--workers", "1")
    assert str(exc.value) == (f"--out: {tmp_path / 'out' / '.points'}: a symbolic link to a missing "
                              "target, where the finished points are kept: remove it")


@pytest.mark.parametrize("make", [
    lambda plots, elsewhere: plots.symlink_to(elsewhere / "gone"),
    lambda plots, elsewhere: plots.symlink_to(elsewhere),
    lambda plots, elsewhere: plots.write_text("not plots"),
])
def test_plots_replace_whatever_stands_in_their_place(line_file, tmp_path, make):
    """As the CSVs do (os.replace); a folder linked to is left alone."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (elsewhere / "keep.png").write_text("not ours")
    make(out / "plots", elsewhere)
    assert sweep(line_file, out, *GRID, *QUICK, "--workers", "1") == 0
    assert (out / "plots").is_dir() and not (out / "plots").is_symlink()
    assert sorted(p.name for p in out.iterdir()) == [".points", "plots", "points.csv", "summary.csv"]
    assert [p.name for p in elsewhere.iterdir()] == ["keep.png"]


def test_two_params_that_name_the_same_field_are_one_problem(line_file):
    """`stations.b` and `stations.2` are the same station: the grid would hold duplicate points."""
    with pytest.raises(InputError) as exc:
        sw.build_sweep(line_file, sw.parse_params(["stations.b.capacity=2,3", "stations.2.capacity=4,5"]),
                       sw.resolve_settings())
    assert [str(p) for p in exc.value.problems] == [
        "--param: stations.2.capacity: sets what stations.b.capacity sets too: which one holds would "
        "depend on their order"]
