"""Loading lines from YAML, JSON (canonical and node-link), GraphML and networkx graphs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import yaml

from twin import InputError, Line
from twin.model import load as load_module
from twin.model.load import graph_from_line, load_line, raw_from_graph, read_document, write_graphml

ROOT = Path(__file__).resolve().parent.parent
LINES = sorted((ROOT / "lines").glob("*.yaml"))

# Edges are listed grouped by source station, in station order: the order a
# networkx graph gives them back, so every form yields the very same Line.
LINE_YAML = """\
line: test-cell
description: "[draft] two products, rework loop, conveyor"
products:
  - {id: shaft-a, mix: 0.7}
  - {id: shaft-b, mix: 0.3}
stations:
  - {id: load, kind: source, release: {interarrival: {dist: exponential, mean: 70s}}}
  - {id: b1, kind: buffer, capacity: 8, route: shortest_queue}
  - id: op10
    kind: machine
    servers: 2
    process_time: {dist: lognormal, mean: 52s, cv: 0.08}
    ideal_cycle_time: 50s
    failures:
      - {name: spindle, basis: operating, ttf: {dist: exponential, mean: 8h},
         ttr: {dist: lognormal, mean: 20min, cv: 0.6}}
    scrap: 0.005
  - id: op20
    kind: machine
    process_time: {shaft-a: 48s, shaft-b: {dist: normal, mean: 61s, sd: 3s}}
    setup: {dist: constant, value: 4min}
    setup_matrix: {shaft-a: {shaft-b: 250ms}}
  - id: conv1
    kind: conveyor
    capacity: 6
    travel_time: 30
    failures:
      - {name: belt, basis: calendar, ttf: {dist: weibull, shape: 1.5, scale: 1.5d}, ttr: 0.5h}
  - {id: insp, kind: machine, process_time: {dist: empirical, values: [20s, 22s, 25s]}, route: probability}
  - {id: unload, kind: sink}
edges:
  - [load, b1]
  - [b1, op10]
  - [b1, op20]
  - [op10, conv1]
  - {from: op20, to: conv1, products: [shaft-a, shaft-b]}
  - [conv1, insp]
  - {from: insp, to: b1, p: 0.08}
  - {from: insp, to: unload, p: 0.92}
"""


def same_line(a: Line, b: Line) -> None:
    assert a.id == b.id
    assert a.description == b.description
    assert a.products == b.products
    assert a.stations == b.stations
    assert a.edges == b.edges


@pytest.fixture
def yaml_line(tmp_path) -> Line:
    path = tmp_path / "line.yaml"
    path.write_text(LINE_YAML, encoding="utf-8")
    return load_line(path)


def write_form(form: str, tmp_path: Path) -> Path:
    """The test line written in one of the accepted forms."""
    raw = yaml.safe_load(LINE_YAML)
    graph = graph_from_line(load_line(_write(tmp_path / "src.yaml", LINE_YAML)))
    if form == "yml":
        return _write(tmp_path / "line.yml", LINE_YAML)
    if form == "json":
        return _write(tmp_path / "line.json", json.dumps(raw, indent=2))
    if form == "node-link":
        return _write(tmp_path / "line.json", json.dumps(nx.node_link_data(graph)))
    if form == "node-link-links":
        return _write(tmp_path / "line.json", json.dumps(nx.node_link_data(graph, edges="links")))
    if form == "graphml":
        write_graphml(graph, tmp_path / "line.graphml")
        return tmp_path / "line.graphml"
    raise AssertionError(form)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("form", ["yml", "json", "node-link", "node-link-links", "graphml"])
def test_every_file_form_gives_the_same_line(form, tmp_path, yaml_line):
    line = load_line(write_form(form, tmp_path))
    same_line(line, yaml_line)
    assert line.source_file.endswith(("line.yml", "line.json", "line.graphml"))


LISTED_ORDER = """\
line: listed
stations:
  - {id: a, kind: source}
  - {id: b, kind: source}
  - {id: m, kind: machine, process_time: 10s}
  - {id: out, kind: sink}
