"""The fast engine agrees with the reference engine event for event (SPEC §6).

Each line below exercises features of SPEC §3; both engines run it with a
trace, and the traces must be the same row for row (times to a relative
1e-9, everything else exactly), as must every field of the results. Then
every example line, and random lines from hypothesis (`strategies.lines`).
The kernel's event heap is also tested on its own.
"""

from __future__ import annotations

import glob
import math
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import line_from_yaml
from strategies import injections, lines
from twin.distributions import Dist
from twin.engines import fast, reference
from twin.engines.fast import events as evl
from twin.model.load import load_line
from twin.model.types import Edge, Failure, Injection, Line, Product, Release, Station

LINES = sorted(glob.glob(str(Path(__file__).resolve().parent.parent / "lines" / "*.yaml")))

#: the engines agree bit for bit (issue 3 allows 1e-9): they draw the same numbers in the same
#: order and credit the same state times through the same jitted functions, in the same order
ARRAY_FIELDS = ("state_time", "level_area", "level_max", "full_time", "empty_time", "produced",
                "scrapped_at", "lead_times")
EXACT_FIELDS = ("completed", "scrapped", "released", "finished", "in_process", "events", "deadlock",
                "deadlock_nodes")


# ---------------------------------------------------------------------- comparison
def assert_traces_equal(ref: list[tuple], got: list[tuple]) -> None:
    for i, (a, b) in enumerate(zip(ref, got)):
        if a != b:
            context = "\n".join(f"  ref {ref[j]}\n  got {got[j] if j < len(got) else None}"
                                for j in range(max(0, i - 3), min(len(ref), i + 2)))
            pytest.fail(f"traces differ at row {i}:\n{context}")
    assert len(ref) == len(got), f"trace lengths differ: {len(ref)} vs {len(got)}"


def assert_results_equal(ref, got) -> None:
    for name in EXACT_FIELDS:
        assert getattr(ref, name) == getattr(got, name), name
    for name in ARRAY_FIELDS:
        a, b = getattr(ref, name), getattr(got, name)
        assert a.shape == b.shape, name
        np.testing.assert_array_equal(b, a, err_msg=name)
    for name in ("wip_area", "wip_max"):
        assert getattr(ref, name) == getattr(got, name), name
    if ref.deadlock:
        assert ref.deadlock_time == got.deadlock_time
    assert (ref.exit_times is None) == (got.exit_times is None)
    if ref.exit_times is not None:
        np.testing.assert_array_equal(got.exit_times, ref.exit_times, err_msg="exit_times")


def agree(line: Line, warmup: float = 600.0, duration: float = 4 * 3600.0, seed: int = 7,
          replication: int = 0, outages: tuple[Injection, ...] = (), exits: bool = False):
    """Run both engines with a trace; assert they agree; return the reference result."""
    ref = reference.run_replication(line, warmup, duration, seed, replication, trace=True,
                                    injections=outages, exits=exits)
    got = fast.run_replication(line, warmup, duration, seed, replication, trace=True,
                               injections=outages, exits=exits)
    assert_traces_equal(ref.trace, got.trace)
    assert_results_equal(ref, got)
    return ref


# ---------------------------------------------------------------------- lines
def dist(kind: str, **params) -> Dist:
    if kind == "empirical":
        return Dist("empirical", (), tuple(float(v) for v in params["values"]))
    return Dist(kind, tuple((k, float(v)) for k, v in params.items()))


def expo(mean: float):
    return dist("exponential", mean=mean)


def const(value: float):
    return dist("constant", value=value)


def make_line(products, stations, edges, name="test") -> Line:
    products = tuple(Product(p, m) for p, m in products)
    return Line(name, "", products, tuple(stations), tuple(Edge(*e) if isinstance(e, tuple) else e
                                                           for e in edges))


def machine(sid, process, servers=1, products=("part",), **kw) -> Station:
    times = process if isinstance(process, dict) else {p: process for p in products}
    return Station(sid, "machine", servers, process_time=times,
                   ideal_cycle_time={p: d.mean for p, d in times.items()}, **kw)


def src(sid="src", interarrival=None, sequence=()) -> Station:
    return Station(sid, "source", 1, release=Release(interarrival, tuple(sequence)))


