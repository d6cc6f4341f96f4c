"""Validation: every problem found at once, each naming file, field path and reason."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin import InputError, Line
from twin.model.load import load_line
from twin.model.validate import validate

BAD = Path(__file__).resolve().parent / "data" / "bad"

# file, expected field path ("" for a file-level problem), fragment of the message
CORPUS = [
    ("unknown_kind.yaml", "stations[1].kind", "unknown kind 'lathe'"),
    ("buffer_loop.yaml", "stations[1]", "form a loop of zero-time stations"),
    ("zero_time_path.yaml", "stations[0]", "releases parts with no gap and reaches a sink (or a station"),
    ("unknown_distribution.yaml", "stations[1].process_time.dist", "unknown distribution 'poisson'"),
    ("bad_duration.yaml", "stations[1].process_time", "bad duration '52 sec'"),
    ("negative_duration.yaml", "stations[1].setup", "negative"),
    ("negative_duration.yaml", "stations[1].failures[0].ttr.mean", "duration '-20min' is negative"),
    ("negative_capacity.yaml", "stations[2].capacity", "from 1 to 100,000, got -3"),
    ("probability_out_of_range.yaml", "edges[3].p", "expected a value in [0, 1], got 1.5"),
    ("probability_out_of_range.yaml", "edges[4].p", "got -0.5"),
    ("probabilities_not_summing.yaml", "stations[3].route", "sum to 0.9"),
    ("duplicate_ids.yaml", "stations[3].id", "duplicate station id 'op10'"),
    ("edge_unknown_node.yaml", "edges[1].to", "unknown node 'op99'"),
    ("no_source.yaml", "stations", "no source"),
    ("no_sink.yaml", "stations", "no sink"),
    ("sink_unreachable.yaml", "stations[2]", "no sink can be reached from 'op20'"),
    ("sink_unreachable.yaml", "stations[3]", "no sink can be reached from 'b2'"),
    ("product_no_way_out.yaml", "stations[1]", "product 'b' has no way out of 'b1'"),
    ("bad_cell_features.yaml", "resources[0].capacity", "from 1 to"),
    ("bad_cell_features.yaml", "calendar.off[0]", "start < end <= period"),
    ("bad_cell_features.yaml", "stations[2].load.resource", "unknown resource 'robot9'"),
    ("bad_cell_features.yaml", "stations[2].tool_change.every", "whole number from 1 to 1,000,000,000"),
    ("bad_cell_features.yaml", "stations[3].output", "got 'widget'"),
    ("bad_cell_features.yaml", "stations[3].inputs.op99", "is not a predecessor"),
    ("bad_cell_features.yaml", "stations[3].inputs", "predecessor 'load2' is missing"),
    ("yaml_syntax.yaml", "", "YAML syntax error at line 8, column"),
    ("duplicate_key.yaml", "", "duplicate key 'process_time' at line 8"),
    ("not_a_mapping.yaml", "", "expected a mapping at the top level"),
    ("empty.yaml", "", "empty"),
    ("binary.yaml", "", "binary file"),
    ("bad_syntax.json", "", "JSON syntax error at line 3, column"),
    ("bad.graphml", "", "GraphML syntax error at line 6"),
    ("undirected.graphml", "", "expected a directed graph"),
]


def problems_of(path) -> list:
    with pytest.raises(InputError) as info:
        load_line(path)
    return info.value.problems


@pytest.mark.parametrize("name, path, fragment", CORPUS, ids=[f"{c[0]}:{c[1]}" for c in CORPUS])
def test_bad_file_reports_path_and_reason(name, path, fragment):
    problems = problems_of(BAD / name)
    assert all(p.file == str(BAD / name) for p in problems)
    matching = [p for p in problems if p.path == path and fragment in p.message]
    assert matching, "\n".join(str(p) for p in problems)


def test_every_corpus_file_is_covered():
    covered = {name for name, _, _ in CORPUS} | {"several_problems.yaml"}
    assert sorted(p.name for p in BAD.iterdir()) == sorted(covered)


def test_problems_print_file_path_and_reason():
    (problem,) = problems_of(BAD / "edge_unknown_node.yaml")
    assert str(problem) == f"{BAD / 'edge_unknown_node.yaml'}: edges[1].to: unknown node 'op99': no station has this id"


def test_several_problems_are_reported_at_once():
    problems = problems_of(BAD / "several_problems.yaml")
    expected = [
        ("line", "bad id 'Several Problems'"),
        ("products", "sum to 1.2"),
        ("stations[1].capacity", "unknown field 'capacity' for a machine"),
        ("stations[1].process_time.c", "unknown product 'c'"),
        ("stations[1].process_time", "no distribution for product 'b', which can reach 'op10'"),
        ("stations[1].servers", "from 1 to 100,000, got 0"),
        ("stations[2].capacity", "required"),
        ("stations[3].process_time.cv", "must be > 0"),
        ("stations[3].scrap", "scrap probability in [0, 1], got 1.2"),
        ("edges[3].p", "route: probability"),
    ]
    missing = [e for e in expected if not any(p.path == e[0] and e[1] in p.message for p in problems)]
    assert not missing, "\n".join(str(p) for p in problems)
    assert len(problems) == len(expected)


def test_empty_text_file_with_only_comments(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("# nothing here\n\n", encoding="utf-8")
    assert "no line" in problems_of(path)[0].message


def test_non_utf8_text_is_rejected(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("line: caf\xe9\n".encode("latin-1"))
    assert "not UTF-8" in problems_of(path)[0].message


# --- field checks on a small line ------------------------------------------------------------

BASE = yaml.safe_load("""
line: base
products: [{id: a, mix: 0.6}, {id: b, mix: 0.4}]
stations:
  - {id: load, kind: source}
  - {id: op10, kind: machine, process_time: 52s}
  - {id: b1, kind: buffer, capacity: 4}
  - {id: conv1, kind: conveyor, capacity: 3, travel_time: 20s}
  - {id: insp, kind: machine, process_time: 10s, route: probability}
  - {id: unload, kind: sink}