edges: [[b, m], [a, m], [m, out]]
"""

LISTED_GRAPHML = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="k" for="node" attr.name="kind" attr.type="string" />
  <key id="t" for="node" attr.name="process_time" attr.type="string" />
  <key id="l" for="graph" attr.name="line" attr.type="string" />
  <graph edgedefault="directed">
    <node id="a"><data key="k">source</data></node>
    <node id="b"><data key="k">source</data></node>
    <node id="m"><data key="k">machine</data><data key="t">10s</data></node>
    <node id="out"><data key="k">sink</data></node>
    <edge source="b" target="m" />
    <edge source="a" target="m" />
    <edge source="m" target="out" />
    <data key="l">listed</data>
  </graph>
</graphml>
"""


def test_edges_keep_the_order_every_file_form_lists_them(tmp_path):
    """The order edges are listed decides routing and the pull rule's ties (SPEC §3.2), so a
    node-link or GraphML file's edges keep their order, as a YAML file's do, and are not
    regrouped by source node (networkx's `G.edges` would put a -> m first)."""
    doc = yaml.safe_load(LISTED_ORDER)
    node_link = {"directed": True, "multigraph": False, "graph": {"line": "listed"},
                 "nodes": [{"id": s.pop("id"), **s} for s in doc["stations"]],
                 "links": [{"source": u, "target": v} for u, v in doc["edges"]]}
    forms = [_write(tmp_path / "l.yaml", LISTED_ORDER), _write(tmp_path / "l.json", json.dumps(node_link)),
             _write(tmp_path / "l.graphml", LISTED_GRAPHML)]
    for path in forms:
        line = load_line(path)
        assert [(e.source, e.target) for e in line.edges] == [("b", "m"), ("a", "m"), ("m", "out")], path

@pytest.mark.parametrize("form", ["node-link", "node-link-links", "graphml"])
def test_a_graph_file_problem_names_the_field_as_the_file_does(form, tmp_path):
    """`stations[2].servers` of a node-link file is its `nodes[2].servers`, `edges[1].p` its
    `links[1].p` (or `edges[1].p`); in GraphML, the node's and the edge's own elements."""
    graph = graph_from_line(load_line(_write(tmp_path / "src.yaml", LINE_YAML)))
    node = list(graph.nodes)[2]
    source, target = list(graph.edges)[1]
    graph.nodes[node]["servers"] = 0
    graph.edges[source, target]["p"] = "x"
    if form == "graphml":
        write_graphml(graph, tmp_path / "g.graphml")
        path = tmp_path / "g.graphml"
        expected = [f'<node id="{node}">.servers', f'<edge source="{source}" target="{target}">.p']
    else:
        edges = "links" if form == "node-link-links" else "edges"
        path = _write(tmp_path / "g.json", json.dumps(nx.node_link_data(graph, edges=edges)))
        expected = ["nodes[2].servers", f"{edges}[1].p"]
    with pytest.raises(InputError) as info:
        load_line(path)
    assert [p.path for p in info.value.problems] == expected
    assert "whole number" in info.value.problems[0].message


def test_networkx_graph_gives_the_same_line(yaml_line):
    G = nx.DiGraph(line="test-cell", description="[draft] two products, rework loop, conveyor",
                   products=[{"id": "shaft-a", "mix": 0.7}, {"id": "shaft-b", "mix": 0.3}])
    raw = yaml.safe_load(LINE_YAML)
    for station in raw["stations"]:
        G.add_node(station["id"], **{k: v for k, v in station.items() if k != "id"})
    for edge in raw["edges"]:
        if isinstance(edge, list):
            G.add_edge(*edge)
        else:
            G.add_edge(edge["from"], edge["to"], **{k: v for k, v in edge.items() if k not in ("from", "to")})
    line = Line.from_graph(G)
    same_line(line, yaml_line)
    assert line.source_file == "<graph>"