def serial_line(n: int = 4) -> Line:
    """Exponential machines, buffers of 5, operating failures (like lines/bench_10.yaml)."""
    stations, ids = [src()], ["src"]
    for i in range(n):
        stations.append(machine(f"m{i}", expo(50.0), failures=(
            Failure("jam", "operating", expo(3600.0), expo(300.0)),)))
        ids.append(f"m{i}")
        if i < n - 1:
            stations.append(Station(f"b{i}", "buffer", 5))
            ids.append(f"b{i}")
    stations.append(Station("out", "sink", 0))
    ids.append("out")
    return make_line([("part", 1.0)], stations, list(zip(ids, ids[1:])))


def constant_ties_line() -> Line:
    """Constant times everywhere: many events at the same instant, several sources and servers,
    a zero-capacity link between two machines."""
    stations = [src("s1"), src("s2", interarrival=const(30.0)), src("s3", interarrival=const(60.0)),
                Station("b", "buffer", 3),
                machine("m1", const(60.0), servers=2),
                machine("m2", const(30.0)),
                machine("m3", const(30.0), servers=3),
                Station("out", "sink", 0)]
    edges = [("s1", "b"), ("s2", "b"), ("s3", "m1"), ("b", "m1"), ("m1", "m2"), ("m2", "m3"),
             ("m3", "out")]
    return make_line([("part", 1.0)], stations, edges)


def failure_ties_line() -> Line:
    """Operating-basis clocks that run out exactly at a process end (constant times): the
    process end comes first, the clock pauses with nothing left and fails at the next start;
    an injected outage pauses a clock in mid-part."""
    stations = [src("s"),
                machine("m1", const(60.0), failures=(Failure("f", "operating", const(600.0), const(90.0)),)),
                Station("b", "buffer", 2),
                machine("m2", const(45.0), failures=(Failure("f", "operating", const(180.0), const(30.0)),
                                                      Failure("g", "operating", const(240.0), const(20.0)))),
                Station("out", "sink", 0)]
    return make_line([("part", 1.0)], stations, [("s", "m1"), ("m1", "b"), ("b", "m2"), ("m2", "out")])


def products_line() -> Line:
    """Three products by mix and by sequence, setups and a setup matrix, scrap, every distribution."""
    prods = ("a", "b", "c")
    stations = [
        src("mix"),
        src("seq", interarrival=dist("uniform", low=40.0, high=80.0), sequence=("a", "a", "c")),
        Station("b0", "buffer", 4),
        machine("cnc", {"a": dist("normal", mean=60.0, sd=10.0),
                        "b": dist("lognormal", mean=70.0, cv=0.4),
                        "c": dist("gamma", mean=50.0, cv=0.5)}, servers=3,
                setup=dist("triangular", low=5.0, mode=10.0, high=30.0),
                setup_matrix={("a", "b"): const(40.0), ("c", "a"): dist("weibull", shape=1.5, scale=20.0)},
                scrap=0.05, failures=(Failure("spindle", "operating", dist("weibull", shape=1.2, scale=5000.0),
                                              dist("empirical", values=(120.0, 300.0, 600.0))),
                                      Failure("power", "calendar", expo(7200.0), const(200.0)))),
        Station("b1", "buffer", 2),
        machine("deburr", dist("empirical", values=(20.0, 25.0, 25.0, 40.0)), products=prods,
                setup=const(15.0)),
        Station("out", "sink", 0)]
    edges = [("mix", "b0"), ("seq", "b0"), ("b0", "cnc"), ("cnc", "b1"), ("b1", "deburr"),
             ("deburr", "out")]
    return make_line([("a", 0.5), ("b", 0.3), ("c", 0.2)], stations, edges)


def conveyor_line() -> Line:
    """Conveyors with random travel (no overtaking), blocking at the head, failures of both bases."""
    stations = [src(interarrival=expo(20.0)),
                Station("c1", "conveyor", 3, travel_time=dist("uniform", low=10.0, high=90.0),
                        failures=(Failure("belt", "operating", expo(1800.0), expo(120.0)),
                                  Failure("drive", "calendar", expo(5400.0), const(300.0)))),
                machine("m", expo(25.0), servers=1),
                Station("c2", "conveyor", 2, travel_time=const(30.0)),
                machine("m2", dist("uniform", low=10.0, high=40.0)),
                Station("out", "sink", 0)]
    edges = [("src", "c1"), ("c1", "m"), ("m", "c2"), ("c2", "m2"), ("m2", "out")]
    return make_line([("part", 1.0)], stations, edges)