edges:
  - [load, op10]
  - [op10, b1]
  - [b1, conv1]
  - [conv1, insp]
  - {from: insp, to: b1, p: 0.1}
  - {from: insp, to: unload, p: 0.9}
""")


def check(edit) -> list[tuple[str, str]]:
    """(path, message) of every problem of BASE after `edit(doc)`; [] when it validates."""
    doc = copy.deepcopy(BASE)
    edit(doc)
    try:
        validate(doc, "t.yaml")
    except InputError as exc:
        return [(p.path, p.message) for p in exc.problems]
    return []


def has(problems, path, fragment) -> bool:
    return any(p == path and fragment in m for p, m in problems)


def station(doc, sid):
    return next(s for s in doc["stations"] if s["id"] == sid)


def test_base_line_is_valid():
    assert check(lambda d: None) == []
    assert isinstance(validate(copy.deepcopy(BASE), "t.yaml"), Line)


@pytest.mark.parametrize("sid, key, value, path, fragment", [
    ("op10", "capacity", 4, "stations[1].capacity", "unknown field 'capacity' for a machine"),
    ("b1", "process_time", "5s", "stations[2].process_time", "unknown field 'process_time' for a buffer"),
    ("unload", "route", "order", "stations[5].route", "unknown field 'route' for a sink"),
    ("load", "failures", [], "stations[0].failures", "unknown field"),
    ("op10", "servers", True, "stations[1].servers", "whole number from 1 to 100,000, got True"),
    ("op10", "servers", 1.5, "stations[1].servers", "whole number"),
    ("b1", "capacity", 0, "stations[2].capacity", "from 1 to 100,000, got 0"),
    ("b1", "capacity", 10**23, "stations[2].capacity", "from 1 to 100,000, got 1000"),
    ("op10", "route", "random", "stations[1].route", "unknown routing policy 'random'"),
    ("op10", "scrap", 1.0000001, "stations[1].scrap", "[0, 1]"),
    ("op10", "scrap", -0.1, "stations[1].scrap", "[0, 1]"),
    ("op10", "scrap", "1%", "stations[1].scrap", "[0, 1]"),
    ("op10", "ideal_cycle_time", 0, "stations[1].ideal_cycle_time", "must be > 0"),
    ("op10", "ideal_cycle_time", {"c": "5s"}, "stations[1].ideal_cycle_time.c", "unknown product 'c'"),
    ("op10", "ideal_cycle_time", {"dist": "constant", "value": 5}, "stations[1].ideal_cycle_time", "not a distribution"),
    ("op10", "process_time", {"mean": "50s", "cv": 0.1}, "stations[1].process_time", "no key names a product"),
    ("op10", "process_time", {"dist": "lognormal", "mean": "50s"}, "stations[1].process_time.cv", "missing parameter"),
    ("op10", "process_time", {"a": "50s"}, "stations[1].process_time", "no distribution for product 'b'"),
    ("op10", "setup", "2 minutes", "stations[1].setup", "bad duration"),
    ("op10", "setup_matrix", {"a": {"z": "1min"}}, "stations[1].setup_matrix.a.z", "unknown product 'z'"),
    ("op10", "setup_matrix", {"q": {"a": "1min"}}, "stations[1].setup_matrix.q", "unknown product 'q'"),
    ("op10", "failures", {"name": "x"}, "stations[1].failures", "expected a list"),
    ("op10", "failures", [{"ttf": "1h", "ttr": "1min"}], "stations[1].failures[0].name", "required"),
    ("op10", "failures", [{"name": "x", "ttf": "1h"}], "stations[1].failures[0].ttr", "required"),
    ("op10", "failures", [{"name": "x", "basis": "wall", "ttf": "1h", "ttr": "1min"}],
     "stations[1].failures[0].basis", "unknown basis 'wall'"),
    ("op10", "failures", [{"name": "x", "ttf": 0, "ttr": "1min"}], "stations[1].failures[0].ttf", "must be > 0"),
    ("op10", "failures", [{"name": "x", "ttf": {"dist": "exponential", "mean": 0}, "ttr": "1min"}],
     "stations[1].failures[0].ttf.mean", "must be > 0"),
    ("op10", "failures", [{"name": "x", "ttf": "1h", "ttr": "1min"}, {"name": "x", "ttf": "2h", "ttr": "1min"}],
     "stations[1].failures[1].name", "duplicate failure name 'x'"),
    ("op10", "failures", [{"name": "x", "ttf": "1h", "ttr": "1min", "mttr": 5}],
     "stations[1].failures[0].mttr", "unknown field 'mttr'"),
    ("conv1", "travel_time", {"dist": "gamma", "mean": "20s", "cv": 0}, "stations[3].travel_time.cv", "must be > 0"),
    ("load", "release", "fast", "stations[0].release", "expected `saturated`"),
    ("load", "release", {}, "stations[0].release", "expected `saturated`"),
    ("load", "release", {"sequence": ["a", "c"]}, "stations[0].release.sequence[1]", "unknown product 'c'"),
    ("load", "release", {"sequence": []}, "stations[0].release.sequence", "non-empty list"),
    ("load", "release", {"interarrival": "-1"}, "stations[0].release.interarrival", "negative"),
    ("load", "release", {"rate": 5}, "stations[0].release.rate", "unknown field"),
    ("op10", "id", "OP10", "stations[1].id", "bad id 'OP10'"),
    ("op10", "id", 10, "stations[1].id", "10 is a number, but a station id is text: write it in quotes"),
    ("op10", "description", ["x"], "stations[1].description", "expected text"),
    ("op10", "tool_change", {"every": 5}, "stations[1].tool_change", "expected {every: parts, time"),
    ("op10", "load", {"resource": "robot"}, "stations[1].load", "expected {resource: id, time"),
    ("op10", "calendar", {"period": "8h", "off": [["1h", "2h"], ["1.5h", "3h"]]},
     "stations[1].calendar.off[1]", "must not overlap"),
    ("unload", "calendar", {"off": [["1h", "2h"]]}, "stations[5].calendar", "expected {period: duration"),
])
def test_station_field_problems(sid, key, value, path, fragment):
    def edit(doc):
        station(doc, sid)[key] = value
    problems = check(edit)
    assert has(problems, path, fragment), problems


def test_missing_kind_and_missing_required_fields():
    def edit(doc):
        del station(doc, "op10")["process_time"]
        del station(doc, "conv1")["travel_time"]
        del station(doc, "b1")["kind"]
    problems = check(edit)
    assert has(problems, "stations[1].process_time", "required")
    assert has(problems, "stations[3].travel_time", "required")
    assert has(problems, "stations[2].kind", "required: one of source, machine")


@pytest.mark.parametrize("edit, path, fragment", [
    (lambda d: d.__setitem__("line", "Base Line"), "line", "bad id"),
    (lambda d: d.pop("line"), "line", "required"),
    (lambda d: d.__setitem__("version", 2), "version", "unknown top-level field 'version'"),
    (lambda d: d.__setitem__("calendar", {}), "calendar", "expected {period: duration"),
    (lambda d: d.__setitem__("resources", [{"id": "r", "capacity": 1}, {"id": "r", "capacity": 2}]),
     "resources[1].id", "duplicate resource id 'r'"),
    (lambda d: d.__setitem__("description", 5), "description", "expected text"),
    (lambda d: d.pop("stations"), "stations", "required"),
    (lambda d: d.__setitem__("stations", {"load": {}}), "stations", "expected a list"),
    (lambda d: d.pop("edges"), "edges", "required"),
    (lambda d: d.__setitem__("products", []), "products", "non-empty list"),
    (lambda d: d["products"][1].pop("mix"), "products", "sum to 0.6; they must sum to 1, since source 'load'"),
    (lambda d: d["products"][1].__setitem__("mix", 1.4), "products[1].mix", "[0, 1]"),
    (lambda d: d["products"][1].__setitem__("mix", 0.3), "products", "sum to 0.9"),
    (lambda d: d["products"][1].__setitem__("id", "a"), "products[1].id", "duplicate product id 'a'"),
    (lambda d: d["products"][1].__setitem__("id", "B"), "products[1].id", "bad id"),
    (lambda d: d["products"].__setitem__(1, "b"), "products[1]", "expected a mapping"),
])
def test_top_level_and_product_problems(edit, path, fragment):
    problems = check(edit)
    assert has(problems, path, fragment), problems


def test_a_line_id_names_a_folder_so_it_is_at_most_100_characters():
    assert check(lambda d: d.__setitem__("line", "a" * 100)) == []
    (problem,) = check(lambda d: d.__setitem__("line", "a" * 101))
    assert (problem[0], "at most 100 characters" in problem[1]) == ("line", True)

@pytest.mark.parametrize("stations", ["missing", None, {"load": {}}, "load", []])
def test_a_missing_stations_list_is_one_problem_not_one_per_edge_end(stations):
    def edit(doc):
        if stations == "missing":
            del doc["stations"]
        else:
            doc["stations"] = stations
    found = check(edit)
    assert [path for path, _ in found if path.startswith("stations")] and \
        not [path for path, _ in found if path.startswith("edges")], found

def test_single_product_may_omit_mix_but_not_have_another_share():
    assert check(lambda d: d.__setitem__("products", [{"id": "only"}])) == []
    problems = check(lambda d: d.__setitem__("products", [{"id": "only", "mix": 0.5}]))
    assert has(problems, "products", "sum to 0.5")


@pytest.mark.parametrize("edit, path, fragment", [
    (lambda d: d["edges"].append(["op10", "op10"]), "edges[6]", "self-loop on 'op10'"),
    (lambda d: d["edges"].append(["op10", "b1"]), "edges[6]", "duplicate edge op10 -> b1 (first at edges[1])"),
    (lambda d: d["edges"].append(["op10", "load"]), "edges[6].to", "may not lead into a source"),
    (lambda d: d["edges"].append(["unload", "b1"]), "edges[6].from", "may not leave a sink"),
    (lambda d: d["edges"].append(["op10"]), "edges[6]", "expected [from, to]"),
    (lambda d: d["edges"].append("op10 -> b1"), "edges[6]", "expected [from, to]"),
    (lambda d: d["edges"].append({"from": "op10"}), "edges[6].to", "required"),
    (lambda d: d["edges"].append({"from": "op10", "to": "unload", "weight": 2}), "edges[6].weight",
     "unknown field 'weight' for an edge"),
    (lambda d: d["edges"].append([3, "unload"]), "edges[6].from", "3 is a number, but a station id is text"),
    (lambda d: d["edges"].append([None, "unload"]), "edges[6].from", "expected a station id, got None"),
    (lambda d: d["edges"][1].__setitem__(0, "op11"), "edges[1].from", "unknown node 'op11'"),
    (lambda d: d["edges"][4].pop("p"), "edges[4].p", "required: 'insp' routes by probability"),
    (lambda d: d["edges"][4].__setitem__("p", "10%"), "edges[4].p", "expected a probability"),
    (lambda d: d["edges"].__setitem__(1, {"from": "op10", "to": "b1", "p": 1.0}), "edges[1].p",
     "only read on edges out of a node with route: probability ('op10' routes by order)"),
    (lambda d: d["edges"].__setitem__(1, {"from": "op10", "to": "b1", "products": ["c"]}),
     "edges[1].products[0]", "unknown product 'c'"),
    (lambda d: d["edges"].__setitem__(1, {"from": "op10", "to": "b1", "products": []}),
     "edges[1].products", "non-empty list"),
    (lambda d: d["edges"].__setitem__(1, {"from": "op10", "to": "b1", "products": ["a"]}),
     "stations[1]", "product 'b' has no way out of 'op10'"),
    (lambda d: d["edges"][4].__setitem__("products", ["a"]) or d["edges"][5].__setitem__("products", ["a"]),
     "stations[4]", "product 'b' has no way out of 'insp'"),
    (lambda d: d["edges"][4].__setitem__("p", 0.0) or d["edges"][5].__setitem__("p", 1.0)
     or d["edges"][5].__setitem__("products", ["a"]),
     "stations[4]", "product 'b' has no way out of 'insp': none of its out-edges admits it with p > 0"),
    (lambda d: d["edges"][4].__setitem__("p", 1.0) or d["edges"][5].__setitem__("p", 0.0),
     "stations[2]", "product 'a' is caught in the loop b1, conv1, insp"),
    (lambda d: d["edges"].__setitem__(0, {"from": "load", "to": "op10", "products": ["a"]}),
     "stations[0]", "product 'b' has no way out of 'load'"),
])
def test_edge_and_routing_problems(edit, path, fragment):
    problems = check(edit)
    assert has(problems, path, fragment), problems


def test_edges_with_product_filters_that_cover_every_product_are_fine():
    def edit(doc):
        doc["edges"][1] = {"from": "op10", "to": "b1", "products": ["a"]}
        doc["edges"].append({"from": "op10", "to": "conv1", "products": ["b"]})
    assert check(edit) == []


def test_product_never_released_needs_no_way_out():
    def edit(doc):
        station(doc, "load")["release"] = {"sequence": ["a"]}
        doc["edges"][1] = {"from": "op10", "to": "b1", "products": ["a"]}
    assert check(edit) == []


def test_process_time_map_needs_only_the_products_that_reach_the_station():
    def edit(doc):  # b goes round op10 to the conveyor: op10 sees only a
        doc["edges"][0] = {"from": "load", "to": "op10", "products": ["a"]}
        doc["edges"].append({"from": "load", "to": "conv1", "products": ["b"]})
        station(doc, "op10")["process_time"] = {"a": "50s"}
    assert check(edit) == []
    problems = check(lambda d: edit(d) or station(d, "insp").__setitem__("process_time", {"b": "9s"}))
    assert problems == [("stations[4].process_time",
                         "no distribution for product 'a', which can reach 'insp'")]


def test_setup_matrix_entry_for_the_same_product_is_accepted_and_never_drawn():
    doc = copy.deepcopy(BASE)
    station(doc, "op10")["setup_matrix"] = {"a": {"a": "1min", "b": "2min"}}
    line = validate(doc, "base.yaml")
    assert set(line.stations[1].setup_matrix) == {("a", "b")}


@pytest.mark.parametrize("products, release", [
    ([{"id": "a", "mix": 0.6}, {"id": "b", "mix": 0.4}, {"id": "c"}], "saturated"),  # c: mix 0
    ([{"id": "a"}, {"id": "b"}], {"sequence": ["a", "b"]}),  # sequences use no mix
])
def test_mix_may_be_left_out_where_no_source_draws_the_product(products, release):
    def edit(doc):
        doc["products"] = products
        station(doc, "load")["release"] = release
    assert check(edit) == []


def test_station_without_in_or_out_edges():
    def edit(doc):
        doc["stations"].insert(2, {"id": "op15", "kind": "machine", "process_time": "5s"})
    problems = check(edit)
    assert has(problems, "stations[2]", "'op15' has no out-edge")
    assert has(problems, "stations[2]", "'op15' has no in-edge")


def test_a_mistyped_edge_is_reported_once_not_as_disconnected_stations():
    problems = check(lambda d: d["edges"][2].__setitem__(1, "conv2"))
    assert problems == [("edges[2].to", "unknown node 'conv2': no station has this id")]



def test_a_source_with_an_unusable_id_is_not_reported_missing_too():
    problems = check(lambda d: d["stations"][0].__setitem__("id", 1))
    assert has(problems, "stations[0].id", "1 is a number, but a station id is text")
    assert not any("no source" in message for _, message in problems), problems

DIGIT_IDS = """
line: digits
products: [{id: "1", mix: 0.5}, {id: "2", mix: 0.5}]
resources: [{id: "7"}]
stations:
  - {id: src, kind: source, release: {sequence: [1, "2"]}}
  - {id: "30", kind: machine, process_time: {1: 5s, "2": 6s}, setup_matrix: {"1": {2: 1min}},
     load: {resource: 7, time: 1s}}
  - {id: src2, kind: source}
  - {id: "40", kind: assembly, process_time: 5s, inputs: {30: 1, src2: 1}, output: 1}
  - {id: 50, kind: sink}
