"""Reading line files (YAML, JSON, GraphML) and networkx graphs into the raw line document.

Every format ends in the same raw dict, the canonical YAML shape of SPEC §3::

    {"line": ..., "description": ..., "products": [...],
     "stations": [{"id": ..., "kind": ..., ...}, ...],
     "edges": [[from, to] | {"from": ..., "to": ..., "p": ..., "products": [...]}, ...]}

which :func:`twin.model.validate.validate` turns into a :class:`~twin.model.types.Line`.
Any problem with the input raises :class:`twin.errors.InputError` naming the file;
no other exception escapes for bad input.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
from pathlib import Path
from xml.etree import ElementTree
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

import networkx as nx
import numpy as np
import yaml

from twin.errors import InputError, Problem
from twin.model.types import Line

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
GRAPHML_SUFFIXES = (".graphml",)
#: the largest file read: a line of a thousand stations takes well under 1 MiB
MAX_FILE_BYTES = 64 * 2**20
#: graph attributes networkx's GraphML reader adds by itself (not part of the line)
_NETWORKX_GRAPH_ATTRS = ("node_default", "edge_default")
GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
#: GraphML elements networkx's reader skips: a line has no ports, hyperedges or nested graphs
GRAPHML_UNSUPPORTED = ("port", "hyperedge", "endpoint", "locator")
_XML_ENCODING = re.compile(rb"""(?:\xef\xbb\xbf)?<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][\w.:-]*)["']""")
#: attributes never JSON-decoded from strings (free text may start with "[")
_TEXT_ATTRS = ("description",)


def load_line(path) -> Line:
    """Read and validate a line file: the entry point of `twin validate` and `twin run`."""
    from twin.model.validate import validate

    return validate(read_document(path), str(path))


def read_document(path) -> dict:
    """The raw line document of a `.yaml`/`.yml`, `.json` or `.graphml` file.

    JSON may hold the canonical shape or networkx node-link data (top-level
    ``nodes`` and ``links`` or ``edges``). Raises InputError for a missing,
    unreadable, empty or binary file, a syntax error (with line and column),
    or a top level that is not a mapping.
    """
    file = str(path)
    suffix = Path(file).suffix.lower()
    if suffix not in YAML_SUFFIXES + JSON_SUFFIXES + GRAPHML_SUFFIXES:
        if Path(file).is_dir():
            raise InputError.single(file, "", "is a directory, not a line file")
        raise InputError.single(
            file, "", f"unknown file type {suffix or '(none)'!r}: expected .yaml, .yml, .json or .graphml")
    data = _read_bytes(file)
    if suffix in GRAPHML_SUFFIXES:  # in the encoding its XML declaration names
        graph, edge_order = _parse_graphml(data, file)
        return raw_from_graph(graph, file, edge_order, naming=GRAPHML)
    text = _decode_text(data, file)
    doc = _parse_json(text, file) if suffix in JSON_SUFFIXES else _parse_yaml(text, file)
    _check_text(doc, file)
    if doc is None:
        raise InputError.single(file, "", "the file holds no line (only comments or blank lines)")
    if not isinstance(doc, dict):
        raise InputError.single(
            file, "", f"expected a mapping at the top level (line, stations, edges), "
                      f"got {_type_name(doc)}")
    if suffix in JSON_SUFFIXES and "nodes" in doc and ("links" in doc or "edges" in doc):
        edges = "links" if "links" in doc else "edges"
        return raw_from_graph(_node_link_graph(doc, file), file,
                              [(e["source"], e["target"]) for e in doc[edges]], naming=edges)
    return doc