def routing_line(route: str) -> Line:
    """One splitter with the given policy to a small buffer, a two-server machine and a conveyor."""
    p = {"b1": 0.5, "m2": 0.3, "c3": 0.2}
    stations = [src(), machine("split", expo(15.0), route=route),
                Station("b1", "buffer", 2), machine("m1", expo(60.0)),
                machine("m2", expo(70.0), servers=2),
                Station("c3", "conveyor", 2, travel_time=expo(50.0)),
                machine("m3", const(45.0)), Station("out", "sink", 0)]
    edges = [Edge("src", "split")]
    edges += [Edge("split", t, p[t] if route == "probability" else None) for t in ("b1", "m2", "c3")]
    edges += [Edge("b1", "m1"), Edge("m1", "out"), Edge("m2", "out"), Edge("c3", "m3"),
              Edge("m3", "out")]
    return make_line([("part", 1.0)], stations, edges)


def filters_line() -> Line:
    """Edges that admit only some products, with order, round robin and probability routing."""
    stations = [src(), Station("b0", "buffer", 4, route="round_robin"),
                machine("ma", expo(40.0), products=("a", "b"), route="probability"),
                machine("mb", expo(35.0), products=("a", "b")),
                machine("mab", expo(60.0), products=("a", "b"), servers=2),
                Station("out_a", "sink", 0), Station("out", "sink", 0)]
    edges = [Edge("src", "b0"), Edge("b0", "ma", products=("a",)), Edge("b0", "mb", products=("b",)),
             Edge("b0", "mab"), Edge("ma", "out_a", 0.7, ("a",)), Edge("ma", "out", 0.3),
             Edge("mb", "out"), Edge("mab", "out")]
    return make_line([("a", 0.6), ("b", 0.4)], stations, edges)


def rework_line() -> Line:
    """Inspection sends 20 % back through a buffer: a rework loop (cyclic graph)."""
    stations = [src(interarrival=expo(70.0)), Station("b0", "buffer", 6),
                machine("cnc", dist("lognormal", mean=50.0, cv=0.3), servers=2, route="shortest_queue",
                        scrap=0.03, failures=(Failure("spindle", "operating", expo(3600.0), expo(300.0)),)),
                Station("wash", "conveyor", 4, travel_time=dist("triangular", low=20.0, mode=30.0, high=50.0)),
                machine("insp", const(30.0), route="probability"),
                Station("out", "sink", 0)]
    edges = [Edge("src", "b0"), Edge("b0", "cnc"), Edge("cnc", "wash"), Edge("wash", "insp"),
             Edge("insp", "b0", 0.2), Edge("insp", "out", 0.8)]
    return make_line([("part", 1.0)], stations, edges)


def deadlock_line() -> Line:
    """Two machines linked both ways without buffers: parts soon wait on each other."""
    stations = [src(), machine("m1", expo(30.0)), machine("m2", expo(30.0), route="probability"),
                Station("out", "sink", 0)]
    edges = [Edge("src", "m1"), Edge("m1", "m2"), Edge("m2", "m1", 0.5), Edge("m2", "out", 0.5)]
    return make_line([("part", 1.0)], stations, edges)


def pull_ties_line() -> Line:
    """Three saturated sources and two feeders ready at the same instants: the pull rule's ties."""
    stations = [src("s1"), src("s2"), src("s3"), machine("f1", const(10.0)), machine("f2", const(10.0)),
                machine("m", const(20.0), servers=2), Station("out", "sink", 0)]
    edges = [("s1", "f1"), ("s2", "f2"), ("s3", "m"), ("f1", "m"), ("f2", "m"), ("m", "out")]
    return make_line([("part", 1.0)], stations, edges)


# ---------------------------------------------------------------------- agreement
def test_serial_line_agrees():
    res = agree(serial_line(), warmup=1800.0, duration=8 * 3600.0)
    assert res.completed > 100 and res.events > 1000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_constant_times_and_ties_agree(seed):
    res = agree(constant_ties_line(), seed=seed)
    assert res.completed > 0


