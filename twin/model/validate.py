"""Validation of a raw line document (SPEC §3) into a frozen :class:`Line`.

:func:`validate` checks everything it can and collects every problem, each as
a :class:`twin.errors.Problem` naming the file, a field path such as
``stations[3].process_time.cv`` or ``edges[2].p``, and what is wrong and what
is expected. If there is any problem it raises one :class:`InputError` with
all of them; otherwise it builds the Line with every duration in seconds,
every distribution a :class:`Dist` and per-product maps expanded.
"""

from __future__ import annotations

import math
import re
import reprlib
from dataclasses import dataclass

import networkx as nx

from twin.distributions import KINDS as DIST_KINDS
from twin.distributions import Dist, parse_dist
from twin.errors import InputError, Problem
from twin.model.types import (ASSEMBLY, BASES, BUFFER, CONVEYOR, KINDS, MACHINE, ROUTES, SINK, SOURCE,
                              Calendar, Edge, Failure, Line, Product, Release, Resource, ResourceUse,
                              Station, ToolChange)
from twin.units import is_finite_number, parse_duration

ID_PATTERN = re.compile(r"[a-z0-9_-]+")
#: the longest line id, as for scenario ids: it names a folder (`twin sweep`'s default output)
MAX_LINE_ID = 100
TOLERANCE = 1e-9
#: most places of one station (servers, capacity) or parts of one assembly input: the fast
#: engine preallocates every place
MAX_PLACES = 100_000
#: most places of the whole line: the fast engine preallocates about 270 bytes per place for
#: each replication (part, cell, event and agenda tables; see twin/engines/fast/state.py)
MAX_LINE_PLACES = 2_000_000
#: most resources x places: each resource's request queue has room for every place (16 bytes)
MAX_RESOURCE_PLACES = 20_000_000
#: most parts between tool changes
MAX_TOOL_EVERY = 10**9
DEFAULT_PRODUCT = "part"

TOP_KEYS = ("line", "description", "products", "stations", "edges", "resources", "calendar")
PRODUCT_KEYS = ("id", "mix", "description")
COMMON_KEYS = ("id", "kind", "description")
_SERVER_KEYS = ("servers", "process_time", "ideal_cycle_time", "setup", "setup_matrix", "failures",
                "scrap", "route", "load", "unload", "tool_change", "calendar")
KIND_KEYS = {
    SOURCE: ("release", "route", "calendar"),
    MACHINE: _SERVER_KEYS,
    ASSEMBLY: _SERVER_KEYS + ("inputs", "output"),
    BUFFER: ("capacity", "route", "calendar"),
    CONVEYOR: ("capacity", "travel_time", "failures", "route", "calendar"),
    SINK: ("calendar",),
}
RESOURCE_KEYS = ("id", "capacity", "description")
CALENDAR_KEYS = ("period", "off")
TOOL_CHANGE_KEYS = ("every", "time")
RESOURCE_USE_KEYS = ("resource", "time")
FAILURE_KEYS = ("name", "basis", "ttf", "ttr")
RELEASE_KEYS = ("interarrival", "sequence")
EDGE_KEYS = ("from", "to", "p", "products")


class _Problems:
    """The problems found so far in one file."""

    def __init__(self, file: str, file_path=None):
        self.file = file
        self.file_path = file_path or (lambda path: path)  # a graph file's names of fields
        self.items: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(Problem(self.file, self.file_path(path), message))

    def extend(self, path: str, sub_problems: list[tuple[str, str]]) -> None:
        for sub, message in sub_problems:
            self.add(_join(path, sub), message)

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class _Node:
    """What the edge and structure checks need to know about one station."""

    id: str
    kind: str | None  # None: kind missing or unknown
    index: int
    route: str | None  # None: route invalid
    releases: frozenset = frozenset()  # products a source may release
    output: str | None = None  # the product an assembly emits
    saturated: bool = False  # a source without interarrival time, or one that is always 0
    draws_mix: bool = False  # a source without sequence: its products are drawn from the mix
    timed: frozenset | None = None  # products a station's process time covers (None: not checked)
    instant: bool = False  # a station that can pass a part on in zero time
    scraps_all: bool = False  # scrap 1: every part it processes leaves the system there

    @property
    def path(self) -> str:
        return f"stations[{self.index}]"


def validate(raw: dict, file: str) -> Line:
    """Check a raw line document; return the Line or raise InputError with every problem."""
    problems = _Problems(file, getattr(raw, "file_path", None))
    if not isinstance(raw, dict):
        raise InputError.single(file, "", f"expected a mapping with line, stations and edges, "
                                          f"got {_show(raw)}")
    _check_top_keys(raw, problems)
    line_id = _line_id(raw, problems)
    description = text_field(raw, "description", problems.add)
    n_before = len(problems)
    products = _products(raw.get("products"), problems)
    products_ok = len(problems) == n_before
    resources = _resources(raw.get("resources"), problems)
    calendar = _calendar(raw.get("calendar"), "calendar", problems)
    stations, nodes = _stations(raw, products, problems)
    _line_places(stations, resources, problems)
    if products_ok:
        _mix_sum(products, nodes, problems)
    _resource_refs(raw, resources, problems)
    edges, refs_ok = _edges(raw, nodes, tuple(p.id for p in products), problems)
    _routing(nodes, edges, problems)
    if refs_ok:
        _assembly_inputs(raw, nodes, edges, problems)
    if isinstance(raw.get("stations"), list):
        named = len(nodes) == len(raw["stations"])
        _structure(nodes, edges, products if products_ok else (), refs_ok, named, problems)
    if problems:
        raise InputError(problems.items)
    return Line(id=line_id, description=description, products=products, stations=tuple(stations),
                edges=tuple(e for _, e in edges), source_file=file, resources=resources,
                calendar=calendar, raw=raw)