def _as_numpy(value):
    """`value` with every int an np.int64 and every float an np.float32, nested too."""
    if isinstance(value, dict):
        return {k: _as_numpy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_numpy(v) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return np.int64(value) if isinstance(value, int) else np.float32(value)


def test_numpy_numbers_in_a_graph_are_the_python_numbers(yaml_line):
    """A float32 counts as the number it prints as: p 0.08 and 0.92 still sum to 1."""
    G = yaml_line.to_graph()
    numpy_graph = nx.DiGraph(**_as_numpy(G.graph))
    numpy_graph.add_nodes_from((n, _as_numpy(a)) for n, a in G.nodes(data=True))
    numpy_graph.add_edges_from((u, v, _as_numpy(a)) for u, v, a in G.edges(data=True))
    assert isinstance(numpy_graph.nodes["b1"]["capacity"], np.int64)
    same_line(Line.from_graph(numpy_graph), yaml_line)
    numpy_graph.nodes["b1"]["capacity"] = np.bool_(True)
    numpy_graph.nodes["insp"]["process_time"]["values"] = np.array([20, 22, 25], np.int16)
    with pytest.raises(InputError) as info:
        Line.from_graph(numpy_graph)
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("stations[1].capacity", "expected a whole number from 1 to 100,000, got True")]


def test_to_graph_round_trips(yaml_line):
    G = yaml_line.to_graph()
    assert isinstance(G, nx.DiGraph)
    assert G.graph["line"] == "test-cell"
    assert G.nodes["b1"] == {"kind": "buffer", "capacity": 8, "route": "shortest_queue"}
    assert G.edges["insp", "b1"] == {"p": 0.08}
    assert list(G.successors("b1")) == ["op10", "op20"]
    same_line(Line.from_graph(G), yaml_line)


def test_units_parse_to_seconds(yaml_line):
    op10 = yaml_line.station("op10")
    assert op10.process_time["shaft-a"].param("mean") == 52.0
    assert op10.failures[0].ttf.param("mean") == 8 * 3600.0
    assert op10.failures[0].ttr.param("mean") == 20 * 60.0
    assert op10.ideal_cycle_time == {"shaft-a": 50.0, "shaft-b": 50.0}
    op20 = yaml_line.station("op20")
    assert op20.setup.param("value") == 240.0
    assert op20.setup_matrix[("shaft-a", "shaft-b")].param("value") == 0.25
    assert op20.setup_between("shaft-a", "shaft-b").param("value") == 0.25
    assert op20.setup_between("shaft-b", "shaft-a").param("value") == 240.0
    assert op20.setup_between("shaft-a", "shaft-a") is None
    conv1 = yaml_line.station("conv1")
    assert conv1.travel_time.param("value") == 30.0
    assert conv1.failures[0].ttf.param("scale") == 1.5 * 86400.0
    assert conv1.failures[0].ttr.param("value") == 1800.0
    assert yaml_line.station("insp").process_time["shaft-b"].values == (20.0, 22.0, 25.0)
    assert yaml_line.station("load").release.interarrival.param("mean") == 70.0


def test_fields_are_built_and_expanded(yaml_line):
    assert yaml_line.product_ids == ("shaft-a", "shaft-b")
    assert [s.id for s in yaml_line.stations] == ["load", "b1", "op10", "op20", "conv1", "insp", "unload"]
    assert [s.places for s in yaml_line.stations] == [1, 8, 2, 1, 6, 1, 0]
    op20 = yaml_line.station("op20")
    assert set(op20.process_time) == {"shaft-a", "shaft-b"}
    assert op20.ideal_cycle_time == {"shaft-a": 48.0, "shaft-b": 61.0}  # default: each mean
    assert yaml_line.station("op10").scrap == 0.005
    assert yaml_line.station("conv1").failures[0].basis == "calendar"
    assert yaml_line.station("b1").route == "shortest_queue"
    assert [(e.target, e.p) for e in yaml_line.out_edges("insp")] == [("b1", 0.08), ("unload", 0.92)]
    assert yaml_line.out_edges("op20")[0].products == ("shaft-a", "shaft-b")
    assert yaml_line.out_edges("op10")[0].products is None
    assert [e.source for e in yaml_line.in_edges("b1")] == ["load", "insp"]
    assert yaml_line.raw["line"] == "test-cell"