def test_failures_at_process_ends_agree():
    outage = Injection(1000.0, "m2", 77.0)
    res = agree(failure_ties_line(), warmup=0.0, duration=2 * 3600.0, outages=(outage,))
    fails = [row for row in res.trace if row[1] == "fail"]
    assert len(fails) > 20 and any(row[0] % 45.0 == 0.0 for row in fails)


@pytest.mark.parametrize("seed", [1, 2])
def test_products_setups_scrap_agree(seed):
    res = agree(products_line(), seed=seed, duration=8 * 3600.0)
    assert res.scrapped > 0 and res.produced[:, 1].sum() > 0


def test_conveyors_with_failures_agree():
    res = agree(conveyor_line(), duration=8 * 3600.0)
    assert res.state_time[1, 2] > 0  # the conveyor was down for a while


@pytest.mark.parametrize("route", ["order", "probability", "shortest_queue", "round_robin"])
def test_route_policies_agree(route):
    agree(routing_line(route))


def test_product_filters_agree():
    res = agree(filters_line())
    assert res.produced[2, 1] == 0  # product b never reaches ma


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rework_loop_agrees(seed):
    agree(rework_line(), seed=seed, duration=6 * 3600.0)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_deadlock_agrees(seed):
    res = agree(deadlock_line(), seed=seed)
    assert res.deadlock and res.deadlock_nodes == ("m1", "m2")


def test_pull_ties_agree():
    agree(pull_ties_line())


def test_warmup_longer_than_events_and_other_replications():
    line = serial_line(2)
    for replication in (1, 5):
        agree(line, warmup=3 * 3600.0, duration=3600.0, seed=99, replication=replication)


def test_run_replications_match_single_runs():
    line = serial_line(3)
    many = fast.run_replications(line, 600.0, 3600.0, 11, 4)
    single = [fast.run_replication(line, 600.0, 3600.0, 11, r) for r in range(4)]
    serial = fast.run_replications(line, 600.0, 3600.0, 11, 4, workers=1)
    for a, b, c in zip(many, single, serial):
        assert_results_equal(b, a)
        assert_results_equal(b, c)
    assert len({r.completed for r in many}) > 1  # replications use different streams



def test_replications_are_submitted_only_a_few_ahead_of_their_results():
    """A run of many replications holds a few futures, not one per replication, and an
    interrupted run does not go on with the rest."""
    from concurrent.futures import ThreadPoolExecutor

    started = []

    def replication(r):
        started.append(r)
        return r

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(fast._in_order(pool, replication, range(50), 3)) == list(range(50))
        started.clear()
        results = fast._in_order(pool, replication, range(10_000), 4)
        assert next(results) == 0
        results.close()  # the caller stopped (an exception, Ctrl-C)
    assert len(started) <= 4

def test_a_stop_request_ends_a_running_replication():
    """Another thread's stop request (what an interrupted run sends) ends a replication that
    would run for a day, with `RunStopped`, after at most `EVENTS_PER_CALL` events; one set
    before the start lets it run no further than that."""
    import threading

    line = serial_line(3)
    fast.run_replication(line, 0.0, 3600.0, 1, 0)  # the kernel loaded before the clock starts
    stopped = threading.Event()
    stopped.set()
    with pytest.raises(fast.RunStopped, match=r"after \d+ events") as info:
        fast.run_replication(line, 0.0, 1e10, 1, 0, stop=stopped)
    assert 0 < int(str(info.value).split()[-2]) <= fast.EVENTS_PER_CALL
    stop, outcome = threading.Event(), []

    def long_run():
        try:
            fast.run_replication(line, 0.0, 1e10, 1, 0, stop=stop)
        except fast.RunStopped as exc:
            outcome.append(exc)

    worker = threading.Thread(target=long_run)
    worker.start()
    time.sleep(0.5)
    stop.set()
    worker.join(timeout=120)
    assert not worker.is_alive() and len(outcome) == 1


def test_a_run_in_slices_gives_the_same_result():
    """The kernel pauses every `EVENTS_PER_CALL` events and resumes where it stopped: with
    slices of a few events the results are those of one call."""
    line = serial_line(3)
    for trace in (False, True):  # the plain and the general variant
        whole = fast.run_replication(line, 600.0, 4 * 3600.0, 5, 2, trace=trace)
        original = fast.EVENTS_PER_CALL
        try:
            fast.EVENTS_PER_CALL = 7
            sliced = fast.run_replication(line, 600.0, 4 * 3600.0, 5, 2, trace=trace)
        finally:
            fast.EVENTS_PER_CALL = original
        assert whole.events > 50 * 7
        assert_results_equal(whole, sliced)
        assert sliced.trace == whole.trace