# --- top level -------------------------------------------------------------------------------

def _check_top_keys(raw: dict, problems: _Problems) -> None:
    for key in raw:
        if key not in TOP_KEYS:
            problems.add(str(key), f"unknown top-level field {key!r} (allowed: {', '.join(TOP_KEYS)})")


def _line_id(raw: dict, problems: _Problems) -> str:
    if "line" not in raw:
        problems.add("line", "required: the line id (lower-case letters, digits, '_' and '-')")
        return ""
    problem = _id_problem(raw["line"], "line")
    if not problem and len(raw["line"]) > MAX_LINE_ID:
        problem = (f"expected a line id of at most {MAX_LINE_ID} characters (it names the "
                   f"sweep's output folder), got {len(raw['line'])}")
    if problem:
        problems.add("line", problem)
    return raw["line"]


def text_field(raw: dict, key: str, add, path: str | None = None) -> str:
    """A free-text field (absent or null: ""); anything else is reported as
    ``add(path, message)`` (`path` defaults to `key`), so a list is never stringified into a
    report. Shared with the scenario reader."""
    value = raw.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        add(key if path is None else path, f"expected text, got {_show(value)}")
        return ""
    return value


def _products(spec, problems: _Problems) -> tuple[Product, ...]:
    """The line's products; ids that could be read are kept even when other fields are bad."""
    if spec is None:
        return (Product(DEFAULT_PRODUCT, 1.0),)
    if _is_map_of_ids(spec):
        problems.add("products", "expected a list of {id, mix}, got a map: write each product as "
                                 "`- {id: ..., mix: ...}`")
        return tuple(Product(pid, 0.0) for pid in spec)  # its ids, for the references to them
    if not isinstance(spec, list) or not spec:
        problems.add("products", "expected a non-empty list of {id, mix} "
                                 "(or leave products out for one product 'part')")
        return ()
    products: list[Product] = []
    first: dict[str, int] = {}
    for j, item in enumerate(spec):
        path = f"products[{j}]"
        if not isinstance(item, dict):
            problems.add(path, f"expected a mapping {{id, mix}}, got {_show(item)}")
            continue
        _unknown_keys(item, PRODUCT_KEYS, path, "a product", problems)
        text_field(item, "description", problems.add, f"{path}.description")
        pid = item.get("id")
        problem = "required: the product id" if "id" not in item else _id_problem(pid, "product")
        if problem:
            problems.add(f"{path}.id", problem)
        elif pid in first:
            problems.add(f"{path}.id", f"duplicate product id {pid!r} (first at products[{first[pid]}])")
        mix = _mix(item, len(spec), f"{path}.mix", problems)
        if isinstance(pid, str) and pid not in first:
            first[pid] = j
            products.append(Product(pid, 0.0 if mix is None else mix))
    return tuple(products)


def _is_map_of_ids(spec) -> bool:
    """A map keyed by ids where a list of items with `id` belongs (`products`, `resources`):
    one problem, and its keys taken as the ids, so that references to them are no news."""
    return isinstance(spec, dict) and bool(spec) and all(isinstance(key, str) for key in spec)


def _mix(item: dict, n_products: int, path: str, problems: _Problems) -> float | None:
    """A product's share; left out: all of it for a single product, else none (an assembly's
    output, a product only sequences release)."""
    if "mix" not in item:
        return 1.0 if n_products == 1 else 0.0
    mix = item["mix"]
    if not is_finite_number(mix) or not 0.0 <= mix <= 1.0:
        problems.add(path, f"expected a share in [0, 1], got {_show(mix)}")
        return None
    return float(mix)


def _mix_sum(products: tuple[Product, ...], nodes: dict[str, "_Node"], problems: _Problems) -> None:
    """The mix must sum to 1 when some source draws its products from it (has no sequence)."""
    drawing = [n for n in nodes.values() if n.draws_mix]
    total = math.fsum(p.mix for p in products)
    if drawing and abs(total - 1.0) > TOLERANCE:
        problems.add("products", f"the product mix values sum to {total:g}; they must sum to 1, "
                                 f"since source {drawing[0].id!r} draws its products from the mix "
                                 "(a product without `mix` has a share of 0)")


# --- stations --------------------------------------------------------------------------------

def _stations(raw: dict, products: tuple[Product, ...], problems: _Problems):
    """Every station built (when it has no problem) and the node table of first occurrences."""
    spec = raw.get("stations")
    if "stations" not in raw:
        problems.add("stations", "required: the list of stations {id, kind, ...}")
        return [], {}
    if not isinstance(spec, list):
        problems.add("stations", f"expected a list of stations {{id, kind, ...}}, got {_show(spec)}")
        return [], {}
    stations: list[Station] = []
    nodes: dict[str, _Node] = {}
    for i, item in enumerate(spec):
        station, node = _station(i, item, products, problems)
        if station is not None:
            stations.append(station)
        if node is None:
            continue
        if node.id in nodes:
            problems.add(f"stations[{i}].id",
                         f"duplicate station id {node.id!r} (first at {nodes[node.id].path})")
        else:
            nodes[node.id] = node
    return stations, nodes


