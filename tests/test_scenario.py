"""Scenarios: overrides, injections, the interval rule of criteria, paired KPIs (SPEC §4)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import yaml

from twin.errors import InputError
from twin.scenario import (Criterion, apply_overrides, from_documents, judge, load_scenario, recovery_time,
                           run_scenario)

ONE_MACHINE = yaml.safe_load(textwrap.dedent("""
    line: one-machine
    stations:
      - {id: src, kind: source}
      - {id: m, kind: machine, process_time: 60s,
         failures: [{name: spindle, ttf: {dist: exponential, mean: 4h}, ttr: 10min}]}
      - {id: b, kind: buffer, capacity: 3}
      - {id: m2, kind: machine, process_time: 30s}
      - {id: out, kind: sink}
    edges: [[src, m], [m, b], [b, m2], [m2, out]]
"""))


def scenario(text: str, line=ONE_MACHINE):
    return from_documents(yaml.safe_load(textwrap.dedent(text)), "s.yaml", line, "l.yaml")


def problems(text: str) -> list[str]:
    with pytest.raises(InputError) as exc:
        scenario(text)
    return [str(p) for p in exc.value.problems]


# ----------------------------------------------------------------------------- criteria rule
def test_min_passes_only_when_whole_interval_is_above():
    c = Criterion(id="C", kpi="throughput", bound=("min", 10.0))
    assert judge(c, [11.0, 11.5, 12.0])["verdict"] == "pass"
    straddling = judge(c, [8.0, 13.0, 10.5])
    assert straddling["measured"] > 10 and straddling["ci95"][0] < 10
    assert straddling["verdict"] == "fail"
    assert judge(c, [8.0, 9.0, 9.5])["verdict"] == "fail"


def test_max_and_margin():
    c = Criterion(id="C", kpi="lead_time", stat="p95", bound=("max", 100.0))
    result = judge(c, [90.0, 92.0, 91.0])
    assert result["verdict"] == "pass" and result["margin"] == pytest.approx(9.0)
    assert judge(c, [90.0, 110.0, 100.0])["verdict"] == "fail"


def test_one_replication_uses_the_value_itself():
    c = Criterion(id="C", kpi="throughput", bound=("min", 10.0))
    assert judge(c, [10.0])["ci95"] == [10.0, 10.0]
    assert judge(c, [10.0])["verdict"] == "pass"
    assert judge(c, [9.99])["verdict"] == "fail"


def test_confidence_level_changes_the_interval():
    values = [10.5, 11.8, 10.9, 11.4]
    wide = judge(Criterion(id="C", kpi="throughput", bound=("min", 10.0), confidence=0.999), values)
    narrow = judge(Criterion(id="C", kpi="throughput", bound=("min", 10.0), confidence=0.8), values)
    assert wide["ci95"][0] < narrow["ci95"][0]
    assert wide["verdict"] == "fail" and narrow["verdict"] == "pass"


def test_equals_needs_every_replication():
    c = Criterion(id="C", kpi="deadlock", bound=("equals", 0.0))
    assert judge(c, [0.0, 0.0])["verdict"] == "pass"
    assert judge(c, [0.0, 1.0])["verdict"] == "fail"


def test_criterion_key_follows_stat_and_mean_rule():
    assert Criterion(id="C", kpi="lead_time", stat="p95").key == "lead_time_p95"
    assert Criterion(id="C", kpi="wip", stat="max").key == "wip_max"
    assert Criterion(id="C", kpi="wip").key == "wip_mean"
    assert Criterion(id="C", kpi="throughput").key == "throughput"


# ----------------------------------------------------------------------------- validation
def test_overrides_are_applied_by_dotted_path():
    sc = scenario("""
        scenario: s
        line: l.yaml
        overrides: {stations.b.capacity: 12, stations.m.failures.spindle.ttf.mean: 2h,
                    stations.1.scrap: 0.01}
    """)
    assert sc.line.station("b").places == 12
    assert sc.line.station("m").failures[0].ttf.mean == 7200.0
    assert sc.line.station("m").scrap == 0.01
    assert ONE_MACHINE["stations"][2]["capacity"] == 3  # the line document is not changed


DIGIT_IDS = yaml.safe_load("""
    line: digit-ids
    stations:
      - {id: src, kind: source}
      - {id: "30", kind: machine, process_time: 60s}
      - {id: "40", kind: machine, process_time: 60s}
      - {id: "1", kind: machine, process_time: 60s}
      - {id: out, kind: sink}
    edges: [[src, "30"], ["30", "40"], ["40", "1"], ["1", out]]