def test_defaults_for_a_minimal_line(tmp_path):
    line = load_line(_write(tmp_path / "m.yaml", """
line: minimal
stations:
  - {id: load, kind: source}
  - {id: op10, kind: machine, process_time: {dist: uniform, low: 40s, high: 60s}}
  - {id: unload, kind: sink}
edges: [[load, op10], [op10, unload]]
"""))
    assert [(p.id, p.mix) for p in line.products] == [("part", 1.0)]
    assert line.description == ""
    load, op10, unload = line.stations
    assert load.release.interarrival is None and load.release.sequence == ()
    assert (op10.servers, op10.route, op10.scrap, op10.failures, op10.setup) == (1, "order", 0.0, (), None)
    assert op10.ideal_cycle_time == {"part": 50.0}
    assert unload.places == 0


def test_release_sequence_and_saturated(tmp_path):
    line = load_line(_write(tmp_path / "s.yaml", """
line: sequence
products: [{id: a, mix: 0.5}, {id: b, mix: 0.5}]
stations:
  - {id: load, kind: source, release: {sequence: [a, a, b]}}
  - {id: load2, kind: source, release: saturated}
  - {id: op10, kind: machine, process_time: 1min}
  - {id: unload, kind: sink}
edges: [[load, op10], [load2, op10], [op10, unload]]
"""))
    assert line.station("load").release.sequence == ("a", "a", "b")
    assert line.station("load2").release.interarrival is None


def test_graphml_attributes_hold_json_for_nested_specs():
    G = nx.DiGraph(line="g", products='[{"id": "a"}]', description="[not json")
    G.add_node("load", kind="source")
    G.add_node("op10", kind="machine", process_time='{"dist": "lognormal", "mean": "52s", "cv": 0.1}',
               failures='[{"name": "x", "ttf": "8h", "ttr": "10min"}]')
    G.add_node("unload", kind="sink")
    G.add_edge("load", "op10")
    G.add_edge("op10", "unload")
    raw = raw_from_graph(G)
    assert raw["description"] == "[not json"
    assert raw["products"] == [{"id": "a"}]
    assert raw["stations"][1]["process_time"] == {"dist": "lognormal", "mean": "52s", "cv": 0.1}
    line = Line.from_graph(G)
    assert line.station("op10").failures[0].ttr.param("value") == 600.0


def test_graph_attribute_that_is_broken_json_is_reported():
    G = nx.DiGraph(line="g")
    G.add_node("op10", kind="machine", process_time='{"dist": lognormal}')
    with pytest.raises(InputError) as info:
        raw_from_graph(G, "cell.graphml")
    (problem,) = info.value.problems
    assert (problem.file, problem.path) == ("cell.graphml", "stations[0].process_time")
    assert "JSON" in problem.message


@pytest.mark.parametrize("graph", [nx.MultiDiGraph(), nx.Graph()])
def test_graphs_that_are_not_digraphs_are_rejected(graph):
    graph.add_edge("a", "b")
    with pytest.raises(InputError, match="directed graph"):
        Line.from_graph(graph)


def test_attributes_that_repeat_what_the_graph_gives_are_problems():
    """An attribute `id` on a node, `from` or `to` on an edge, would be ignored."""
    G = nx.DiGraph(line="g")
    G.add_node("load", kind="source", id="feed")
    G.add_node("unload", kind="sink")
    G.add_edge("load", "unload", to="op10")
    with pytest.raises(InputError) as info:
        raw_from_graph(G, "mine")
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("stations[0].id", "attribute 'id' is not read: the graph itself gives the station id ('load')"),
        ("edges[0].to", "attribute 'to' is not read: the graph itself gives the edge's ends ('load' -> 'unload')")]