def _station(i: int, spec, products: tuple[Product, ...], problems: _Problems):
    path = f"stations[{i}]"
    if not isinstance(spec, dict):
        problems.add(path, f"expected a mapping {{id, kind, ...}}, got {_show(spec)}")
        return None, None
    n_before = len(problems)
    sid = spec.get("id")
    problem = "required: the station id" if "id" not in spec else _id_problem(sid, "station")
    if problem:
        problems.add(f"{path}.id", problem)
    kind = _kind(spec, path, problems)
    text_field(spec, "description", problems.add, f"{path}.description")
    fields: dict = {}
    if kind is not None:
        allowed = COMMON_KEYS + KIND_KEYS[kind]
        _unknown_keys(spec, allowed, path, f"a {kind}", problems)
        fields = _BUILDERS[kind](spec, path, products, problems)
    node = None
    if isinstance(sid, str):
        route = fields.get("route", "order")
        release = fields.get("release")
        releases = _releases(release, products) if kind == SOURCE else frozenset()
        saturated = kind == SOURCE and release is not None and (
            release.interarrival is None or release.interarrival.always_zero)
        draws_mix = kind == SOURCE and release is not None and not release.sequence
        node = _Node(sid, kind, i, route, releases, fields.get("output"), saturated, draws_mix,
                     _timed_products(spec, kind, products), _instant(kind, fields),
                     fields.get("scrap") == 1.0)
    if len(problems) > n_before:
        return None, node
    return Station(id=sid, kind=kind, **fields), node


def _timed_products(spec: dict, kind: str | None, products: tuple[Product, ...]) -> frozenset | None:
    """The products a station's map product -> process time names; None if it has one
    distribution for all (or no process time, a problem of its own)."""
    value = spec.get("process_time")
    if kind not in (MACHINE, ASSEMBLY) or not isinstance(value, dict) or "dist" in value:
        return None
    return frozenset(p.id for p in products if p.id in value)


def _instant(kind: str | None, fields: dict) -> bool:
    """Whether the station can pass a part on in zero time: a buffer, a machine with a
    process time always 0 for some product and no load or unload, an assembly of that kind
    with one input (with several, it waits for the others), a conveyor whose travel time is
    always 0."""
    if kind == BUFFER:
        return True
    if kind == CONVEYOR:
        return fields.get("travel_time") is not None and fields["travel_time"].always_zero
    if fields.get("load") or fields.get("unload") or (kind == ASSEMBLY and len(fields["inputs"]) != 1):
        return False
    return any(d is not None and d.always_zero for d in fields.get("process_time", {}).values())


def _kind(spec: dict, path: str, problems: _Problems) -> str | None:
    kind = spec.get("kind")
    if "kind" not in spec:
        problems.add(f"{path}.kind", f"required: one of {', '.join(KINDS)}")
    elif not isinstance(kind, str) or kind not in KINDS:
        problems.add(f"{path}.kind", f"unknown kind {_show(kind)} (expected one of {', '.join(KINDS)})")
    else:
        return kind
    return None


def _source(spec: dict, path: str, products, problems: _Problems) -> dict:
    release = _release(spec.get("release", "saturated"), f"{path}.release",
                       tuple(p.id for p in products), problems)
    return {"places": 1, "route": _route(spec, path, problems), "release": release,
            "calendar": _calendar(spec.get("calendar"), f"{path}.calendar", problems)}


def _machine(spec: dict, path: str, products, problems: _Problems) -> dict:
    pids = tuple(p.id for p in products)
    if "process_time" in spec:
        process_time = _per_product_dist(spec["process_time"], f"{path}.process_time", pids, problems)
    else:
        problems.add(f"{path}.process_time", "required: a distribution, or a map product -> distribution")
        process_time = None
    return {
        "places": _count(spec, "servers", path, problems, default=1),
        "route": _route(spec, path, problems),
        "process_time": process_time or {},
        "ideal_cycle_time": _ideal_cycle_time(spec, f"{path}.ideal_cycle_time", pids,
                                              process_time or {}, problems),
        "setup": _dist(spec["setup"], f"{path}.setup", problems) if "setup" in spec else None,
        "setup_matrix": _setup_matrix(spec.get("setup_matrix"), f"{path}.setup_matrix", pids, problems),
        "failures": _failures(spec.get("failures"), f"{path}.failures", problems),
        "scrap": _scrap(spec.get("scrap", 0.0), f"{path}.scrap", problems),
        "load": _resource_use(spec.get("load"), f"{path}.load", problems),
        "unload": _resource_use(spec.get("unload"), f"{path}.unload", problems),
        "tool_change": _tool_change(spec.get("tool_change"), f"{path}.tool_change", problems),
        "calendar": _calendar(spec.get("calendar"), f"{path}.calendar", problems),
    }


def _assembly(spec: dict, path: str, products, problems: _Problems) -> dict:
    """A machine that joins `inputs` {predecessor: quantity} into one part of `output`."""
    fields = _machine(spec, path, products, problems)
    inputs = spec.get("inputs")
    fields["inputs"] = {}
    if not isinstance(inputs, dict) or not inputs:
        problems.add(f"{path}.inputs", "required: a map predecessor id -> quantity, e.g. {housing: 1, shaft: 2}")
    else:
        for pred, qty in inputs.items():
            if problem := number_id_problem(pred, "station"):
                problems.add(f"{path}.inputs.{pred}", problem)
            elif _whole(qty, f"{path}.inputs.{pred}", MAX_PLACES, problems) is not None:
                fields["inputs"][str(pred)] = qty
    output = spec.get("output")
    pids = tuple(p.id for p in products)
    if output not in pids:
        problems.add(f"{path}.output", number_id_problem(output, "product")
                     or f"expected the product the assembly emits (products: {', '.join(pids)}), "
                        f"got {_show(output)}")
    fields["output"] = output
    return fields


def _buffer(spec: dict, path: str, products, problems: _Problems) -> dict:
    return {"places": _count(spec, "capacity", path, problems),
            "route": _route(spec, path, problems),
            "calendar": _calendar(spec.get("calendar"), f"{path}.calendar", problems)}