def test_simulate_selects_fast_engine():
    from twin.engines import simulate

    line = serial_line(2)
    ref = simulate(line, 0.0, 3600.0, 2, 3, engine="reference")
    got = simulate(line, 0.0, 3600.0, 2, 3, engine="fast")
    for a, b in zip(ref, got):
        assert_results_equal(a, b)


def test_simulate_fast_runs_replications_on_threads_like_the_reference():
    """Several workers: the same results in the same order, the trace of replication 0 only,
    and progress reported once per replication, in order."""
    from twin.engines import simulate

    line = serial_line(3)
    steps = {"reference": [], "fast": []}
    ref = simulate(line, 300.0, 3600.0, 5, 8, engine="reference", trace=True,
                   progress=steps["reference"].append)
    got = simulate(line, 300.0, 3600.0, 5, 8, engine="fast", trace=True, workers=2,
                   progress=steps["fast"].append)
    for a, b in zip(ref, got, strict=True):
        assert_results_equal(a, b)
    assert got[0].trace == ref[0].trace and got[0].trace
    assert all(r.trace is None for r in got[1:])
    assert steps["fast"] == steps["reference"] == [1, 2, 3, 4, 5]


ROBOT_CELL = """
line: robot-cell
products: [{id: a, mix: 0.5}, {id: b, mix: 0.5}]
resources: [{id: robot, capacity: 1}, {id: crane, capacity: 2}]
stations:
  - {id: src, kind: source, release: {interarrival: {dist: exponential, mean: 40s}}}
  - {id: queue, kind: buffer, capacity: 6, route: shortest_queue}
  - id: m1
    kind: machine
    servers: 2
    process_time: {a: {dist: lognormal, mean: 80s, cv: 0.3}, b: 95s}
    setup: 20s
    load: {resource: robot, time: {dist: uniform, low: 5s, high: 15s}}
    unload: {resource: crane, time: 8s}
    tool_change: {every: 3, time: 1min}
    failures: [{name: jam, basis: operating, ttf: {dist: exponential, mean: 40min}, ttr: 3min}]
  - id: m2
    kind: machine
    process_time: {dist: exponential, mean: 60s}
    load: {resource: robot, time: 10s}
    unload: {resource: robot, time: 6s}
    failures: [{name: drive, basis: calendar, ttf: {dist: exponential, mean: 1h}, ttr: 5min}]
    scrap: 0.05
  - {id: out, kind: sink}
edges: [[src, queue], [queue, m1], [queue, m2], [m1, out], [m2, out]]
"""

CALENDAR_LINE = """
line: shifts
calendar: {period: 2h, off: [[0s, 10min], [50min, 1h]]}
stations:
  - {id: src, kind: source, release: {interarrival: {dist: exponential, mean: 50s}}}
  - id: m1
    kind: machine
    process_time: {dist: gamma, mean: 45s, cv: 0.5}
    failures: [{name: f, basis: calendar, ttf: {dist: exponential, mean: 1h}, ttr: 4min}]
  - {id: belt, kind: conveyor, capacity: 3, travel_time: 40s, calendar: {period: 45min, off: [[30min, 45min]]}}
  - {id: b, kind: buffer, capacity: 2}
  - id: m2
    kind: machine
    process_time: 55s
    calendar: {period: 1h, off: [[20min, 25min]]}
    failures: [{name: g, basis: operating, ttf: {dist: exponential, mean: 30min}, ttr: 2min}]
  - {id: out, kind: sink}
edges: [[src, m1], [m1, belt], [belt, b], [b, m2], [m2, out]]
"""