def test_node_without_kind_is_a_problem_not_a_crash():
    G = nx.DiGraph(line="g")
    G.add_edge("load", "unload")
    G.nodes["load"]["kind"] = "source"
    with pytest.raises(InputError) as info:
        Line.from_graph(G, "mine")
    paths = [(p.file, p.path) for p in info.value.problems]
    assert ("mine", "stations[1].kind") in paths


def test_read_document_returns_the_canonical_shape(tmp_path):
    raw = read_document(_write(tmp_path / "line.yaml", LINE_YAML))
    assert raw == yaml.safe_load(LINE_YAML)
    from_graphml = read_document(write_form("graphml", tmp_path))
    assert [s["id"] for s in from_graphml["stations"]] == [s["id"] for s in raw["stations"]]
    assert from_graphml["stations"][2]["failures"] == raw["stations"][2]["failures"]


@pytest.mark.parametrize("name, fragment", [
    ("line.txt", "unknown file type"),
    ("missing.yaml", "file not found"),
])
def test_unreadable_paths(tmp_path, name, fragment):
    if name.endswith(".txt"):
        _write(tmp_path / name, LINE_YAML)
    with pytest.raises(InputError, match=fragment) as info:
        load_line(tmp_path / name)
    assert info.value.problems[0].file == str(tmp_path / name)


def test_a_path_too_long_to_open_is_a_read_problem(tmp_path):
    """The file system refuses a name over 255 bytes: that is a problem of the input, reported
    as one (not as an output that cannot be written)."""
    path = tmp_path / ("x" * 300 + ".yaml")
    with pytest.raises(InputError, match="cannot read the file: File name too long") as info:
        load_line(path)
    assert info.value.problems[0].file == str(path)