def _conveyor(spec: dict, path: str, products, problems: _Problems) -> dict:
    if "travel_time" in spec:
        travel_time = _dist(spec["travel_time"], f"{path}.travel_time", problems)
    else:
        problems.add(f"{path}.travel_time", "required: the time each part travels (a distribution)")
        travel_time = None
    return {"places": _count(spec, "capacity", path, problems),
            "route": _route(spec, path, problems),
            "travel_time": travel_time,
            "failures": _failures(spec.get("failures"), f"{path}.failures", problems),
            "calendar": _calendar(spec.get("calendar"), f"{path}.calendar", problems)}


def _sink(spec: dict, path: str, products, problems: _Problems) -> dict:
    return {"places": 0, "calendar": _calendar(spec.get("calendar"), f"{path}.calendar", problems)}


_BUILDERS = {SOURCE: _source, MACHINE: _machine, BUFFER: _buffer, CONVEYOR: _conveyor, SINK: _sink,
             ASSEMBLY: _assembly}


def _line_places(stations: list[Station], resources: tuple[Resource, ...], problems: _Problems) -> None:
    """The whole line's places (each limited on its own) stay within what the fast engine may
    preallocate: under 1 GB per replication."""
    places = sum(s.places + sum(s.inputs.values()) for s in stations if s.kind != SINK)
    if places > MAX_LINE_PLACES:
        problems.add("stations", f"the line has {places:,} places (servers, capacities, sources and "
                                 f"assembly inputs); at most {MAX_LINE_PLACES:,}: the fast engine "
                                 "preallocates every place, about 270 bytes each per replication")
    elif places * len(resources) > MAX_RESOURCE_PLACES:
        problems.add("resources", f"{len(resources)} resources x {places:,} places = "
                                  f"{len(resources) * places:,}; at most {MAX_RESOURCE_PLACES:,}: the "
                                  "fast engine gives each resource a request queue with room for "
                                  "every place of the line")


# --- station fields --------------------------------------------------------------------------

def _count(spec: dict, key: str, path: str, problems: _Problems, default: int | None = None) -> int:
    """A whole number >= 1 (servers, capacity); required when there is no default."""
    if key not in spec:
        if default is None:
            problems.add(f"{path}.{key}", "required: a whole number >= 1")
            return 0
        return default
    return _whole(spec[key], f"{path}.{key}", MAX_PLACES, problems) or 0