def _check_text(doc, file: str) -> None:
    """Every text in the document is writable as UTF-8 (evidence, reports): an escape such as
    "\\ud800" gives an unpaired surrogate, which is not. Each shared (aliased) value is
    looked at once, without recursion, so neither YAML aliases nor depth cost anything."""
    seen, stack = set(), [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError.single(file, "", f"text with an unpaired surrogate escape: "
                                                  f"{value.encode('utf-8', 'backslashreplace')[:60]!r}") from None
        elif isinstance(value, (dict, list)) and id(value) not in seen:
            seen.add(id(value))
            stack.extend(value.items() if isinstance(value, dict) else value)
        elif isinstance(value, tuple):  # a mapping's (key, value)
            stack.extend(value)


def _read_bytes(file: str) -> bytes:
    """The file's bytes, refused before reading when larger than MAX_FILE_BYTES, and read no
    further than that should it grow meanwhile or not tell its size (/proc)."""
    path = Path(file)
    too_large = InputError.single(file, "", f"too large: more than {MAX_FILE_BYTES:,} bytes "
                                            f"({MAX_FILE_BYTES / 2**20:g} MiB), the most a line or "
                                            "scenario file may hold")
    try:
        if path.exists() and not path.is_file() and not path.is_dir():  # a FIFO would block
            raise InputError.single(file, "", "not a regular file (a pipe or a device?)")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise too_large
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError.single(file, "", "file not found") from None
    except IsADirectoryError:
        raise InputError.single(file, "", "is a directory, not a line file") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InputError.single(file, "", f"cannot read the file: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        raise too_large
    if not data.strip():
        raise InputError.single(file, "", "the file is empty")
    return data


def _decode_text(data: bytes, file: str) -> str:
    """A YAML or JSON file's text: UTF-8, a byte order mark allowed."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError.single(file, "", "UTF-16 text: save the file as UTF-8")
    if b"\0" in data:
        raise InputError.single(file, "", "binary file (contains NUL bytes): expected a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError.single(
            file, "", f"not UTF-8 text (bad byte at offset {exc.start}): expected a text file") from None
    return text


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a key given twice in one mapping, and reads `5e-2` as a
    number as YAML 1.2 does (YAML 1.1 wants a dot in a float: `5.0e-2`)."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"), list("-+0123456789"))


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key, mark, first_mark):
        super().__init__(f"duplicate key {key!r}")
        self.key, self.mark, self.first_mark = key, mark, first_mark


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """The mapping, after checking the keys written in it (keys merged in with `<<` may be
    overridden, as YAML merges allow)."""
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.setdefault(key, key_node.start_mark)
        except TypeError:  # unhashable key: the base constructor reports it
            continue
        if first is not key_node.start_mark:
            raise _DuplicateKey(key, key_node.start_mark, first)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_yaml(text: str, file: str):
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise InputError.single(
            file, "", f"duplicate key {exc.key!r} at line {exc.mark.line + 1}, column "
                      f"{exc.mark.column + 1} (first given at line {exc.first_mark.line + 1}): "
                      "each key may appear once in a mapping") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        raise InputError.single(file, "", f"YAML syntax error{where}: {what}") from None
    except yaml.reader.ReaderError as exc:  # control characters
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        raise InputError.single(file, "", f"YAML error at line {line}, column {column}: character "
                                          f"#x{exc.character:04x} is not allowed in YAML text") from None
    except yaml.YAMLError as exc:
        raise InputError.single(file, "", f"YAML error: {exc}") from None
    except ValueError as exc:  # e.g. an integer of over 4300 digits, a date like 2026-13-45
        reason = str(exc).split(";")[0]
        raise InputError.single(file, "", f"YAML error: a value cannot be read ({reason})") from None
    except RecursionError:
        raise InputError.single(file, "", "YAML error: the document is nested too deeply") from None


class _DuplicateJsonKey(ValueError):
    pass


def _unique_keys(pairs: list) -> dict:
    """A JSON object, rejecting a key given twice (as YAML files are)."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateJsonKey(f"duplicate key {key!r}: each key may appear once in an object")
        out[key] = value
    return out


def _parse_json(text: str, file: str):
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateJsonKey as exc:
        raise InputError.single(file, "", f"JSON error: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError.single(
            file, "", f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError.single(file, "", f"JSON error: {exc}") from None


def _parse_graphml(data: bytes, file: str) -> tuple[nx.Graph, list[tuple[str, str]]]:
    """The graph and its edges in the file's order."""
    order = _check_graphml(data, file)
    try:
        return nx.read_graphml(io.BytesIO(data)), order
    except Exception as exc:  # noqa: BLE001 - NetworkXError, KeyError, ValueError...
        raise InputError.single(file, "", f"GraphML error: {_graphml_bad_value(data) or exc}") from None


def _check_graphml(data: bytes, file: str) -> list[tuple[str, str]]:
    """What networkx's GraphML reader lets pass or reports without a place, each problem with
    its line: a node without an id, a node id given twice (networkx merges the nodes), an edge
    without both ends or naming a node not declared (networkx adds one), an edge given twice.
    A syntax error, bytes the declared encoding cannot decode, an encoding the parser cannot
    read or a DOCTYPE (entity declarations, which GraphML never needs; external ones would be
    left undefined) stop here."""
    nodes: dict[str, int] = {}
    edges: list[tuple[str | None, str | None, int]] = []
    keys: set[str | None] = set()
    graphs: list[int] = []
    problems: list[str] = []
    parser = expat.ParserCreate(namespace_separator=" ")

    def start(name: str, attrs: dict) -> None:
        line = parser.CurrentLineNumber
        element = name.removeprefix(f"{GRAPHML_NS} ")
        if element in GRAPHML_UNSUPPORTED or (element == "graph" and graphs):
            what = "a second <graph>" if element == "graph" else f"a <{element}> element"
            problems.append(f"GraphML error at line {line}: {what}: a line file holds one graph "
                            "of nodes and edges")
        if element == "graph":
            graphs.append(line)
        elif element == "key":
            keys.add(attrs.get("id"))
            kind = attrs.get("attr.type", "string")
            if kind not in _GRAPHML_TYPES:
                problems.append(f"GraphML error at line {line}: key {attrs.get('id')!r} has "
                                f"attr.type {kind!r}: expected one of {', '.join(_GRAPHML_TYPES)}")
        elif element == "data" and attrs.get("key") not in keys:
            problems.append(f"GraphML error at line {line}: data for key {attrs.get('key')!r}, "
                            "which no <key> declares (keys come first in the file)")
        if name == f"{GRAPHML_NS} node":
            node = attrs.get("id")
            if node is None:
                problems.append(f"GraphML error at line {line}: a <node> without an id: each "
                                "station is a node with its id")
            elif node in nodes:
                problems.append(f"GraphML error at line {line}: node id {node!r} given twice "
                                f"(first at line {nodes[node]}): each station is one node")
            nodes.setdefault(node, line)
        elif name == f"{GRAPHML_NS} edge":
            edges.append((attrs.get("source"), attrs.get("target"), line))

    def doctype(*_) -> None:
        raise InputError.single(file, "", f"GraphML error at line {parser.CurrentLineNumber}: a "
                                          "DOCTYPE declaration is not allowed in a line file")

    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InputError.single(file, "", _undecodable(data) or f"GraphML syntax error at line "
                                          f"{exc.lineno}, column {exc.offset + 1}: "
                                          f"{expat.ErrorString(exc.code)}") from None
    except (LookupError, ValueError) as exc:  # an unknown or a multi-byte encoding
        raise InputError.single(file, "", f"GraphML error: cannot read the encoding "
                                          f"{_xml_encoding(data)!r} its XML declaration names "
                                          f"({exc}): save the file as UTF-8") from None
    problems += _graphml_edge_problems(edges, nodes)
    if problems:
        raise InputError([Problem(file, "", message) for message in problems])
    return [(source, target) for source, target, _ in edges]


def _xml_encoding(data: bytes) -> str | None:
    """The encoding an XML document declares (by a UTF-16 byte order mark or in its XML
    declaration); None: UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    declared = _XML_ENCODING.match(data)
    return declared.group(1).decode("ascii") if declared else None


def _undecodable(data: bytes) -> str | None:
    """Why an XML document that does not parse cannot be decoded, if that is the reason."""
    encoding = _xml_encoding(data)
    try:
        data.decode(encoding or "utf-8")
    except UnicodeDecodeError as exc:
        return (f"not {encoding} text (bad byte at offset {exc.start}), the encoding the file declares"
                if encoding else f"not UTF-8 text (bad byte at offset {exc.start}): an XML file that "
                                 "declares no encoding is UTF-8")
    except LookupError:  # reported by the parser
        pass
    return None


def _graphml_edge_problems(edges: list, nodes: dict) -> list[str]:
    """Each edge has a source and a target among the declared nodes, and joins them once."""
    problems, first = [], {}
    for source, target, line in edges:
        where = f"GraphML error at line {line}: edge {source!r} -> {target!r}"
        for end, node in (("source", source), ("target", target)):
            if node is None:
                problems.append(f"{where}: the edge has no {end} attribute")
            elif node not in nodes:
                problems.append(f"{where}: unknown {end} node {node!r}: no <node> has this id")
        if (source, target) in first:
            problems.append(f"{where}: given twice (first at line {first[source, target]}): "
                            "a line holds one edge per pair of stations")
        first.setdefault((source, target), line)
    return problems


_GRAPHML_TYPES = {"int": int, "long": int, "float": float, "double": float, "string": str,
                  "boolean": lambda v: {"true": True, "false": False, "1": True, "0": False}[v.lower()]}


def _graphml_bad_value(data: bytes) -> str | None:
    """Which node or edge attribute does not read as its declared `attr.type` (networkx says
    only which value failed)."""
    ns = {"g": GRAPHML_NS}
    root = ElementTree.fromstring(data)
    keys = {k.get("id"): (k.get("attr.name"), k.get("attr.type", "string"))
            for k in root.iter(f"{{{ns['g']}}}key")}
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag not in ("node", "edge"):
            continue
        where = (f"node {element.get('id')!r}" if tag == "node"
                 else f"edge {element.get('source')!r} -> {element.get('target')!r}")
        for data in element.findall("g:data", ns):
            name, kind = keys.get(data.get("key"), (data.get("key"), "string"))
            try:
                _GRAPHML_TYPES.get(kind, str)(data.text or "")
            except (KeyError, ValueError):
                return f"{where}, attribute {name!r}: {data.text!r} is not a {kind} (its declared attr.type)"
    return None


def _node_link_graph(doc: dict, file: str) -> nx.Graph:
    edges = "links" if "links" in doc else "edges"
    _check_node_link(doc, edges, file)
    try:
        # without "directed"/"multigraph" keys, assume a plain DiGraph
        return nx.node_link_graph(doc, directed=True, multigraph=False, edges=edges)
    except Exception as exc:  # noqa: BLE001 - KeyError, TypeError, NetworkXError...
        raise InputError.single(file, "", f"bad node-link JSON: {type(exc).__name__}: {exc}") from None


def _check_node_link(doc: dict, edges: str, file: str) -> None:
    """What networkx's node-link reader does not check, or reports without a place: the
    graph's attributes, node ids given once, links naming their ends `source` and `target`
    (networkx's keys), between known nodes and given once."""
    problems = []
    if not isinstance(doc.get("graph", {}), dict):
        problems.append(("graph", "expected a mapping of line attributes (line, products, ...)"))
    for key in ("directed", "multigraph"):
        if key in doc and not isinstance(doc[key], bool):
            problems.append((key, f"expected true or false, got {doc[key]!r}"))
    if "links" in doc and "edges" in doc:  # which one is meant? networkx would read one only
        problems.append(("edges", "a node-link file gives its edges as `links` or as `edges`, "
                                  "not both"))
    nodes, links = doc["nodes"], doc[edges]
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and "id" in n for n in nodes):
        problems.append(("nodes", "expected a list of nodes {id, kind, ...}"))
        nodes = []
    ids: dict = {}
    for i, node in enumerate(nodes):
        if not isinstance(node["id"], str):
            problems.append((f"nodes[{i}].id", f"expected a station id (text), got {node['id']!r}"))
        elif node["id"] in ids:
            problems.append((f"nodes[{i}].id", f"duplicate node {node['id']!r} (first at nodes[{ids[node['id']]}])"))
        else:
            ids[node["id"]] = i
    if not isinstance(links, list) or not all(isinstance(e, dict) for e in links):
        problems.append((edges, "expected a list of links {source, target, ...}"))
        links = []
    first: dict = {}
    for k, link in enumerate(links):
        problems += _link_problems(f"{edges}[{k}]", link, ids)
        pair = (link.get("source"), link.get("target"))
        if not all(isinstance(end, str) for end in pair):
            continue
        if pair in first:
            problems.append((f"{edges}[{k}]", f"duplicate link {pair[0]!r} -> {pair[1]!r} (first at "
                                              f"{edges}[{first[pair]}]): a line holds one edge per "
                                              "pair of stations"))
        first.setdefault(pair, k)
    if problems:
        raise InputError([Problem(file, path, message) for path, message in problems])


def _link_problems(path: str, link: dict, ids: dict) -> list[tuple[str, str]]:
    """A link's ends are `source` and `target`, known nodes; `from` and `to`, the keys of an
    edge in the YAML form, would be read as attributes and ignored."""
    problems = [(f"{path}.{key}", f"a node-link link names its ends `source` and `target`, "
                                  f"not {key!r}") for key in ("from", "to") if key in link]
    for end in ("source", "target"):
        if end not in link:
            problems.append((f"{path}.{end}", "required: the id of a node"))
        elif not isinstance(link[end], str) or (ids and link[end] not in ids):
            problems.append((f"{path}.{end}", f"unknown node {link[end]!r}: no node has this id"))
    return problems


#: `raw_from_graph`'s naming for a GraphML file (a node-link file's is its edge list's key)
GRAPHML = "graphml"


class GraphDocument(dict):
    """The raw line document of a graph file, which knows how the file names its stations
    and edges: `validate` reports ``stations[3].servers`` of a node-link file as
    ``nodes[3].servers``, of a GraphML file as ``<node id="op02">.servers``."""

    def __init__(self, raw: dict, list_names: dict[str, str], item_names: dict[str, list[str]]):
        super().__init__(raw)
        self.list_names, self.item_names = list_names, item_names

    def file_path(self, path: str) -> str:
        """A field path of the line document (``edges[2].p``) as the file names that field."""
        match = _LIST_ITEM.match(path)
        if match is None:
            return path
        kind, index = match[1], match[2]
        if index is None:
            return self.list_names[kind] + path[match.end():]
        names = self.item_names[kind]
        return (names[int(index)] if int(index) < len(names) else match[0]) + path[match.end():]


_LIST_ITEM = re.compile(r"(stations|edges)(?:\[(\d+)\])?(?=$|[.\[])")


def raw_from_graph(G, file: str = "<graph>", edge_order=None, naming: str | None = None) -> dict:
    """The raw line document of a `networkx.DiGraph`.

    Graph attributes ``line``, ``description``, ``products`` (and any other,
    which validation then reports as unknown) become top-level keys; each node
    becomes a station ``{id: node, **attrs}`` in G's node order; each edge an
    edge ``{from, to, **attrs}`` in `edge_order` (the (from, to) pairs in the order a
    node-link or GraphML file lists them, as a YAML file's edges: the routing order and the
    pull rule's tie order both follow the file), else in ``G.edges`` order, which keeps each
    node's out-edges in insertion order (the routing order).

    GraphML can only hold scalar attribute values, so a string value that
    starts with ``{`` or ``[`` is decoded as JSON: nested specs such as
    ``process_time``, ``failures`` or ``products`` may be stored as JSON text
    (``'{"dist": "lognormal", "mean": "52s", "cv": 0.08}'``). ``description``
    is never decoded. :func:`write_graphml` writes a graph that way.

    With `naming` (``"links"`` or ``"edges"`` for a node-link file, `GRAPHML`)
    the document is a `GraphDocument`, so that problems name fields as the file
    does; so do the problems found here.

    A MultiDiGraph or an undirected graph raises InputError.
    """
    if not isinstance(G, nx.DiGraph) or G.is_multigraph():
        kind = type(G).__name__
        raise InputError.single(
            file, "", f"expected a directed graph without parallel edges (networkx.DiGraph), got {kind}")
    problems: list[Problem] = []

    def decode(path: str, key, value):
        value = _python_value(value)
        if key in _TEXT_ATTRS or not isinstance(value, str) or value.lstrip()[:1] not in ("{", "["):
            return value
        try:
            return json.loads(value)
        except (ValueError, RecursionError) as exc:
            problems.append(Problem(file, path, f"looks like JSON (starts with {value.lstrip()[0]!r}) "
                                                f"but does not parse: {exc}"))
            return value

    raw: dict = {}
    for key in ("stations", "edges"):
        if key in G.graph:
            problems.append(Problem(file, key, f"graph attribute {key!r} is not read: the graph's "
                                               f"{'nodes' if key == 'stations' else 'edges'} give the {key}"))
    for key in ("line", "description", "products"):
        if key in G.graph:
            raw[key] = decode(str(key), key, G.graph[key])
    for key, value in G.graph.items():
        if key not in raw and key not in _NETWORKX_GRAPH_ATTRS:
            raw[key] = decode(str(key), key, value)
    def item(path: str, given: dict, what: str, attrs: dict) -> dict:
        """`given` (a station's id, an edge's ends: the graph's own) and the decoded attributes;
        an attribute of a given key would be ignored, so it is a problem."""
        for key in given:
            if key in attrs:
                problems.append(Problem(file, f"{path}.{key}", f"attribute {key!r} is not read: "
                                                               f"the graph itself gives the {what}"))
        return {**given, **{k: decode(f"{path}.{k}", k, v) for k, v in attrs.items() if k not in given}}

    edges = G.edges(data=True) if edge_order is None else [(u, v, G.edges[u, v]) for u, v in edge_order]
    lists, names = _file_names(G, edges, naming)
    raw["stations"] = [item(names["stations"][i], {"id": _python_value(node)},
                            f"station id ({node!r})", attrs)
                       for i, (node, attrs) in enumerate(G.nodes(data=True))]
    raw["edges"] = [item(names["edges"][k], {"from": _python_value(u), "to": _python_value(v)},
                         f"edge's ends ({u!r} -> {v!r})", attrs)
                    for k, (u, v, attrs) in enumerate(edges)]
    if problems:
        raise InputError(problems)
    return raw if naming is None else GraphDocument(raw, lists, names)


def _file_names(G, edges: list, naming: str | None) -> tuple[dict[str, str], dict[str, list[str]]]:
    """How the file names its lists of stations and edges, and each station and edge."""
    if naming == GRAPHML:
        return {"stations": "graph", "edges": "graph"}, {
            "stations": [f"<node id={quoteattr(str(node))}>" for node in G.nodes],
            "edges": [f"<edge source={quoteattr(str(u))} target={quoteattr(str(v))}>"
                      for u, v, _ in edges]}
    stations, links = ("nodes", naming) if naming is not None else ("stations", "edges")
    return {"stations": stations, "edges": links}, {
        "stations": [f"{stations}[{i}]" for i in range(len(G))],
        "edges": [f"{links}[{k}]" for k in range(len(edges))]}


def _python_value(value):
    """`value` with numpy scalars and arrays made the Python numbers, bools, texts and lists
    they hold (a graph built with numpy), inside lists, tuples and dicts too. A float32 becomes
    the number it prints as (0.1, not 0.10000000149), so that probabilities still sum to 1."""
    if isinstance(value, np.floating):
        return float(str(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [_python_value(v) for v in value] if value.ndim else _python_value(value[()])
    if isinstance(value, dict):
        return {_python_value(k): _python_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_python_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_python_value(v) for v in value)
    return value


def graph_from_line(line: Line) -> nx.DiGraph:
    """The line as a `networkx.DiGraph` carrying the raw attributes (inverse of raw_from_graph)."""
    raw = line.raw
    G = nx.DiGraph()
    for key in ("line", "description", "products"):
        if key in raw:
            G.graph[key] = raw[key]
    for station in raw.get("stations", ()):
        G.add_node(station["id"], **{k: v for k, v in station.items() if k != "id"})
    for edge in raw.get("edges", ()):
        if isinstance(edge, dict):
            G.add_edge(edge["from"], edge["to"], **{k: v for k, v in edge.items() if k not in ("from", "to")})
        else:
            G.add_edge(edge[0], edge[1])
    return G


def write_graphml(G: nx.DiGraph, path) -> None:
    """Write a line graph as GraphML, storing nested attribute values as JSON text.

    Reading the file back with :func:`read_document` gives the same raw document.
    """
    def scalar(value):
        return json.dumps(value) if isinstance(value, (dict, list, tuple)) else value

    H = nx.DiGraph()
    H.graph.update((k, scalar(v)) for k, v in G.graph.items() if v is not None)
    for node, attrs in G.nodes(data=True):
        H.add_node(node, **{k: scalar(v) for k, v in attrs.items() if v is not None})
    for u, v, attrs in G.edges(data=True):
        H.add_edge(u, v, **{k: scalar(x) for k, x in attrs.items() if x is not None})
    nx.write_graphml(H, os.fspath(path))


def _type_name(value) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "a boolean"}.get(type(value), type(value).__name__)
