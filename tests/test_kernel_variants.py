"""The fast kernel's two variants (`twin.engines.fast.state.is_plain`) give the same results.

The plain variant is compiled without the branches of features a plain line lacks, the
trace included; a plain line runs on either variant, and both must agree with the reference
engine (the general variant event for event, by its trace). Every feature outside the plain
set makes a line general.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import injections, plain_line_documents
from test_fast_engine import assert_results_equal, assert_traces_equal
from twin.compile import compile_line
from twin.engines import fast, reference
from twin.engines.fast import state
from twin.model.load import load_line
from twin.model.validate import validate

LINES = Path(__file__).resolve().parent.parent / "lines"


def run_variant(monkeypatch, line, plain: bool, *args, **kwargs):
    """The fast engine on `line`, packed for the given kernel variant."""
    with monkeypatch.context() as m:
        m.setattr(fast, "_arrays", lambda compiled, recording: state.line_arrays(compiled, plain=plain))
        return fast.run_replication(line, *args, **kwargs)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), doc=plain_line_documents(), seed=st.integers(0, 2**31 - 1))
def test_plain_lines_agree_on_both_variants_and_the_reference(monkeypatch, data, doc, seed):
    line = validate(doc, "<hypothesis>")
    assert state.is_plain(compile_line(line))
    horizon = 3 * 3600.0
    outages = data.draw(injections(line, horizon))
    args = (600.0, horizon, seed, 0)
    ref = reference.run_replication(line, *args, trace=True, injections=outages)
    general = run_variant(monkeypatch, line, False, *args, trace=True, injections=outages)
    assert_traces_equal(ref.trace, general.trace)
    assert_results_equal(ref, general)
    # untraced: a traced run takes the general variant
    plain = run_variant(monkeypatch, line, True, *args, injections=outages)
    assert_results_equal(ref, plain)


def test_benchmark_lines_are_plain():
    for n in (10, 20):
        assert state.is_plain(compile_line(load_line(LINES / f"bench_{n}.yaml")))


BASE = {"line": "serial", "stations": [
    {"id": "src", "kind": "source"},
    {"id": "m1", "kind": "machine", "process_time": 60},
    {"id": "b1", "kind": "buffer", "capacity": 2},
    {"id": "m2", "kind": "machine", "process_time": 50},
    {"id": "out", "kind": "sink"}],
    "edges": [["src", "m1"], ["m1", "b1"], ["b1", "m2"], ["m2", "out"]]}


def _station(doc, sid):
    return next(s for s in doc["stations"] if s["id"] == sid)


GENERAL = {
    "two products": lambda d: d.update(products=[{"id": "a", "mix": 0.5}, {"id": "b", "mix": 0.5}]),
    "scrap": lambda d: _station(d, "m2").update(scrap=0.1),
    "setup": lambda d: (d.update(products=[{"id": "a", "mix": 0.5}, {"id": "b", "mix": 0.5}]),
                        _station(d, "m1").update(setup=5)),
    "tool change": lambda d: _station(d, "m1").update(tool_change={"every": 3, "time": 30}),
    "load resource": lambda d: (d.update(resources=[{"id": "robot", "capacity": 1}]),
                                _station(d, "m1").update(load={"resource": "robot", "time": 5})),
    "unload resource": lambda d: (d.update(resources=[{"id": "robot", "capacity": 1}]),
                                  _station(d, "m1").update(unload={"resource": "robot", "time": 5})),
    "calendar": lambda d: _station(d, "m1").update(calendar={"period": 3600, "off": [[0, 600]]}),
    "line calendar": lambda d: d.update(calendar={"period": 3600, "off": [[0, 600]]}),
    "conveyor": lambda d: _station(d, "b1").update(kind="conveyor", travel_time=30),
    "several servers": lambda d: _station(d, "m2").update(servers=2),
    "routing": lambda d: (_station(d, "m1").update(route="round_robin"),
                          d["edges"].append(["m1", "out"])),
}


def test_the_base_line_is_plain():
    assert state.is_plain(compile_line(validate(copy.deepcopy(BASE), "base")))


@pytest.mark.parametrize("feature", sorted(GENERAL))
def test_every_other_feature_makes_a_line_general(feature):
    doc = copy.deepcopy(BASE)
    GENERAL[feature](doc)
    assert not state.is_plain(compile_line(validate(doc, feature)))


def test_rework_makes_a_line_general():
    doc = copy.deepcopy(BASE)
    _station(doc, "m2").update(route="probability")
    doc["edges"][-1:] = [{"from": "m2", "to": "out", "p": 0.9}, {"from": "m2", "to": "b1", "p": 0.1}]
    assert not state.is_plain(compile_line(validate(doc, "rework")))