""")


def test_override_segment_that_is_an_id_wins_over_the_index():
    sc = scenario("""
        scenario: s
        line: l.yaml
        overrides: {stations.1.process_time: 999s, stations.2.process_time: 5s}
    """, line=DIGIT_IDS)
    times = {s.id: s.process_time["part"].mean for s in sc.line.stations if s.kind == "machine"}
    assert times == {"30": 60.0, "40": 5.0, "1": 999.0}  # `1` is station "1"; `2` is index 2


def test_requirement_is_kept_as_text():
    assert scenario("scenario: s\nline: l.yaml\nrequirement: 120 parts/h\n").requirement == "120 parts/h"
    assert scenario("scenario: s\nline: l.yaml\nrequirement:\n").requirement == ""


@pytest.mark.parametrize("body, message", [
    ("injections: [{at: 10min, station: [m2], down_for: 5min}]",
     "injections[0].station: expected a station id (text), got list"),
    ("overrides: {stations.\u00b2.capacity: 4}", "overrides.stations.\u00b2.capacity: no item"),
    ("requirement: [a, b]", "requirement: expected text, got ['a', 'b']"),
])
def test_bad_scenario_file_exits_2_without_writing(tmp_path, capsys, body, message):
    from twin.cli import main

    (tmp_path / "l.yaml").write_text(yaml.safe_dump(ONE_MACHINE))
    path = tmp_path / "s.yaml"
    path.write_text(f"scenario: s\nline: l.yaml\n{body}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["accept", str(path), "--out", str(out), "--engine", "reference"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}" in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_a_line_file_given_as_a_scenario_says_so(tmp_path):
    path = tmp_path / "l.yaml"
    path.write_text(yaml.safe_dump(ONE_MACHINE))
    with pytest.raises(InputError, match="a line file, not a scenario"):
        load_scenario(path)


def test_a_scenario_file_given_as_its_line_is_one_problem_at_line(tmp_path):
    (tmp_path / "other.yaml").write_text("scenario: other\nline: l.yaml\n")
    path = tmp_path / "s.yaml"
    path.write_text("scenario: s\nline: other.yaml\n")
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    assert [str(p) for p in exc.value.problems] == [
        f"{path}: line: 'other.yaml' is a scenario file, not a line file: give the line file the "
        "scenario runs"]

@pytest.mark.parametrize("text, fragment", [
    ("overrides: {stations.op99.capacity: 3}", "overrides.stations.op99.capacity: no item 'op99'"),
    ("overrides: {stations.b.capacity: -3}", "stations[2].capacity"),
    ("overrides: {layout.x: 1}", "no field 'layout'"),
    ("injections: [{at: 1h, station: nope, down_for: 5min}]", "injections[0].station: unknown station"),
    ("injections: [{at: 1h, station: b, down_for: 5min}]", "only machines"),
    ("injections: [{at: 1h, down_for: 5min}]", "injections[0]"),
    ("injections: [{at: -1h, station: m, down_for: 5min}]", "injections[0].at"),
    ("injections: [{at: 1h, station: m, down_for: 5min, attribution: nobody}]", "attribution"),
    ("criteria: [{id: C1, kpi: speed, min: 3}]", "criteria[0].kpi: unknown line KPI 'speed'"),
    ("criteria: [{id: C1, kpi: oee, station: m}]", "exactly one of min, max, equals"),
    ("criteria: [{id: C1, kpi: oee, station: zz, min: 0.5}]", "unknown station 'zz'"),
    ("criteria: [{id: C1, kpi: lost_output, max: 3}]", "criteria[0].injection"),
    ("criteria: [{id: C1, kpi: full, station: m, max: 3}]", "unknown station KPI 'full'"),
    ("injections: [{at: 10min, station: [m2], down_for: 5min}]",
     "injections[0].station: expected a station id (text), got list"),
    ("injections: [{at: 10min, station: {m2: 1}, down_for: 5min}]",
     "injections[0].station: expected a station id (text), got dict"),
    ("injections: [{at: 10min, station: m2, down_for: 5min, reason: [a, b]}]",
     "injections[0].reason: expected text, got ["),
    ("criteria: [{kpi: oee, station: [m], min: 0.5}]", "criteria[0].station: expected a station id"),
    ("criteria: [{kpi: oee, station: 30, min: 0.5}]",
     "criteria[0].station: 30 is a number, but a station id is text: write it in quotes"),
    ("overrides: {stations.\u00b2.capacity: 4}", "overrides.stations.\u00b2.capacity: no item '\u00b2'"),
    ("criteria: [{kpi: throughput, max: .inf}]", "criteria[0].max: expected a finite number"),
    ("criteria: [{kpi: throughput, min: .nan}]", "criteria[0].min: expected a finite number"),
    ("criteria: [{kpi: deadlock, equals: -.inf}]", "criteria[0].equals: expected a finite number"),
    pytest.param(f"criteria: [{{kpi: throughput, min: {10**400}}}]",
                 "criteria[0].min: expected a finite number", id="int-too-large-for-a-float"),
    ("criteria: [{min: 0.5}]", "criteria[0].kpi: required"),
    ("criteria: [{kpi: lost_output, injection: 0, max: 3}]",
     "criteria[0].injection: lost_output compares runs with and without an injection, "
     "but the scenario has no injections"),
    ("criteria: [{kpi: recovery_time, max: 3}]", "the scenario has no injections"),
    ("criteria: [{kpi: throughput, min: 3, description: [a]}]", "criteria[0].description: expected text"),
    ("requirement: [a, b]", "requirement: expected text, got ['a', 'b']"),
    ("description: {a: 1}", "description: expected text, got {'a': 1}"),
    ("replications: 0", "replications: must be at least 1"),
    ("replications: 1000000", "replications: at most 100,000, got 1,000,000"),
    ("duration: soon", "duration: bad duration"),
    ("colour: blue", "colour: unknown key"),
    ("criteria: [{id: [C2], kpi: throughput, min: 3}]", "criteria[0].id: expected a text id such as C1"),
    ("criteria: [{id: null, kpi: throughput, min: 3}]", "criteria[0].id: expected a text id"),
    ("injections: [{at: 1h, station: m, down_for: 5min}]\n"
     "criteria: [{kpi: recovery_time, injection: 0, window: 0s, max: 60}]",
     "criteria[0].window: expected a window longer than 0 s"),
])
def test_bad_scenarios_name_the_field(text, fragment):
    found = problems(f"scenario: s\nline: l.yaml\n{text}\n")
    assert any(fragment in p for p in found), found
    assert all(p.startswith(("s.yaml", "l.yaml")) for p in found)


# ----------------------------------------------------------------------------- paired KPIs
def test_recovery_time_of_shifted_deliveries():
    paired = np.arange(0.0, 20000.0, 60.0)
    assert recovery_time(paired, paired, 5000.0, 900.0, 20000.0) == 0.0
    # nothing delivered for 10 min after the end, then the same rate: window must slide
    # until at least 95 % of the paired deliveries fall after the gap
    injected = np.concatenate([paired[paired < 5000], paired[paired >= 5600]])
    t = recovery_time(injected, paired, 5000.0, 900.0, 20000.0)
    assert t == 580.0  # the window drops the delivery at 5580 s just after t = 580 s
    lo, hi = 5000 + t + 1e-6, 5000 + t + 900 + 1e-6
    n_inj = np.count_nonzero((injected >= lo) & (injected <= hi))
    n_pair = np.count_nonzero((paired >= lo) & (paired <= hi))
    assert n_inj >= 0.95 * n_pair


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_lost_output_of_one_deterministic_machine(engine):
    """A machine with constant 60 s cycles down for 30 min loses exactly 30 parts, recovers in 0 s."""
    line = yaml.safe_load("""
        line: single
        stations:
          - {id: src, kind: source}
          - {id: m, kind: machine, process_time: 60s}
          - {id: out, kind: sink}
        edges: [[src, m], [m, out]]
    """)
    sc = scenario("""
        scenario: outage
        line: l.yaml
        warmup: 1h
        duration: 8h
        replications: 2
        injections: [{at: 3h, station: m, down_for: 30min, reason: spindle alarm, attribution: customer}]
        criteria:
          - {id: LOST, kpi: lost_output, injection: 0, max: 30}
          - {id: REC, kpi: recovery_time, injection: 0, max: 0s}
          - {id: AV, kpi: availability, station: m, min: 0.95}
          - {id: TAV, kpi: technical_availability, station: m, min: 0.999}
    """, line=line)
    outcome = run_scenario(sc, engine=engine)
    by_id = {c["id"]: c for c in outcome.criteria}
    assert by_id["LOST"]["per_replication"] == [30.0, 30.0]
    assert by_id["REC"]["per_replication"] == [0.0, 0.0]
    assert by_id["AV"]["measured"] == pytest.approx(1 - 0.5 / 8)
    assert by_id["AV"]["verdict"] == "fail"
    assert by_id["TAV"]["measured"] == pytest.approx(1.0)
    assert outcome.verdict == "fail"


@pytest.mark.parametrize("text, fragment", [
    ("criteria: [{id: C1, kpi: lost_output, injection: 0, stat: p95, max: 3}]",
     "criteria[0].stat: does not apply"),
    ("criteria: [{id: C1, kpi: throughput, injection: 0, min: 3}]",
     "criteria[0].injection: does not apply"),
    ("criteria: [{id: C1, kpi: lost_output, injection: 0, window: 1min, max: 3}]",
     "criteria[0].window: does not apply"),
    ("injections: [{at: 20h, station: m, down_for: 5min}]", "injections[0].at: starts at or after"),
    ("injections: [{at: 2h, station: m, down_for: 0s}]", "injections[0].down_for: must be greater"),
])
def test_misplaced_keys_and_pointless_injections(text, fragment):
    found = problems(f"scenario: s\nline: l.yaml\ninjections: [{{at: 1h, station: m, down_for: 5min}}]\n"
                     f"{text}\n" if "injections" not in text else f"scenario: s\nline: l.yaml\n{text}\n")
    assert any(fragment in p for p in found), found


def test_recovery_window_is_clipped_at_the_end_of_the_run():
    """An outage ending 5 min before the end: a full 15 min window does not fit any more."""
    paired = np.arange(0.0, 10000.0, 60.0)
    assert recovery_time(paired, paired, 9700.0, 900.0, 10000.0) == 0.0


def test_overlapping_customer_outages_count_once():
    sc = scenario("""
        scenario: s
        line: l.yaml
        warmup: 0s
        duration: 4h
        replications: 1
        injections:
          - {at: 1h, station: m, down_for: 30min, attribution: customer}
          - {at: 1h, all: true, down_for: 30min, attribution: customer}
        criteria: [{id: T, kpi: technical_availability, station: m, min: 0.5}]
    """)
    outcome = run_scenario(sc, engine="reference")
    m = outcome.kpis["stations"]["m"]
    # down 30 min of 4 h, customer's: technical availability = working / (4 h - 30 min)
    expected = m["working"]["mean"] * 4 / 3.5
    assert m["technical_availability"]["mean"] == pytest.approx(expected)


def test_missing_line_file_names_the_scenario_field(tmp_path):
    from twin.scenario import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text("scenario: s\nline: nowhere.yaml\n")
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    assert str(exc.value).startswith(f"{path}: line: cannot use line file 'nowhere.yaml'")


def test_override_changes_only_the_station_it_names_when_the_file_shares_a_value():
    """m2's process time is a YAML alias of m1's: overriding m1 must leave m2 alone."""
    line_raw = yaml.safe_load("""