ASSEMBLY_LINE = """
line: assembly
products: [{id: housing}, {id: shaft}, {id: unit}]  # sequences only: no mix needed
stations:
  - {id: housings, kind: source, release: {interarrival: {dist: exponential, mean: 60s}, sequence: [housing]}}
  - {id: shafts, kind: source, release: {sequence: [shaft]}}
  - {id: hb, kind: buffer, capacity: 2}
  - {id: sb, kind: conveyor, capacity: 4, travel_time: {dist: uniform, low: 10s, high: 30s}}
  - id: asm
    kind: assembly
    servers: 2
    process_time: {dist: triangular, low: 20s, mode: 30s, high: 60s}
    inputs: {hb: 1, sb: 2}
    output: unit
    failures: [{name: press, basis: operating, ttf: {dist: exponential, mean: 1h}, ttr: 5min}]
  - {id: test, kind: machine, process_time: {unit: 25s}, route: probability}  # only units reach it
  - {id: out, kind: sink}
  - {id: scrapyard, kind: sink}
edges:
  - [housings, hb]
  - [shafts, sb]
  - [hb, asm]
  - [sb, asm]
  - [asm, test]
  - {from: test, to: out, p: 0.9}
  - {from: test, to: scrapyard, p: 0.1}
"""


@pytest.mark.parametrize("seed", [1, 2])
def test_shared_resources_tool_changes_agree(seed):
    res = agree(line_from_yaml(ROBOT_CELL), seed=seed, duration=6 * 3600.0)
    assert res.state_time[2, 6] > 0  # m1 waited for a resource


def test_calendars_agree():
    res = agree(line_from_yaml(CALENDAR_LINE), duration=6 * 3600.0)
    assert res.state_time[1, 5] > 0  # m1 was off


def test_assembly_agrees():
    res = agree(line_from_yaml(ASSEMBLY_LINE), duration=6 * 3600.0)
    assert res.completed > 0


@pytest.mark.parametrize("station", ["m2", None])
def test_injections_and_exit_times_agree(station):
    outages = (Injection(3600.0, station, 1800.0), Injection(7000.0, "m1", 600.0))
    res = agree(line_from_yaml(ROBOT_CELL), outages=outages, exits=True)
    assert len(res.exit_times) > 0


@pytest.mark.parametrize("path", LINES, ids=lambda p: Path(p).stem)
def test_example_lines_agree(path):
    agree(load_line(path), warmup=1800.0, duration=4 * 3600.0)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), line=lines(), seed=st.integers(0, 2**31 - 1),
       warmup=st.sampled_from([0.0, 300.0, 1800.0]))
def test_random_lines_agree(data, line, seed, warmup):
    duration = 2 * 3600.0
    outages = data.draw(injections(line, warmup + duration))
    agree(line, warmup=warmup, duration=duration, seed=seed, outages=outages, exits=bool(outages))


# ---------------------------------------------------------------------- the event heap
def _pop(ev):
    """Remove the next event and return its slot (its fields stay readable until a push)."""
    slot = evl.take(ev)
    evl.drop(ev)
    return slot


def _drain(ev):
    out = []
    while evl.size(ev) > 0:
        slot = _pop(ev)
        out.append((ev.time[slot], ev.data[slot, evl.EV_ARG]))
    return out


def test_heap_orders_by_time_then_scheduling_order():
    ev = evl.new_event_list(16)
    for arg, t in enumerate([5.0, 1.0, 5.0, 0.0, 1.0, 5.0, 3.0]):
        evl.push(ev, t, 0, 0, arg, 0)
    assert evl.peek_time(ev) == 0.0
    assert _drain(ev) == [(0.0, 3), (1.0, 1), (1.0, 4), (3.0, 6), (5.0, 0), (5.0, 2), (5.0, 5)]
    assert evl.peek_time(ev) == math.inf


def test_heap_same_time_fifo_after_pops_and_pushes():
    ev = evl.new_event_list(64)
    rng = np.random.default_rng(3)
    expected = []
    for arg in range(40):  # interleave pushes and pops at a few distinct times
        t = float(rng.integers(0, 4))
        evl.push(ev, t, 0, 0, arg, 0)
        expected.append((t, arg))
        if arg % 7 == 6:
            slot = _pop(ev)
            first = min(expected)
            assert (ev.time[slot], ev.data[slot, evl.EV_ARG]) == first
            expected.remove(first)
    assert _drain(ev) == sorted(expected)