def _whole(value, path: str, maximum: int, problems: _Problems) -> int | None:
    """A whole number from 1 to `maximum` (a YAML integer: `2.0` and `true` are not)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        problems.add(path, f"expected a whole number from 1 to {maximum:,}, got {_show(value)}")
        return None
    return value


def _route(spec: dict, path: str, problems: _Problems) -> str | None:
    route = spec.get("route", "order")
    if not isinstance(route, str) or route not in ROUTES:
        problems.add(f"{path}.route", f"unknown routing policy {_show(route)} "
                                      f"(expected one of {', '.join(ROUTES)})")
        return None
    return route


def _dist(spec, path: str, problems: _Problems) -> Dist | None:
    """A distribution spec (SPEC §3.1) or a bare duration, problems prefixed with `path`."""
    if isinstance(spec, dict) and not isinstance(spec.get("dist"), str):
        if "dist" not in spec:
            problems.add(path, f"expected a duration or a distribution with `dist:` "
                               f"(one of {', '.join(DIST_KINDS)}), got {_show(spec)}")
        else:
            problems.add(f"{path}.dist", f"unknown distribution {_show(spec['dist'])} "
                                         f"(known: {', '.join(DIST_KINDS)})")
        return None
    dist, sub_problems = parse_dist(spec)
    problems.extend(path, sub_problems)
    return dist


def _per_product_dist(spec, path: str, pids: tuple[str, ...], problems: _Problems):
    """One distribution for every product, or a map product -> distribution (that it covers
    the products reaching the station is checked with the line's flow, `_process_times`)."""
    if not isinstance(spec, dict) or "dist" in spec:
        dist = _dist(spec, path, problems)
        return None if dist is None else {p: dist for p in pids}
    if not any(key in pids or _is_id_number(key) for key in spec):
        problems.add(path, f"expected a distribution (with `dist:`) or a map product -> distribution; "
                           f"got {_show(spec)}, and no key names a product ({', '.join(pids)})")
        return None
    dists = {}
    for key, value in spec.items():
        if key not in pids:
            problems.add(f"{path}.{key}", _unknown_product(key, pids))
            continue
        dists[key] = _dist(value, f"{path}.{key}", problems)
    if any(d is None for d in dists.values()):
        return None
    return {p: dists[p] for p in pids if p in dists}


def _ideal_cycle_time(spec: dict, path: str, pids: tuple[str, ...], process_time: dict,
                      problems: _Problems) -> dict[str, float]:
    """Per product; a product not given defaults to the mean of its process time."""
    ideal = {p: float(d.mean) for p, d in process_time.items()}
    if "ideal_cycle_time" not in spec:
        return ideal
    value = spec["ideal_cycle_time"]
    if isinstance(value, dict) and "dist" in value:
        problems.add(path, "expected a duration, or a map product -> duration, not a distribution")
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in pids:
                problems.add(f"{path}.{key}", _unknown_product(key, pids))
            else:
                ideal[key] = _positive_duration(item, f"{path}.{key}", problems)
    else:
        seconds = _positive_duration(value, path, problems)
        ideal = {p: seconds for p in pids}
    return ideal


def _positive_duration(value, path: str, problems: _Problems) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        problems.add(path, str(exc))
        return 0.0
    if seconds <= 0:
        problems.add(path, f"must be > 0, got {_show(value)}")
    return seconds


def _setup_matrix(spec, path: str, pids: tuple[str, ...], problems: _Problems) -> dict:
    """{from: {to: dist}} -> {(from, to): Dist}."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        problems.add(path, f"expected a map from_product -> {{to_product: distribution}}, got {_show(spec)}")
        return {}
    matrix = {}
    for src, row in spec.items():
        if src not in pids:
            problems.add(f"{path}.{src}", _unknown_product(src, pids))
            continue
        if not isinstance(row, dict):
            problems.add(f"{path}.{src}", f"expected a map to_product -> distribution, got {_show(row)}")
            continue
        for dst, value in row.items():
            where = f"{path}.{src}.{dst}"
            if dst not in pids:
                problems.add(where, _unknown_product(dst, pids))
                continue
            dist = _dist(value, where, problems)
            if dst != src:  # no setup when the product does not change (SPEC §3.3)
                matrix[(src, dst)] = dist
    return matrix


def _resource_use(spec, path: str, problems: _Problems) -> ResourceUse | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or "resource" not in spec or "time" not in spec:
        problems.add(path, f"expected {{resource: id, time: distribution}}, got {_show(spec)}")
        return None
    _unknown_keys(spec, RESOURCE_USE_KEYS, path, "a resource use", problems)
    return ResourceUse(str(spec["resource"]), _dist(spec["time"], f"{path}.time", problems))


def _tool_change(spec, path: str, problems: _Problems) -> ToolChange | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or "every" not in spec or "time" not in spec:
        problems.add(path, f"expected {{every: parts, time: distribution}}, got {_show(spec)}")
        return None
    _unknown_keys(spec, TOOL_CHANGE_KEYS, path, "a tool change", problems)
    every = _whole(spec["every"], f"{path}.every", MAX_TOOL_EVERY, problems) or 1
    return ToolChange(every, _dist(spec["time"], f"{path}.time", problems))


def _calendar(spec, path: str, problems: _Problems) -> Calendar | None:
    """{period, off: [[start, end], ...]}: sorted, non-overlapping windows inside the period."""
    if spec is None:
        return None
    if isinstance(spec, dict):  # YAML 1.1 reads the keys `off` and `on` as booleans
        if False in spec and "off" in spec:
            problems.add(f"{path}.off", "given twice (once as off, once as 'off')")
        spec = {({False: "off", True: "on"}.get(key, key) if isinstance(key, bool) else key): value
                for key, value in spec.items()}
    if not isinstance(spec, dict) or "period" not in spec:
        problems.add(path, f"expected {{period: duration, off: [[start, end], ...]}}, got {_show(spec)}")
        return None
    _unknown_keys(spec, CALENDAR_KEYS, path, "a calendar", problems)
    period = _positive_duration(spec["period"], f"{path}.period", problems)
    windows = spec.get("off", [])
    if not isinstance(windows, list):
        problems.add(f"{path}.off", f"expected a list of [start, end] pairs, got {_show(windows)}")
        return None
    off, n_before = [], len(problems)
    for j, window in enumerate(windows):
        where = f"{path}.off[{j}]"
        if not isinstance(window, list) or len(window) != 2:
            problems.add(where, f"expected [start, end], got {_show(window)}")
            continue
        try:
            start, end = parse_duration(window[0]), parse_duration(window[1])
        except ValueError as exc:
            problems.add(where, str(exc))
            continue
        if not start < end <= period:
            problems.add(where, f"expected 0 <= start < end <= period ({period:g} s)")
        elif off and start < off[-1][1]:
            problems.add(where, "windows must be in order and must not overlap")
        off.append((start, end))
    if len(problems) > n_before:
        return None
    return Calendar(period, tuple(off))


def _resources(spec, problems: _Problems) -> tuple[Resource, ...]:
    if spec is None:
        return ()
    if _is_map_of_ids(spec):
        problems.add("resources", "expected a list of {id, capacity}, got a map: write each "
                                  "resource as `- {id: ..., capacity: ...}`")
        return tuple(Resource(rid, 1) for rid in spec)  # its ids, for the references to them
    if not isinstance(spec, list):
        problems.add("resources", f"expected a list of {{id, capacity}}, got {_show(spec)}")
        return ()
    resources, seen = [], set()
    for i, item in enumerate(spec):
        path = f"resources[{i}]"
        if not isinstance(item, dict):
            problems.add(path, f"expected {{id, capacity}}, got {_show(item)}")
            continue
        _unknown_keys(item, RESOURCE_KEYS, path, "a resource", problems)
        rid = item.get("id")
        problem = _id_problem(rid, "resource")
        if problem:
            problems.add(f"{path}.id", problem)
            continue
        if rid in seen:
            problems.add(f"{path}.id", f"duplicate resource id {rid!r}")
        seen.add(rid)
        resources.append(Resource(rid, _count(item, "capacity", path, problems, default=1)))
    return tuple(resources)


def _resource_refs(raw: dict, resources: tuple[Resource, ...], problems: _Problems) -> None:
    """Every `load` / `unload` names a resource of the line."""
    known = {r.id for r in resources}
    stations = raw.get("stations")
    for i, spec in enumerate(stations if isinstance(stations, list) else []):
        for key in ("load", "unload"):
            use = spec.get(key) if isinstance(spec, dict) else None
            if isinstance(use, dict) and "resource" in use and not (
                    isinstance(use["resource"], str) and use["resource"] in known):
                problems.add(f"stations[{i}].{key}.resource",
                             number_id_problem(use["resource"], "resource")
                             or f"unknown resource {_show(use['resource'])} (line resources: "
                                f"{', '.join(sorted(known)) or 'none'})")


def _assembly_inputs(raw: dict, nodes: dict[str, _Node], edges: list, problems: _Problems) -> None:
    """An assembly's `inputs` are exactly its predecessors (when they are station ids: a
    number is a problem of its own)."""
    for node in nodes.values():
        spec = raw["stations"][node.index]
        if node.kind != ASSEMBLY or not isinstance(spec, dict) or not isinstance(spec.get("inputs"), dict) \
                or any(_is_id_number(pred) for pred in spec["inputs"]):
            continue
        preds = [e.source for _, e in edges if e.target == node.id]
        for pred in spec["inputs"]:
            if pred not in preds:
                problems.add(f"{node.path}.inputs.{pred}", f"{pred!r} is not a predecessor of {node.id!r}")
        for pred in preds:
            if pred not in spec["inputs"]:
                problems.add(f"{node.path}.inputs", f"predecessor {pred!r} is missing: give the quantity "
                                                    "of its parts each assembly needs")


def _failures(spec, path: str, problems: _Problems) -> tuple[Failure, ...]:
    if spec is None:
        return ()
    if not isinstance(spec, list):
        problems.add(path, f"expected a list of failure modes {{name, basis, ttf, ttr}}, got {_show(spec)}")
        return ()
    failures, first = [], {}
    for j, item in enumerate(spec):
        where = f"{path}[{j}]"
        if not isinstance(item, dict):
            problems.add(where, f"expected a mapping {{name, basis, ttf, ttr}}, got {_show(item)}")
            continue
        _unknown_keys(item, FAILURE_KEYS, where, "a failure mode", problems)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.add(f"{where}.name", "required: a name for the failure mode (text)"
                         if "name" not in item else f"expected a non-empty name, got {_show(name)}")
        elif name in first:
            problems.add(f"{where}.name", f"duplicate failure name {name!r} at this station "
                                          f"(first at {path}[{first[name]}])")
        else:
            first[name] = j
        basis = item.get("basis", "operating")
        if basis not in BASES:
            problems.add(f"{where}.basis",
                         f"unknown basis {_show(basis)} (expected one of {', '.join(BASES)})")
        ttf = _failure_time(item, "ttf", "time to failure", where, problems)
        ttr = _failure_time(item, "ttr", "time to repair", where, problems)
        failures.append(Failure(name, basis, ttf, ttr))
    return tuple(failures)


def _failure_time(item: dict, key: str, what: str, path: str, problems: _Problems) -> Dist | None:
    if key not in item:
        problems.add(f"{path}.{key}", f"required: the {what} (a distribution)")
        return None
    dist = _dist(item[key], f"{path}.{key}", problems)
    if dist is not None and dist.mean <= 0:
        problems.add(f"{path}.{key}", f"the mean {what} must be > 0")
        return None
    return dist


def _scrap(value, path: str, problems: _Problems) -> float:
    if not is_finite_number(value) or not 0.0 <= value <= 1.0:
        problems.add(path, f"expected a scrap probability in [0, 1], got {_show(value)}")
        return 0.0
    return float(value)


def _release(spec, path: str, pids: tuple[str, ...], problems: _Problems) -> Release | None:
    expected = "expected `saturated` or a mapping with `interarrival` and/or `sequence`"
    if spec == "saturated":
        return Release()
    if not isinstance(spec, dict) or not spec:
        problems.add(path, f"{expected}, got {_show(spec)}")
        return None
    n_before = len(problems)
    _unknown_keys(spec, RELEASE_KEYS, path, "a release", problems)
    interarrival = None
    if "interarrival" in spec:
        interarrival = _dist(spec["interarrival"], f"{path}.interarrival", problems)
    sequence = spec.get("sequence", [])
    if "sequence" in spec and (not isinstance(sequence, list) or not sequence):
        problems.add(f"{path}.sequence", f"expected a non-empty list of product ids, got {_show(sequence)}")
        sequence = []
    for j, pid in enumerate(sequence):
        if not isinstance(pid, str) or pid not in pids:
            problems.add(f"{path}.sequence[{j}]", _unknown_product(pid, pids))
    if len(problems) > n_before:
        return None
    return Release(interarrival, tuple(sequence))


def _releases(release: Release | None, products: tuple[Product, ...]) -> frozenset:
    """Products a source may release: its sequence, else those with a share > 0."""
    if release is not None and release.sequence:
        return frozenset(release.sequence)
    if release is None:
        return frozenset(p.id for p in products)
    return frozenset(p.id for p in products if p.mix > 0)


# --- edges and routing -----------------------------------------------------------------------

def _edges(raw: dict, nodes: dict[str, _Node], pids: tuple[str, ...], problems: _Problems):
    """[(index in the file, Edge)] for every edge joining known stations; and whether all did."""
    if "edges" not in raw:
        problems.add("edges", "required: the list of edges [from, to] or {from, to, p, products}")
        return [], False
    spec = raw["edges"]
    if not isinstance(spec, list):
        problems.add("edges", f"expected a list of edges [from, to] or {{from, to, p, products}}, "
                              f"got {_show(spec)}")
        return [], False
    edges, first, refs_ok = [], {}, True
    for k, item in enumerate(spec):
        edge = _edge(k, item, nodes, pids, problems)
        if edge is None:
            refs_ok = False
            continue
        pair = (edge.source, edge.target)
        if pair in first:
            problems.add(f"edges[{k}]", f"duplicate edge {edge.source} -> {edge.target} "
                                        f"(first at edges[{first[pair]}])")
            continue
        first[pair] = k
        edges.append((k, edge))
    return edges, refs_ok


def _edge(k: int, spec, nodes: dict[str, _Node], pids: tuple[str, ...], problems: _Problems):
    """The edge, or None; an end naming no station is a problem only if some station is known
    (without any, `stations` is the one problem, not every edge end)."""
    path = f"edges[{k}]"
    shape = "expected [from, to] or a mapping {from, to, p, products}"
    if isinstance(spec, (list, tuple)):
        if len(spec) != 2:
            problems.add(path, f"{shape}, got a list of {len(spec)} items")
            return None
        spec = {"from": spec[0], "to": spec[1]}
    elif isinstance(spec, dict):
        _unknown_keys(spec, EDGE_KEYS, path, "an edge", problems)
    else:
        problems.add(path, f"{shape}, got {_show(spec)}")
        return None
    ends_ok = True
    for end in ("from", "to"):
        name = spec.get(end)
        if end not in spec:
            problems.add(f"{path}.{end}", "required: a station id")
        elif not isinstance(name, str):
            problems.add(f"{path}.{end}", number_id_problem(name, "station")
                         or f"expected a station id, got {_show(name)}")
        elif name not in nodes:
            if nodes:
                problems.add(f"{path}.{end}", f"unknown node {name!r}: no station has this id")
        else:
            continue
        ends_ok = False
    p = _edge_p(spec, path, problems)
    products = _edge_products(spec, path, pids, problems)
    if not ends_ok:
        return None
    source, target = nodes[spec["from"]], nodes[spec["to"]]
    if source.id == target.id:
        problems.add(path, f"self-loop on {source.id!r}: an edge must join two different stations")
    if target.kind == SOURCE:
        problems.add(f"{path}.to", f"an edge may not lead into a source ({target.id!r})")
    if source.kind == SINK:
        problems.add(f"{path}.from", f"an edge may not leave a sink ({source.id!r})")
    return Edge(source.id, target.id, p, products)


def _edge_p(spec: dict, path: str, problems: _Problems) -> float | None:
    p = spec.get("p")
    if p is None:
        return None
    if not is_finite_number(p):
        problems.add(f"{path}.p", f"expected a probability in [0, 1], got {_show(p)}")
        return None
    if not 0.0 <= p <= 1.0:
        problems.add(f"{path}.p", f"probability out of range: expected a value in [0, 1], got {p}")
    return float(p)


def _edge_products(spec: dict, path: str, pids: tuple[str, ...], problems: _Problems):
    if "products" not in spec:
        return None
    products = spec["products"]
    if not isinstance(products, list) or not products:
        problems.add(f"{path}.products", f"expected a non-empty list of product ids, got {_show(products)}")
        return None
    for j, pid in enumerate(products):
        if not isinstance(pid, str) or pid not in pids:
            problems.add(f"{path}.products[{j}]", _unknown_product(pid, pids))
    return tuple(products)


def _routing(nodes: dict[str, _Node], edges: list, problems: _Problems) -> None:
    """`p` on the out-edges of probability nodes only, present on each and summing to 1."""
    out: dict[str, list] = {}
    for k, e in edges:
        out.setdefault(e.source, []).append((k, e))
    for node in nodes.values():
        outs = out.get(node.id, [])
        if node.route is None or not outs:
            continue
        if node.route != "probability":
            for k, e in outs:
                if e.p is not None:
                    problems.add(f"edges[{k}].p", f"p is only read on edges out of a node with "
                                                  f"route: probability ({node.id!r} routes by {node.route})")
            continue
        missing = [k for k, e in outs if e.p is None]
        for k in missing:
            problems.add(f"edges[{k}].p", f"required: {node.id!r} routes by probability, "
                                          "so each of its out-edges needs p")
        total = math.fsum(e.p for _, e in outs if e.p is not None)
        if not missing and abs(total - 1.0) > TOLERANCE:
            problems.add(f"{node.path}.route", f"p on the out-edges of {node.id!r} sum to {total:g}; "
                                               "with route: probability they must sum to 1")


# --- structure -------------------------------------------------------------------------------

def _structure(nodes: dict[str, _Node], edges: list, products: tuple[Product, ...], refs_ok: bool,
               named: bool, problems: _Problems) -> None:
    """Sources and sinks exist, every station is connected and leads to a sink, per product too.

    Connectivity is only checked when every edge names known stations, and the
    kinds present only when every station has a usable id (`named`), so that one
    mistyped id is reported once and not again as a disconnected station or a
    missing source.
    """
    kinds = [n.kind for n in nodes.values()]
    if named and SOURCE not in kinds:
        problems.add("stations", "no source: a line needs at least one station of kind source")
    if named and SINK not in kinds:
        problems.add("stations", "no sink: a line needs at least one station of kind sink")
    if not refs_ok:
        return
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((e.source, e.target) for _, e in edges)
    reach_sink = set()
    for node in nodes.values():
        if node.kind == SINK:
            reach_sink |= {node.id} | nx.ancestors(graph, node.id)
    for node in nodes.values():
        if node.kind is None:
            continue
        if node.kind != SINK and graph.out_degree(node.id) == 0:
            problems.add(node.path,
                         f"{node.id!r} has no out-edge: every station but a sink needs a successor")
        elif node.id not in reach_sink and SINK in kinds:
            problems.add(node.path, f"no sink can be reached from {node.id!r}")
        if node.kind != SOURCE and graph.in_degree(node.id) == 0:
            problems.add(node.path,
                         f"{node.id!r} has no in-edge: every station but a source needs a predecessor")
    for product in products:
        reached = _product_flow(product.id, nodes, [e for _, e in edges], reach_sink, problems)
        _process_times(product.id, reached, nodes, problems)
    _zero_time_loops(nodes, graph, problems)
    _zero_time_paths(nodes, graph, {n for n, node in nodes.items() if node.saturated}, problems)


def _zero_time_paths(nodes: dict[str, _Node], graph: nx.DiGraph, saturated: set,
                     problems: _Problems) -> None:
    """A source releasing with no gap (saturated, or an interarrival time always 0) with a
    path through zero-time stations to a sink, or to a zero-time station that scraps every
    part, would release endless parts at one instant, and time would never advance."""
    passive = {n for n, node in nodes.items() if node.instant or node.kind == SINK}
    for source in sorted(saturated, key=lambda n: nodes[n].index):
        reach = nx.descendants(graph.subgraph(passive | {source}), source)
        if any(nodes[n].kind == SINK or nodes[n].scraps_all for n in reach):
            problems.add(nodes[source].path, f"source {source!r} releases parts with no gap and "
                                             "reaches a sink (or a station scrapping every part) "
                                             "through zero-time stations only "
                                             "(buffers, or a process or travel time always 0): it "
                                             "would release parts endlessly in zero time (put a "
                                             "station that takes time on the way, or give it an "
                                             "interarrival time)")


def _zero_time_loops(nodes: dict[str, _Node], graph: nx.DiGraph, problems: _Problems) -> None:
    """A loop made of zero-time stations would pass parts round in no time, forever."""
    instant = graph.subgraph(n for n, node in nodes.items() if node.instant)
    for component in nx.strongly_connected_components(instant):
        if len(component) > 1:
            first = min(component, key=lambda n: nodes[n].index)
            names = ", ".join(sorted(component, key=lambda n: nodes[n].index))
            problems.add(nodes[first].path, f"the stations {names} form a loop of zero-time stations "
                                            "(buffers, or a process or travel time always 0): "
                                            "parts would circle in zero time")


def _process_times(product: str, reached: set, nodes: dict[str, _Node], problems: _Problems) -> None:
    """A station a product can reach, and that processes it, has a process time for it."""
    for node_id in sorted(reached, key=lambda n: nodes[n].index):
        node = nodes[node_id]
        consumed = node.kind == ASSEMBLY and node.output != product
        if node.timed is not None and product not in node.timed and not consumed:
            problems.add(f"{node.path}.process_time",
                         f"no distribution for product {product!r}, which can reach {node_id!r}")


def _product_flow(product: str, nodes: dict[str, _Node], edges: list[Edge], reach_sink: set,
                  problems: _Problems) -> set:
    """Every station a product can reach lets it out (or is a sink), and not into a closed loop;
    returns the stations it can reach.

    An edge is usable by a product when it admits the product and, out of a
    probability node, has p > 0. Loops with no usable way to a sink are
    reported once per loop; those no product can leave are reported by
    `_structure` already.
    """
    def usable(e: Edge) -> bool:
        source = nodes[e.source]
        by_probability = source.route == "probability" and e.p is not None
        if source.kind == ASSEMBLY and source.output != product:
            return False  # an assembly emits only its output product
        return e.admits(product) and not (by_probability and e.p <= 0)

    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((e.source, e.target) for e in edges if usable(e))
    starts = [n.id for n in nodes.values()
              if (n.kind == SOURCE and product in n.releases) or (n.kind == ASSEMBLY and n.output == product)]
    reached = set(starts)
    for start in starts:
        reached |= nx.descendants(graph, start)
    out = {e.source for e in edges}
    for node_id in sorted(reached, key=lambda n: nodes[n].index):
        node = nodes[node_id]
        consumed = node.kind == ASSEMBLY and node.output != product
        if node.kind not in (SINK, None) and not consumed and node_id in out and graph.out_degree(node_id) == 0:
            extra = " with p > 0" if node.route == "probability" else ""
            problems.add(node.path, f"product {product!r} has no way out of {node_id!r}: "
                                    f"none of its out-edges admits it{extra}")
    escapes = set()
    for node in nodes.values():
        if node.kind in (SINK, ASSEMBLY):  # a component entering an assembly is consumed there
            escapes |= {node.id} | nx.ancestors(graph, node.id)
    trapped = graph.subgraph(n for n in reached - escapes if n in reach_sink and graph.out_degree(n))
    loops = nx.condensation(trapped)
    for c in loops:
        members = sorted(loops.nodes[c]["members"], key=lambda n: nodes[n].index)
        if loops.out_degree(c) == 0 and (len(members) > 1 or trapped.has_edge(members[0], members[0])):
            problems.add(nodes[members[0]].path,
                         f"product {product!r} is caught in the loop {', '.join(members)}: "
                         "no edge it may take (admitting it, with p > 0) leads from there to a sink")
    return reached


# --- helpers ---------------------------------------------------------------------------------

def _unknown_keys(spec: dict, allowed, path: str, what: str, problems: _Problems, shown=None) -> None:
    for key in spec:
        if key not in allowed:
            problems.add(_join(path, str(key)), f"unknown field {key!r} for {what} "
                                                f"(allowed: {', '.join(shown or allowed)})")


def _id_problem(value, what: str) -> str | None:
    if not isinstance(value, str):
        return number_id_problem(value, what) or \
            f"expected an id of lower-case letters, digits, '_' or '-', got {_show(value)}"
    if not ID_PATTERN.fullmatch(value):
        return f"bad id {value!r}: use only lower-case letters, digits, '_' and '-'"
    return None


def number_id_problem(value, what: str) -> str | None:
    """The problem of an id written as a number. YAML reads an unquoted 30 as a number (and
    010 as 8, 1_000 as 1000), so a number is not taken for the text it looked like."""
    if _is_id_number(value):
        return f"{_show(value)} is a number, but a {what} id is text: write it in quotes"
    return None


def _is_id_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unknown_product(value, pids: tuple[str, ...]) -> str:
    return number_id_problem(value, "product") or f"unknown product {_show(value)} (products: {', '.join(pids)})"


def _join(path: str, sub: str) -> str:
    if not sub:
        return path
    if not path:
        return sub
    return path + sub if sub.startswith("[") else f"{path}.{sub}"


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlevel = 50, 50, 3


def _show(value) -> str:
    """A short form of a value for a message, whatever its size (YAML aliases can make a
    small file hold a huge nested value)."""
    text = _SHORT.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