def test_a_utf16_file_is_named_as_such(tmp_path):
    path = tmp_path / "line.yaml"
    path.write_bytes(LINE_YAML.encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16 text: save the file as UTF-8"):
        load_line(path)

@pytest.mark.parametrize("name", ["dir.yaml", "lines"])
def test_directory_is_not_a_line(tmp_path, name):
    """Named like a line file or not: a directory (not "unknown file type '(none)'")."""
    (tmp_path / name).mkdir()
    with pytest.raises(InputError, match="is a directory, not a line file"):
        load_line(tmp_path / name)


def test_line_load_is_load_line(tmp_path):
    same_line(Line.load(_write(tmp_path / "line.yaml", LINE_YAML)), load_line(tmp_path / "line.yaml"))


# --- the shipped example lines ---------------------------------------------------------------

@pytest.mark.parametrize("path", LINES, ids=[p.name for p in LINES])
def test_shipped_line_validates(path):
    line = load_line(path)
    assert path.read_text(encoding="utf-8").startswith("#"), "each line file starts with a comment header"
    assert any(s.kind == "source" for s in line.stations)
    assert line.id


def test_the_shipped_lines_are_there():
    assert [p.name for p in LINES] == sorted([
        "cnc_shaft_line.yaml", "flexible_cell.yaml", "mixed_two_product.yaml", "conveyor_line.yaml",
        "bench_10.yaml", "bench_20.yaml", "robot_cell.yaml", "drive_unit_assembly.yaml",
        "two_shift_line.yaml"])


BENCH_MEANS = [60, 66, 54, 72, 60, 57, 63, 60, 69, 54]


@pytest.mark.parametrize("n", [10, 20])
def test_bench_lines_follow_their_pattern(n):
    line = load_line(ROOT / "lines" / f"bench_{n}.yaml")
    machines = [f"op{i:02d}" for i in range(1, n + 1)]
    buffers = [f"b{i:02d}" for i in range(1, n)]
    assert line.product_ids == ("part",)
    assert line.station("load").kind == "source" and line.station("load").release.interarrival is None
    assert line.station("unload").kind == "sink"
    assert len(line.stations) == 2 * n + 1
    chain = ["load"] + [x for pair in zip(machines, buffers + ["unload"]) for x in pair]
    assert [(e.source, e.target) for e in line.edges] == list(zip(chain, chain[1:]))
    for i, op in enumerate(machines):
        m = line.station(op)
        assert m.kind == "machine" and m.servers == 1
        assert m.process_time["part"].kind == "exponential"
        assert m.process_time["part"].param("mean") == BENCH_MEANS[i % 10]
        (f,) = m.failures
        assert (f.name, f.basis) == ("breakdown", "operating")
        assert (f.ttf.kind, f.ttf.param("mean")) == ("exponential", 6000.0)
        assert (f.ttr.kind, f.ttr.param("mean")) == ("exponential", 300.0)
    for b in buffers:
        assert line.station(b).kind == "buffer" and line.station(b).places == 5


# --- YAML and JSON details ----------------------------------------------------------------

MERGED = """\
line: merged
stations:
  - {id: src, kind: source}
  - &cnc {id: m1, kind: machine, process_time: {dist: lognormal, mean: 50s, cv: 5e-2}}
  - {<<: *cnc, id: m2}
  - {id: out, kind: sink}
edges: [[src, m1], [m1, m2], [m2, out]]
"""


def test_yaml_merge_keys_may_be_overridden_and_exponents_need_no_dot(tmp_path):
    line = load_line(_write(tmp_path / "merged.yaml", MERGED))
    assert [s.id for s in line.stations] == ["src", "m1", "m2", "out"]
    assert line.station("m2").process_time["part"].param("cv") == 0.05


def test_yaml_control_character_gives_line_and_column(tmp_path):
    path = _write(tmp_path / "bell.yaml", "line: x\nstations: \x07\n")
    with pytest.raises(InputError) as exc:
        read_document(path)
    assert "line 2, column 11" in str(exc.value) and "#x0007" in str(exc.value)


def test_json_key_given_twice_is_a_problem(tmp_path):
    path = _write(tmp_path / "twice.json", '{"line": "a", "line": "b", "stations": [], "edges": []}')
    with pytest.raises(InputError, match="duplicate key 'line'"):
        read_document(path)


@pytest.mark.parametrize("edit, path, fragment", [
    (lambda d: d.__setitem__("graph", [1]), "graph", "expected a mapping"),
    (lambda d: d.__setitem__("nodes", {"a": 1}), "nodes", "expected a list of nodes"),
    (lambda d: d["nodes"].append(dict(d["nodes"][1])), "nodes[4].id", "duplicate node 'm1'"),
    (lambda d: d["links"].append({"source": "m1", "target": "zz"}), "links[3].target", "unknown node 'zz'"),
    (lambda d: d["links"].append(dict(d["links"][1])), "links[3]",
     "duplicate link 'm1' -> 'm2' (first at links[1]): a line holds one edge per pair of stations"),
    (lambda d: d["links"][0].__setitem__("from", "m2"), "links[0].from",
     "a node-link link names its ends `source` and `target`, not 'from'"),
    (lambda d: d["links"].append({"from": "m1", "to": "out"}), "links[3].source", "required: the id of a node"),
    (lambda d: d.__setitem__("edges", []), "edges", "as `links` or as `edges`, not both"),
    (lambda d: d.__setitem__("directed", "yes"), "directed", "expected true or false, got 'yes'"),
    (lambda d: d["graph"].__setitem__("stations", [{"id": "ghost", "kind": "source"}]), "stations",
     "graph attribute 'stations' is not read: the graph's nodes give the stations"),
    (lambda d: d["graph"].__setitem__("edges", [["ghost", "src"]]), "edges",
     "graph attribute 'edges' is not read"),
])
def test_node_link_problems_are_placed(tmp_path, edit, path, fragment):
    doc = json.loads(json.dumps(nx.node_link_data(nx.DiGraph(graph_from_line(load_line(
        _write(tmp_path / "m.yaml", MERGED)))), edges="links")))
    edit(doc)
    with pytest.raises(InputError) as exc:
        read_document(_write(tmp_path / "nl.json", json.dumps(doc)))
    assert any(p.path == path and fragment in p.message for p in exc.value.problems), exc.value.problems


def test_a_pipe_is_not_read(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_document(fifo)


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as f:
        f.truncate(load_module.MAX_FILE_BYTES + 1)  # sparse: no disk space taken
    monkeypatch.setattr(Path, "open", lambda *args, **kwargs: pytest.fail("read"))
    with pytest.raises(InputError, match=r"too large: more than 67,108,864 bytes \(64 MiB\)"):
        read_document(huge)


def test_a_file_that_does_not_tell_its_size_is_read_no_further_than_the_limit(tmp_path, monkeypatch):
    maps = tmp_path / "maps.yaml"
    maps.symlink_to("/proc/self/maps")  # size 0 to stat, much longer than 100 bytes
    monkeypatch.setattr(load_module, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputError, match="too large: more than 100 bytes"):
        read_document(maps)


def test_graphml_value_of_the_wrong_declared_type_names_node_and_attribute(tmp_path):
    path = tmp_path / "line.graphml"
    write_graphml(graph_from_line(load_line(ROOT / "lines" / "cnc_shaft_line.yaml")), path)
    text = re.sub(r'(attr.name="scrap" attr.type=")double', r"\1boolean", path.read_text())
    with pytest.raises(InputError) as exc:
        read_document(_write(tmp_path / "typed.graphml", text))
    assert "node 'op10', attribute 'scrap': '0.005' is not a boolean" in str(exc.value)


def merged_graphml(tmp_path) -> str:
    """The GraphML text of MERGED: nodes src, m1, m2, out (lines 7-20), edges from line 21."""
    write_graphml(graph_from_line(load_line(_write(tmp_path / "m.yaml", MERGED))), tmp_path / "m.graphml")
    return (tmp_path / "m.graphml").read_text()


@pytest.mark.parametrize("old, new, message", [
    ('<node id="m2">', '<node id="m1">', "line 14: node id 'm1' given twice (first at line 10)"),
    ('<node id="m2">', '<node>', "line 14: a <node> without an id"),
    ('target="out" />', 'target="nowhere" />',
     "line 23: edge 'm2' -> 'nowhere': unknown target node 'nowhere': no <node> has this id"),
    ('<edge source="src" target="m1" />', '<edge target="m1" />',
     "line 21: edge None -> 'm1': the edge has no source attribute"),
    ('<edge source="m1" target="m2" />', '<edge source="src" target="m1" />',
     "line 22: edge 'src' -> 'm1': given twice (first at line 21)"),
    ('<data key="d1">sink</data>', '<graph><node id="inner" /></graph>',
     "line 19: a second <graph>: a line file holds one graph"),
    ('  </graph>', '  </graph>\n  <graph edgedefault="directed" />', "line 26: a second <graph>"),
    ('<data key="d1">sink</data>', '<data key="d1">sink</data><port name="p" />', "line 19: a <port> element"),
    ('<data key="d1">sink</data>', '<data key="zz">sink</data>',
     "line 19: data for key 'zz', which no <key> declares"),
    ('attr.name="kind" attr.type="string"', 'attr.name="kind" attr.type="quaternion"',
     "line 4: key 'd1' has attr.type 'quaternion'"),
])
def test_graphml_structure_problems_name_the_line_and_the_ids(tmp_path, old, new, message):
    """networkx would merge the two nodes, add the unknown one, make a multigraph, skip the
    nested or second graph and the port, or fail without saying where."""
    text = merged_graphml(tmp_path)
    assert old in text
    with pytest.raises(InputError) as exc:
        read_document(_write(tmp_path / "edited.graphml", text.replace(old, new, 1)))
    assert any(p.path == "" and p.message.startswith(f"GraphML error at {message}")
               for p in exc.value.problems), exc.value.problems



@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE g [<!ENTITY x SYSTEM "file:///etc/passwd">]>',  # networkx's parser: undefined
    '<!DOCTYPE g [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',  # expansion
])
def test_graphml_with_a_doctype_is_one_problem(tmp_path, doctype):
    """GraphML never needs entities; an external one used to end in a traceback."""
    text = merged_graphml(tmp_path).replace("<graphml", f"{doctype}\n<graphml", 1)
    text = text.replace('<node id="m2">', '<node id="m2&x;">' if "SYSTEM" in doctype
                        else '<node id="m2&b;">', 1)
    with pytest.raises(InputError) as exc:
        read_document(_write(tmp_path / "doctype.graphml", text))
    assert [p.message for p in exc.value.problems] == [
        "GraphML error at line 2: a DOCTYPE declaration is not allowed in a line file"]