edges: [[src, 30], {from: "30", to: "40", products: [1]}, [src2, "40"], ["40", "50"]]
"""


def test_an_id_written_as_a_number_is_a_problem_saying_so():
    """YAML reads an unquoted 30 as a number (010 as 8): ids are text, and the message says
    so where a vague `unknown product 1 (products: 1, 2)` used to be."""
    with pytest.raises(InputError) as exc:
        validate(yaml.safe_load(DIGIT_IDS), "digits.yaml")
    numbers = {p.path: p.message for p in exc.value.problems if "is a number" in p.message}
    assert numbers == {
        "stations[0].release.sequence[0]": "1 is a number, but a product id is text: write it in quotes",
        "stations[1].process_time.1": "1 is a number, but a product id is text: write it in quotes",
        "stations[1].setup_matrix.1.2": "2 is a number, but a product id is text: write it in quotes",
        "stations[1].load.resource": "7 is a number, but a resource id is text: write it in quotes",
        "stations[3].inputs.30": "30 is a number, but a station id is text: write it in quotes",
        "stations[3].output": "1 is a number, but a product id is text: write it in quotes",
        "stations[4].id": "50 is a number, but a station id is text: write it in quotes",
        "edges[0].to": "30 is a number, but a station id is text: write it in quotes",
        "edges[1].products[0]": "1 is a number, but a product id is text: write it in quotes",
    }
    assert not any(p.path == "stations[1].process_time" and "no key names a product" in p.message
                   for p in exc.value.problems)
    assert not any("predecessor" in p.message for p in exc.value.problems)


def test_zero_process_time_is_allowed():
    assert check(lambda d: station(d, "op10").__setitem__("process_time", 0)) == []


ZERO_TIME_LINE = """
line: zero
stations:
  - {id: src, kind: source}
  - {id: m, kind: machine, process_time: 10s}
  - {id: belt, kind: conveyor, capacity: 2, travel_time: 5s}
  - {id: out, kind: sink}
