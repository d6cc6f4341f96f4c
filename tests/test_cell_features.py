"""SPEC §3.4 against hand-computed cases: shared robots, calendars, tool changes, assembly."""

from __future__ import annotations

import pytest

import yaml

from helpers import line_from_yaml, run_kpis
from twin.engines import simulate
from twin.model.validate import validate

ENGINES = ["reference", "fast"]

ROBOT_CELL = """
line: robot-cell
resources: [{{id: robot, capacity: 1}}]
stations:
  - {{id: src, kind: source}}
  - {{id: queue, kind: buffer, capacity: 10}}
{machines}
  - {{id: out, kind: sink}}
edges:
  - [src, queue]
{edges}
"""


def robot_cell(n_machines: int, load: str) -> str:
    machines = "\n".join(
        f"  - {{id: m{i}, kind: machine, process_time: 100s, load: {{resource: robot, time: {load}}}}}"
        for i in range(1, n_machines + 1))
    edges = "\n".join(f"  - [queue, m{i}]\n  - [m{i}, out]" for i in range(1, n_machines + 1))
    return ROBOT_CELL.format(machines=machines, edges=edges)


@pytest.mark.parametrize("engine", ENGINES)
def test_robot_loading_two_machines_exact_cycle(engine):
    """Loading 10 s + processing 100 s; the two loads never collide after the start:
    each machine makes a part every 110 s."""
    line = line_from_yaml(robot_cell(2, "10s"))
    kpis = run_kpis(line, warmup=3600, duration=11 * 3600, replications=1, engine=engine)
    assert kpis["line"]["throughput"]["mean"] == pytest.approx(2 * 3600 / 110, rel=1e-3)
    m1 = kpis["stations"]["m1"]
    assert m1["working"]["mean"] == pytest.approx(100 / 110, rel=1e-3)
    assert m1["setup"]["mean"] == pytest.approx(10 / 110, rel=1e-3)
    assert m1["waiting_resource"]["mean"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_robot_is_the_bottleneck_of_three_machines(engine):
    """Three machines need 3 x 60 s of loading per 100 s cycle: the robot paces the cell at one
    part per 60 s; each machine waits 20 s of every 180 s for it."""
    line = line_from_yaml(robot_cell(3, "60s"))
    kpis = run_kpis(line, warmup=3600, duration=9 * 3600, replications=1, engine=engine)
    assert kpis["line"]["throughput"]["mean"] == pytest.approx(60.0, rel=1e-3)
    for m in ("m1", "m2", "m3"):
        st = kpis["stations"][m]
        assert st["waiting_resource"]["mean"] == pytest.approx(20 / 180, rel=1e-3)
        assert st["working"]["mean"] == pytest.approx(100 / 180, rel=1e-3)
        assert st["availability"]["mean"] == pytest.approx(100 / 180, rel=1e-3)


def _single_machine(extra: str, calendar: str = "") -> str:
    return f"""
line: single
{calendar}
stations:
  - {{id: src, kind: source}}
  - {{id: m, kind: machine, process_time: 60s{extra}}}
  - {{id: out, kind: sink}}
edges: [[src, m], [m, out]]
"""


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("where", ["line", "node"])
def test_calendar_with_half_off_halves_throughput(engine, where):
    calendar = "{period: 2h, off: [[1h, 2h]]}"
    text = (_single_machine("", f"calendar: {calendar}") if where == "line"
            else _single_machine(f", calendar: {calendar}"))
    line = line_from_yaml(text)
    kpis = run_kpis(line, warmup=0, duration=8 * 3600, replications=1, engine=engine)
    assert kpis["line"]["completed"]["mean"] == 240
    m = kpis["stations"]["m"]
    assert m["off"]["mean"] == pytest.approx(0.5)
    assert m["working"]["mean"] == pytest.approx(0.5)
    assert m["availability"]["mean"] == pytest.approx(1.0)  # planned downtime is not lost time
    assert m["oee"]["mean"] == pytest.approx(1.0)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_robot_skips_the_request_of_a_node_that_is_off(engine):
    """a asks the robot at 10 s to unload, while b loads (0-30 s); a is off from 20 s to
    100 s. A halted node's request keeps its place but holds no one up: the robot idles at
    30 s, b's next requests (45 s, 90 s) are granted at once, and a is unloaded when the
    robot frees after a is back on (120 s). Granting a at 30 s, or keeping b waiting
    behind a, would load b at 105 s instead."""
    line = line_from_yaml("""
line: robot-skips-off
resources: [{id: robot, capacity: 1}]
stations:
  - {id: src_a, kind: source}
  - {id: src_b, kind: source}
  - {id: a, kind: machine, process_time: 10s, unload: {resource: robot, time: 5s},
     calendar: {period: 10h, off: [[20s, 100s]]}}
  - {id: b, kind: machine, process_time: 15s, load: {resource: robot, time: 30s}}
  - {id: out, kind: sink}
edges: [[src_a, a], [src_b, b], [a, out], [b, out]]
""")
    trace = simulate(line, 0.0, 200.0, 1, 1, engine=engine, trace=True)[0].trace
    times = {(event, node): [row[0] for row in trace if row[1] == event and row[4] == node]
             for event, node in (("load", "b"), ("unload", "a"))}
    assert times[("load", "b")] == [0.0, 45.0, 90.0, 135.0, 180.0]
    assert times[("unload", "a")] == [120.0, 165.0]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_later_window_opening_comes_after_a_failure_scheduled_before_it(engine):
    """m is off 50-60 s of every 100 s; its calendar-basis clock (TTF 140 s) runs 0-50 s, then
    resumes at 60 s with 90 s left: due at 150 s. The window opening at 150 s is scheduled
    when the first window closes, after the clock resumed, so the failure comes first
    (SPEC §3.2): down 150-180 s, off 150-160 s (off over down), working 160 s of 200 s, 16
    parts (10-40 s, 60-140 s, and 180-200 s: the parts interrupted at 50 s and 150 s end
    after the halt). The opening first would pause the clock at 150 s and fail at 160 s:
    down 160-190 s, 15 parts."""
    line = line_from_yaml("""
line: opening-after-failure
stations:
  - {id: s, kind: source}
  - id: m
    kind: machine
    process_time: 10s
    calendar: {period: 100s, off: [[50s, 60s]]}
    failures: [{name: f, basis: calendar, ttf: 140s, ttr: 30s}]
  - {id: k, kind: sink}
edges: [[s, m], [m, k]]
""")
    m = run_kpis(line, warmup=0, duration=200, replications=2, seed=1, engine=engine)["stations"]["m"]
    assert m["produced"]["per_replication"] == [16, 16]
    assert m["working"]["mean"] == pytest.approx(0.80)
    assert m["down"]["mean"] == pytest.approx(0.10)
    assert m["off"]["mean"] == pytest.approx(0.10)

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("where", ["b", "out"])
def test_a_buffer_or_sink_with_its_own_calendar_stops_the_flow_through_it(engine, where):
    """A line calendar leaves buffers and sinks alone; their own stops them: no part reaches
    the sink while `where` is off (1 h of every 2 h), and the machine before it blocks."""
    text = """
line: passive-off
stations:
  - {id: src, kind: source}
  - {id: m, kind: machine, process_time: 60s}
  - {id: b, kind: buffer, capacity: 1}
  - {id: out, kind: sink}
edges: [[src, m], [m, b], [b, out]]
"""
    doc = yaml.safe_load(text)
    next(s for s in doc["stations"] if s["id"] == where)["calendar"] = {"period": "2h", "off": [["1h", "2h"]]}
    line = validate(doc, "passive-off.yaml")
    res = simulate(line, 0.0, 8 * 3600.0, 1, 1, engine=engine, exits=True)[0]
    hour = (res.exit_times // 3600).astype(int)
    assert len(res.exit_times) > 200 and not ((hour % 2 == 1) & (res.exit_times % 3600 > 0)).any()
    kpis = run_kpis(line, warmup=0, duration=8 * 3600, replications=1, engine=engine)
    assert kpis["stations"]["m"]["blocked"]["mean"] == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("engine", ENGINES)
def test_tool_change_every_n_adds_time_over_n_per_part(engine):
    """60 s per part and 120 s of tool change every 10 parts: 72 s per part, 50 parts/h."""
    line = line_from_yaml(_single_machine(", tool_change: {every: 10, time: 2min}"))
    kpis = run_kpis(line, warmup=3600, duration=8 * 3600, replications=1, engine=engine)
    assert kpis["line"]["throughput"]["mean"] == pytest.approx(50.0)
    assert kpis["stations"]["m"]["setup"]["mean"] == pytest.approx(120 / 720)


@pytest.mark.parametrize("engine", ENGINES)
def test_each_server_counts_its_own_parts_for_the_tool_change(engine):
    """Two servers, 60 s per part, a 30 s tool change every 2 parts of a server: both servers
    start parts at 0 and 60 s and change tools together at 120 s and 270 s (counting the
    machine's parts would change on server 0 at 60 s). 2 parts per server per 150 s: 96/h,
    in setup 30 s of every 150 s."""
    line = line_from_yaml(_single_machine(", servers: 2, tool_change: {every: 2, time: 30s}"))
    trace = simulate(line, 0.0, 320.0, 1, 1, engine=engine, trace=True)[0].trace
    assert [(row[0], row[5]) for row in trace if row[1] == "setup"] == [
        (120.0, 0), (120.0, 1), (270.0, 0), (270.0, 1)]
    kpis = run_kpis(line, warmup=600, duration=3600, replications=1, engine=engine)
    assert kpis["line"]["throughput"]["mean"] == pytest.approx(96.0)
    assert kpis["stations"]["m"]["setup"]["mean"] == pytest.approx(30 / 150)
    assert kpis["stations"]["m"]["working"]["mean"] == pytest.approx(120 / 150)


ASSEMBLY = """
line: assembly
products: [{id: housing, mix: 0.5}, {id: unit, mix: 0.5}]
stations:
  - {id: housings, kind: source, release: {interarrival: 60s, sequence: [housing]}}
  - {id: shafts, kind: source, release: {interarrival: 20s, sequence: [housing]}}
  - {id: asm, kind: assembly, process_time: 10s, inputs: {housings: 1, shafts: 2}, output: unit}
  - {id: out, kind: sink}
edges: [[housings, asm], [shafts, asm], [asm, out]]
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_assembly_output_equals_the_slowest_input(engine):
    """Housings every 60 s, shafts every 20 s (two per unit: enough for 90 units/h):
    the housings limit the output to 60 units/h."""
    line = line_from_yaml(ASSEMBLY)
    results = simulate(line, 3600.0, 8 * 3600.0, 1, 1, engine=engine)
    res = results[0]
    assert res.completed == 480
    assert res.released == res.finished + res.in_process
    # lead time runs from the earliest component's release, not from the assembly's start
    # (which would make every lead time exactly the 10 s of processing)
    assert res.lead_times.min() >= 10.0
    assert res.lead_times.max() > 10.0 + 1e-9
    assert res.produced[line.index("asm"), line.product_ids.index("unit")] == 480


KIT_PULL = """
line: kit-pull
products: [{id: a, mix: 0.5}, {id: b, mix: 0.5}, {id: ab, mix: 0.0}]
stations:
  - {id: sa, kind: source, release: {sequence: [a]}}
  - {id: sb, kind: source, release: {sequence: [b]}}
  - {id: x, kind: machine, process_time: 20s}
  - {id: y, kind: machine, process_time: 5s}
  - {id: asm, kind: assembly, servers: 2, inputs: {x: 1, y: 1}, output: ab, process_time: 100s}
  - {id: out, kind: sink}
edges: [[sa, x], [sb, y], [x, asm], [y, asm], [asm, out]]
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_assembling_frees_the_kit_places_for_waiting_parts(engine):
    """y (5 s) fills the kit's y place at 5 s; its next part waits on y from 10 s. When x's
    part completes the kit at 20 s, assembling empties the kit, and the assembly pulls the
    waiting y part at once (SPEC §3.2: a freed place takes the longest-waiting part). So the
    next kit is complete when x's second part arrives at 40 s and the second server starts
    then; units start at 20, 40, 120 and 140 s (both servers busy in between)."""
    line = line_from_yaml(KIT_PULL)
    res = simulate(line, 0.0, 300.0, 1, 1, engine=engine, trace=True)[0]
    starts = [(t, server) for t, event, _, _, node, server in res.trace if event == "assemble"]
    assert starts[:4] == [(20.0, 0), (40.0, 1), (120.0, 0), (140.0, 1)]
    assert res.completed == 4  # at 120, 140, 220 and 240 s