def described_graphml(tmp_path, encoding: str, codec: str) -> Path:
    """MERGED as GraphML with a non-ASCII description, in `codec`, declaring `encoding`."""
    graph = graph_from_line(load_line(_write(tmp_path / "m.yaml", MERGED)))
    graph.graph["description"] = "Drehteile f\u00fcr das Caf\u00e9"
    write_graphml(graph, tmp_path / "utf8.graphml")
    text = (tmp_path / "utf8.graphml").read_text(encoding="utf-8")
    path = tmp_path / "line.graphml"
    path.write_bytes(text.replace("encoding='utf-8'", f"encoding='{encoding}'").encode(codec))
    return path


@pytest.mark.parametrize("encoding, codec", [
    ("ISO-8859-1", "latin-1"), ("windows-1252", "cp1252"), ("UTF-16", "utf-16"), ("utf-8", "utf-8-sig")])
def test_graphml_is_read_in_the_encoding_it_declares(tmp_path, encoding, codec):
    raw = read_document(described_graphml(tmp_path, encoding, codec))
    assert raw["description"] == "Drehteile f\u00fcr das Caf\u00e9"


@pytest.mark.parametrize("encoding, codec, message", [
    ("utf-8", "latin-1", "not utf-8 text (bad byte at offset 1168), the encoding the file declares"),
    ("US-ASCII", "latin-1", "not US-ASCII text (bad byte at offset 1171), the encoding the file declares"),
    ("Shift_JIS", "latin-1", "GraphML error: cannot read the encoding 'Shift_JIS' its XML declaration "
                             "names (multi-byte encodings are not supported): save the file as UTF-8"),
    ("klingon", "latin-1", "GraphML error: cannot read the encoding 'klingon' its XML declaration names"),
])
def test_graphml_that_cannot_be_decoded_is_one_problem(tmp_path, encoding, codec, message):
    with pytest.raises(InputError) as exc:
        read_document(described_graphml(tmp_path, encoding, codec))
    (problem,) = exc.value.problems
    assert problem.path == "" and problem.message.startswith(message)


def test_graphml_without_an_encoding_declared_is_utf8(tmp_path):
    path = described_graphml(tmp_path, "utf-8", "latin-1")
    path.write_bytes(path.read_bytes().split(b"\n", 1)[1])
    with pytest.raises(InputError, match="not UTF-8 text .*: an XML file that declares no encoding is UTF-8"):
        read_document(path)


@pytest.mark.parametrize("name, text, fragment", [
    ("surrogate.json", '{"line": "x", "description": "Dreh\\ud800teile"}', "unpaired surrogate"),
    ("surrogate.yaml", 'line: x\nstations: [{id: m, description: "a\\ud800"}]\n', "unpaired surrogate"),
    ("digits.yaml", "line: x\nstations: [{id: m, servers: " + "9" * 5000 + "}]\n", "a value cannot be read"),
])
def test_texts_and_numbers_no_line_can_use_are_read_errors(tmp_path, name, text, fragment):
    with pytest.raises(InputError, match=fragment):
        read_document(_write(tmp_path / name, text))