edges: [[src, m], [m, belt], [belt, out]]
"""


@pytest.mark.parametrize("station_id, key, value", [
    ("m", "process_time", 0),
    ("m", "process_time", {"dist": "uniform", "low": 0, "high": 0}),
    ("m", "process_time", {"dist": "empirical", "values": [0, "0s"]}),
    ("src", "release", {"interarrival": "0s"}),
])
def test_parts_released_endlessly_in_zero_time_are_a_problem(station_id, key, value):
    """Time would never advance: a source without gap, then only zero-time stations to a sink
    (here the conveyor's travel is made 0 as well, or the source's own gap is 0)."""
    doc = yaml.safe_load(ZERO_TIME_LINE)
    station(doc, "belt")["travel_time"] = 0
    if station_id == "src":
        station(doc, "m")["process_time"] = 0
    station(doc, station_id)[key] = value
    with pytest.raises(InputError) as exc:
        validate(doc, "zero.yaml")
    assert [(p.path, "releases parts with no gap" in p.message) for p in exc.value.problems] == \
        [("stations[0]", True)]


def test_a_zero_time_station_that_scraps_every_part_is_an_endless_release():
    """scrap 1 ends every part at the station, as a sink would: with a process time of 0 the
    saturated source would refill it forever at one instant."""
    doc = yaml.safe_load(ZERO_TIME_LINE)
    station(doc, "m").update(process_time=0, scrap=1.0)
    with pytest.raises(InputError) as exc:
        validate(doc, "zero.yaml")
    assert [(p.path, "releases parts with no gap" in p.message) for p in exc.value.problems] == \
        [("stations[0]", True)]
    station(doc, "m")["scrap"] = 0.5  # half the parts go on to the conveyor, which takes time
    validate(doc, "zero.yaml")

@pytest.mark.parametrize("edit", [
    lambda doc: station(doc, "m").__setitem__("load", {"resource": "r", "time": "5s"}),
    lambda doc: (doc["stations"].insert(3, {"id": "feed", "kind": "machine", "process_time": "30s"}),
                 doc["edges"].extend([["src", "feed"], ["feed", "m"]]),
                 station(doc, "m").update(kind="assembly", inputs={"src": 1, "feed": 1}, output="part")),
])
def test_a_zero_time_station_that_waits_for_something_else_is_fine(edit):
    """A robot's load time, or an assembly's other input, paces the zero-time station."""
    doc = yaml.safe_load(ZERO_TIME_LINE)
    doc["resources"] = [{"id": "r"}]
    station(doc, "m")["process_time"] = 0
    station(doc, "belt")["travel_time"] = 0
    edit(doc)
    validate(doc, "zero.yaml")


def test_one_station_that_takes_time_on_the_way_is_enough():
    doc = yaml.safe_load(ZERO_TIME_LINE)
    station(doc, "m")["process_time"] = {"dist": "uniform", "low": 0, "high": "1s"}
    station(doc, "belt")["travel_time"] = 0
    validate(doc, "zero.yaml")


def long_buffer_line(last_capacity: int, resources: int = 0) -> dict:
    """src, m, 19 buffers of 100,000 places and one of `last_capacity`, out: 1,900,002 +
    last_capacity places."""
    buffers = [{"id": f"b{i}", "kind": "buffer", "capacity": 100_000} for i in range(19)]
    buffers.append({"id": "b19", "kind": "buffer", "capacity": last_capacity})
    chain = ["src", "m"] + [b["id"] for b in buffers] + ["out"]
    return {"line": "long", "resources": [{"id": f"r{i}"} for i in range(resources)],
            "stations": [{"id": "src", "kind": "source"}, {"id": "m", "kind": "machine", "process_time": "5s"},
                         *buffers, {"id": "out", "kind": "sink"}],
            "edges": [list(pair) for pair in zip(chain, chain[1:])]}


def test_the_whole_line_has_at_most_two_million_places():
    """500 buffers of 100,000 places would make the fast engine preallocate 13 GB per replication."""
    validate(long_buffer_line(99_998), "long.yaml")  # 2,000,000 places
    with pytest.raises(InputError) as exc:
        validate(long_buffer_line(99_999), "long.yaml")
    assert [(p.path, p.message) for p in exc.value.problems] == [
        ("stations", "the line has 2,000,001 places (servers, capacities, sources and assembly inputs); "
                     "at most 2,000,000: the fast engine preallocates every place, about 270 bytes each "
                     "per replication")]


def test_resources_times_places_are_limited():
    validate(long_buffer_line(98, resources=10), "long.yaml")  # 10 x 1,900,100
    with pytest.raises(InputError) as exc:
        validate(long_buffer_line(98, resources=11), "long.yaml")
    assert [(p.path, p.message) for p in exc.value.problems] == [
        ("resources", "11 resources x 1,900,100 places = 20,901,100; at most 20,000,000: the fast engine "
                      "gives each resource a request queue with room for every place of the line")]


def test_top_level_not_a_mapping():
    with pytest.raises(InputError, match="expected a mapping"):
        validate(["line"], "x.yaml")


# --- never a traceback -----------------------------------------------------------------------

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=6),
    st.sampled_from(["52s", "-1s", "saturated", "probability", "a", "b", "op10", "machine", "sink"]),
    st.lists(st.sampled_from(["a", "b", "op10", 1]), max_size=3),
    st.dictionaries(st.sampled_from(["dist", "mean", "cv", "a", "values", "name", "ttf"]),
                    st.sampled_from(["exponential", "5s", 0.1, -1, ["x"], None]), max_size=3),
)


def _paths(obj, prefix=()):
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        yield from _paths(value, prefix + (key,))


PATHS = [p for p in _paths(BASE) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), JUNK), min_size=1, max_size=3))
def test_mangled_documents_give_input_errors_only(edits):
    doc = copy.deepcopy(BASE)
    for path, value in edits:
        target = doc
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        line = validate(doc, "fuzz.yaml")
    except InputError as exc:
        assert exc.problems and all(p.file == "fuzz.yaml" and p.message for p in exc.problems)
    else:
        assert isinstance(line, Line)


def test_a_mix_draw_never_picks_a_product_without_share():
    """Shares may sum to 1 - 1e-9; a draw above that sum takes the last product with a share
    (here b), not the output-only product c listed after it."""
    doc = copy.deepcopy(BASE)
    doc["products"] = [{"id": "a", "mix": 0.3}, {"id": "b", "mix": 0.7 - 5e-10}, {"id": "c"}]
    thresholds = validate(doc, "base.yaml").mix_thresholds()
    assert thresholds == (0.3, float("inf"), float("inf"))
    assert int(np.searchsorted(thresholds, 1 - 1e-12, side="right")) == 1


MAPS_FOR_LISTS = """\
line: maps
products: {a: {mix: 0.5}, b: {mix: 0.5}}
resources: {robot: 1}
stations:
  - {id: src, kind: source, release: {sequence: [a, b]}}
  - {id: m1, kind: machine, process_time: {a: 10s, b: 12s}, setup_matrix: {a: {b: 5s}},
     load: {resource: robot, time: 2s}}
  - {id: out, kind: sink}
edges: [[src, m1], {from: m1, to: out, products: [a, b]}]
"""


def test_products_or_resources_written_as_a_map_are_one_problem_each(tmp_path):
    """A map where a list belongs is one problem, not also one per reference to its ids."""
    path = tmp_path / "maps.yaml"
    path.write_text(MAPS_FOR_LISTS)
    problems = problems_of(path)
    assert [p.path for p in problems] == ["products", "resources"], "\n".join(map(str, problems))
    assert "got a map" in problems[0].message