line: shared
stations:
  - {id: src, kind: source}
  - {id: m1, kind: machine, process_time: &pt {dist: constant, value: 10s}}
  - {id: m2, kind: machine, process_time: *pt}
  - {id: out, kind: sink}
edges: [[src, m1], [m1, m2], [m2, out]]
""")
    problems = []
    resolved = apply_overrides(line_raw, {"stations.m1.process_time.value": "5s"}, "s.yaml", problems)
    assert problems == []
    assert resolved["stations"][1]["process_time"]["value"] == "5s"
    assert resolved["stations"][2]["process_time"]["value"] == "10s"
    assert line_raw["stations"][1]["process_time"]["value"] == "10s"  # the file's document is untouched


def test_scenario_id_names_a_bundle_so_it_is_short():
    found = problems("scenario: " + "a" * 101 + "\nline: l.yaml\n")
    assert any("scenario: expected a scenario id of at most 100 characters" in p for p in found), found


def test_recovery_from_an_outage_that_outlasts_the_run_cannot_be_judged():
    found = problems("scenario: s\nline: l.yaml\nwarmup: 0s\nduration: 1h\n"
                     "injections: [{at: 50min, station: m, down_for: 2h}]\n"
                     "criteria: [{id: C, kpi: recovery_time, injection: 0, max: 1min}]\n")
    assert any("criteria[0].injection: injection 0 lasts to the end of the run" in p for p in found), found


def test_a_buffer_criterion_without_stat_reads_the_mean_where_only_that_exists():
    """SPEC §5: without `stat` a criterion reads `K`, or `K_mean` where only that exists, for a
    buffer's `occupancy` as for the line's `wip`."""
    sc = scenario("""
        scenario: s
        line: l.yaml
        warmup: 0s
        duration: 2h
        replications: 2
        criteria:
          - {id: OCC, kpi: occupancy, station: b, max: 3}
          - {id: WIP, kpi: wip, max: 10}
    """)
    assert [c.key for c in sc.criteria] == ["occupancy_mean", "wip_mean"]
    outcome = run_scenario(sc, engine="reference")
    by_id = {c["id"]: c for c in outcome.criteria}
    assert by_id["OCC"]["measured"] == outcome.kpis["stations"]["b"]["occupancy_mean"]["mean"]
    assert by_id["WIP"]["measured"] == outcome.kpis["line"]["wip_mean"]["mean"]


@pytest.mark.parametrize("key, value, fragment", [
    ("criteria", "0", "criteria: expected a list"), ("criteria", "false", "criteria: expected a list"),
    ("criteria", "''", "criteria: expected a list"), ("injections", "0", "injections: expected a list"),
    ("overrides", "false", "overrides: expected a mapping"), ("overrides", "''", "overrides: expected a mapping"),
])
def test_a_list_or_mapping_given_as_0_false_or_empty_text_is_a_problem(key, value, fragment):
    """Only an absent or null (`criteria:`) list means none: `criteria: 0` is no list of criteria,
    and a scenario with it must not pass as one without criteria."""
    found = problems(f"scenario: s\nline: l.yaml\n{key}: {value}\n")
    assert any(fragment in p for p in found), found
    assert scenario("scenario: s\nline: l.yaml\ncriteria:\ninjections:\noverrides:\n").criteria == ()


@pytest.mark.parametrize("first, second", [
    ("stations.m.process_time: 20s", "stations.1.process_time: 30s"),  # by id and by index
    ("stations.m.failures.spindle.ttr: 5min", "stations.m.failures.0.ttr: 6min"),  # by name, index
    ("'stations.m.failures.0': {name: spindle, ttf: 4h, ttr: 5min}",
     "stations.m.failures.spindle.ttr: 6min"),  # an item and a field in it
])
def test_two_overrides_of_the_same_field_are_a_problem(first, second):
    """The one that holds would depend on their order in the file: a problem at the second."""
    found = problems(f"scenario: s\nline: l.yaml\noverrides:\n  {first}\n  {second}\n")
    first_path, second_path = (text.split(":")[0].strip("'") for text in (first, second))
    assert found == [f"s.yaml: overrides.{second_path}: sets what {first_path} sets too: which one "
                     "holds would depend on their order"], found


@pytest.mark.parametrize("scenario_id", ['"two\\nlines"', '"tab\\there"', '"nul\\0"'])
def test_a_scenario_id_with_a_control_character_is_a_problem(scenario_id):
    """It is printed on the one line of its verdict (PASS id path) and names the bundle."""
    found = problems(f"scenario: {scenario_id}\nline: l.yaml\n")
    assert any(p.startswith("s.yaml: scenario: ") and "control character" in p for p in found), found