def test_heap_cancel_and_reschedule():
    ev = evl.new_event_list(8)
    slots = [evl.push(ev, t, 0, 0, arg, 0) for arg, t in enumerate([4.0, 2.0, 6.0, 2.0])]
    evl.cancel(ev, slots[1])
    evl.cancel(ev, slots[1])  # no longer pending: nothing happens
    # the stale event of arg 2 is rescheduled at time 2: it comes after arg 3 (scheduled earlier)
    assert evl.reschedule(ev, slots[2], 2.0, 0, 0, 2, 0) == slots[2]
    new = evl.reschedule(ev, -1, 1.0, 0, 0, 9, 0)
    assert new not in (slots[0], slots[2], slots[3])
    assert _drain(ev) == [(1.0, 9), (2.0, 3), (2.0, 2), (4.0, 0)]
    assert not evl.full(ev)
    assert [evl.push(ev, 0.0, 0, 0, i, 0) >= 0 for i in range(8)] == [True] * 8  # all free again
    assert evl.full(ev)


def test_one_kernel_per_variant_serves_every_line():
    """Lines with no failure mode, one in-edge, one part place, products, trace and exits all
    give the kernel the same argument types but for the variant (`state.is_plain`): numba
    compiles it twice at most, each with the settings of `codegen` (another signature would
    be compiled without them)."""
    from twin.engines.fast import kernel
    tiny = make_line([("part", 1.0)], [src("s"), machine("m", const(5.0)), Station("out", "sink", 0)],
                     [("s", "m"), ("m", "out")])
    for line in [tiny, serial_line(), products_line(), *(load_line(p) for p in LINES)]:
        fast.run_replication(line, 0.0, 600.0, 1, 0, trace=True, exits=True)
        fast.run_replication(line, 0.0, 600.0, 1, 1)
    assert len(kernel.run_kernel.overloads) == 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_heap_take_and_replace_gives_the_order_of_pop_and_push(seed):
    """The kernel takes the next event and lets the first event scheduled meanwhile replace it
    (`take`, `push`, `drop`): the order must be plain (time, scheduling order), checked against
    heapq on a random run with many same-time events."""
    import heapq
    rng = np.random.default_rng(seed)
    ev, model, seq = evl.new_event_list(64), [], 0
    for arg in range(10):
        t = float(rng.integers(0, 5))
        evl.push(ev, t, 0, 0, arg, 0)
        heapq.heappush(model, (t, seq, arg))
        seq += 1
    taken, expected, arg = [], [], 10
    while model and len(taken) < 400:
        slot = evl.take(ev)
        now = ev.time[slot]
        taken.append((now, int(ev.data[slot, evl.EV_ARG])))
        t_model, _, a_model = heapq.heappop(model)
        expected.append((t_model, a_model))
        for _ in range(int(rng.integers(0, 3)) if len(taken) < 300 else 0):
            t = now + float(rng.integers(0, 3))  # often the same instant
            evl.push(ev, t, 0, 0, arg, 0)
            heapq.heappush(model, (t, seq, arg))
            seq, arg = seq + 1, arg + 1
        evl.drop(ev)
    assert taken == expected and evl.size(ev) == 0


def test_heap_slots_are_reused():
    ev = evl.new_event_list(2)
    for i in range(10):
        evl.push(ev, float(i), 0, 0, i, 0)
        assert ev.data[_pop(ev), evl.EV_ARG] == i
    assert evl.size(ev) == 0


# ---------------------------------------------------------------------- compile notice
def _reload_kernel(monkeypatch, compile_seconds: float):
    """Make the next run reload the kernel (already compiled in this process), the load taking
    `compile_seconds`."""
    monkeypatch.setattr(fast, "_ready", set())
    original = fast.k.fire.compile

    def slow_compile(signature):
        time.sleep(compile_seconds)
        return original(signature)

    monkeypatch.setattr(fast.k.fire, "compile", slow_compile)


def test_a_slow_kernel_load_is_announced_a_quick_one_is_not(monkeypatch, caplog):
    line = load_line(LINES[0])
    fast.run_replication(line, 0.0, 600.0, 1, 0)  # compiled or loaded: ready in this process
    caplog.set_level("INFO", logger="twin")
    monkeypatch.setattr(fast, "COMPILE_NOTICE_AFTER", 0.5)
    _reload_kernel(monkeypatch, 0.0)
    fast.run_replication(line, 0.0, 600.0, 1, 0)
    assert not [r for r in caplog.records if "compiling" in r.getMessage()]
    _reload_kernel(monkeypatch, 2.0)
    fast.run_replication(line, 0.0, 600.0, 1, 0)
    assert [r for r in caplog.records if "compiling the fast engine's kernel" in r.getMessage()]
