"""Hypothesis strategies: random valid lines and injections, for engine tests.

A generated line is a layered graph: sources, one to four layers of machines,
buffers, conveyors and assemblies, then sinks. Every node has an edge to the
next layer (now and then one skipping to a sink) and maybe more; a
`probability` machine may send parts back to an earlier layer (rework, which
can deadlock). Every routing policy, distribution, failure basis, setup, setup
matrix, tool change, scrap, release kind, product filter, shared resource
(load and unload) and planned-downtime calendar (on any kind of station) appears.

Lines are written as documents (what a YAML file holds) and go through the
validator (`twin.model.validate`), so each one is a line a user could load.
The generator keeps them valid by construction: an edge that admits every
product comes first out of each node (with p > 0 under `probability`), mixes
and probabilities sum to 1, rework starts at a machine (no zero-time loop of
buffers) and never enters an assembly, whose `inputs` are its predecessors.
No buffer leads to a sink, so a saturated source never spins in zero time.
"""

from __future__ import annotations

from hypothesis import strategies as st

from twin.model.types import Injection, Line
from twin.model.validate import validate

ROUTES = ("order", "probability", "shortest_queue", "round_robin")
MIXES = ((1.0,), (0.5, 0.5), (0.7, 0.3), (0.25, 0.25, 0.5), (0.2, 0.3, 0.5))


@st.composite
def durations(draw, low: float = 5.0, high: float = 120.0, ties: bool = True) -> object:
    """A distribution spec of positive durations (constants and empirical values tie)."""
    mean = draw(st.floats(low, high).map(lambda x: round(x, 1)))
    kinds = ["exponential", "uniform", "triangular", "normal", "lognormal", "gamma", "weibull"]
    if ties:
        kinds += ["constant", "constant", "empirical"]
    kind = draw(st.sampled_from(kinds))
    cv = draw(st.sampled_from([0.1, 0.3, 0.7, 1.5]))
    if kind == "constant":
        return mean  # a bare duration means constant
    if kind == "exponential":
        return {"dist": kind, "mean": mean}
    if kind == "uniform":
        return {"dist": kind, "low": mean / 2, "high": mean * 1.5}
    if kind == "triangular":
        return {"dist": kind, "low": mean / 2, "mode": mean, "high": mean * 2}
    if kind == "normal":
        return {"dist": kind, "mean": mean, "sd": mean * cv}
    if kind in ("lognormal", "gamma"):
        return {"dist": kind, "mean": mean, "cv": cv}
    if kind == "weibull":
        return {"dist": kind, "shape": draw(st.sampled_from([0.7, 1.0, 2.5])), "scale": mean}
    values = draw(st.lists(st.sampled_from([mean / 2, mean, mean * 2]), min_size=1, max_size=4))
    return {"dist": "empirical", "values": values}


@st.composite
def failures(draw) -> list[dict]:
    return [{"name": f"f{i}", "basis": draw(st.sampled_from(["operating", "calendar"])),
             "ttf": draw(durations(600.0, 3 * 3600.0, ties=False)), "ttr": draw(durations(30.0, 900.0))}
            for i in range(draw(st.integers(0, 2)))]


@st.composite
def calendars(draw) -> dict:
    """A planned-downtime calendar of one or two windows in a period of 30 min to 3 h."""
    period = draw(st.sampled_from([1800.0, 3600.0, 3 * 3600.0]))
    cuts = sorted(draw(st.lists(st.floats(0.0, period).map(lambda x: round(x)), min_size=2, max_size=4,
                                unique=True)))
    windows = [[cuts[i], cuts[i + 1]] for i in range(0, len(cuts) - 1, 2)]
    return {"period": period, "off": windows}


@st.composite
def server_fields(draw, products: list[str], resources: list[str]) -> dict:
    """The fields machines and assemblies share."""
    spec: dict = {"servers": draw(st.integers(1, 3))}
    if draw(st.booleans()):
        spec["process_time"] = draw(durations())
    else:
        spec["process_time"] = {p: draw(durations()) for p in products}
    if len(products) > 1 and draw(st.booleans()):
        spec["setup"] = draw(durations(2.0, 60.0))
    if len(products) > 1 and draw(st.booleans()):
        matrix = {a: {b: draw(durations(2.0, 60.0)) for b in products if b != a and draw(st.booleans())}
                  for a in products}
        spec["setup_matrix"] = {a: row for a, row in matrix.items() if row}
    if draw(st.integers(0, 3)) == 0:
        spec["tool_change"] = {"every": draw(st.integers(1, 5)), "time": draw(durations(10.0, 120.0))}
    spec["failures"] = draw(failures())
    spec["scrap"] = draw(st.sampled_from([0.0, 0.0, 0.05, 0.2]))
    for use in ("load", "unload"):
        if resources and draw(st.integers(0, 2)) == 0:
            spec[use] = {"resource": draw(st.sampled_from(resources)), "time": draw(durations(2.0, 30.0))}
    if draw(st.integers(0, 4)) == 0:
        spec["calendar"] = draw(calendars())
    return spec


@st.composite
def middle_station(draw, sid: str, products: list[str], resources: list[str]) -> dict:
    kind = draw(st.sampled_from(["machine", "machine", "buffer", "conveyor", "assembly"]))
    if kind == "buffer":
        spec = {"id": sid, "kind": kind, "capacity": draw(st.integers(1, 4))}
        if draw(st.integers(0, 5)) == 0:
            spec["calendar"] = draw(calendars())
        return spec
    if kind == "conveyor":
        spec = {"id": sid, "kind": kind, "capacity": draw(st.integers(1, 4)),
                "travel_time": draw(durations()), "failures": draw(failures())}
        if draw(st.integers(0, 4)) == 0:
            spec["calendar"] = draw(calendars())
        return spec
    spec = {"id": sid, "kind": kind, **draw(server_fields(products, resources))}
    if kind == "assembly":
        spec["output"] = draw(st.sampled_from(products))  # inputs are set once the edges are known
    return spec


@st.composite
def source(draw, sid: str, products: list[str]) -> dict:
    release: dict = {}
    if draw(st.booleans()):
        release["interarrival"] = draw(durations(10.0, 120.0))
    if len(products) > 1 and draw(st.booleans()):
        release["sequence"] = draw(st.lists(st.sampled_from(products), min_size=1, max_size=4))
    spec = {"id": sid, "kind": "source", "release": release or "saturated"}
    if draw(st.integers(0, 5)) == 0:
        spec["calendar"] = draw(calendars())
    return spec


def required_targets(draw, stage: list[dict], following: list[str]) -> dict[str, list[str]]:
    """For each node of `stage`, the nodes of the next stage it must feed: every node of
    `following` gets a feeder, and every node of `stage` feeds at least one."""
    feeder = {t: draw(st.sampled_from(stage))["id"] for t in following}
    return {spec["id"]: [t for t in following if feeder[t] == spec["id"]]
            or [draw(st.sampled_from(following))] for spec in stage}


@st.composite
def out_edges(draw, sid: str, required: list[str], targets: list[str],
              products: list[str], routes: tuple[str, ...] = ROUTES) -> tuple[str, list[dict]]:
    """A routing policy (one of `routes`) and out-edges of `sid`: to `required`, maybe to more
    of `targets`, in some order; the first edge admits every product."""
    extra = draw(st.lists(st.sampled_from(targets), max_size=2, unique=True))
    chosen = draw(st.permutations(list(dict.fromkeys(required + extra))))
    route = draw(st.sampled_from(routes))
    weights = [draw(st.integers(1, 5)) for _ in chosen]
    edges = []
    for i, target in enumerate(chosen):
        edge: dict = {"from": sid, "to": target}
        if i > 0 and len(products) > 1 and draw(st.integers(0, 3)) == 0:
            edge["products"] = draw(st.lists(st.sampled_from(products), min_size=1, unique=True))
        if route == "probability":
            edge["p"] = weights[i] / sum(weights)
        edges.append(edge)
    return route, edges


@st.composite
def line_documents(draw) -> dict:
    """A random line as a document, valid by construction (see the module docstring)."""
    mix = draw(st.sampled_from(MIXES))
    products = [f"p{i}" for i in range(len(mix))]
    resources = [f"r{i}" for i in range(draw(st.integers(0, 2)))]
    sources = [draw(source(f"src{i}", products)) for i in range(draw(st.integers(1, 2)))]
    layers = [[draw(middle_station(f"s{k}-{j}", products, resources)) for j in range(draw(st.integers(1, 2)))]
              for k in range(draw(st.integers(1, 4)))]
    for spec in layers[-1]:  # parts take time to reach a sink: no buffer leads to one
        if spec["kind"] == "buffer":
            spec.update(kind="conveyor", travel_time=draw(durations()))
    sinks = [{"id": f"out{i}", "kind": "sink"} for i in range(draw(st.integers(1, 2)))]
    for spec in sinks:
        if draw(st.integers(0, 5)) == 0:
            spec["calendar"] = draw(calendars())
    stages = [sources, *layers, sinks]
    edges: list[dict] = []
    back_targets: list[str] = []
    for k, stage in enumerate(stages[:-1]):
        following = [t["id"] for t in stages[k + 1]]
        required = required_targets(draw, stage, following)
        for spec in stage:
            targets = following
            if 0 < k and spec["kind"] != "buffer" and draw(st.integers(0, 4)) == 0:  # skip to a sink
                targets = following + [t["id"] for t in sinks if t["id"] not in following]
            spec["route"], out = draw(out_edges(spec["id"], required[spec["id"]], targets, products))
            edges.extend(out)
    machines = [(k, s["id"]) for k, layer in enumerate(layers) for s in layer if s["kind"] == "machine"]
    if machines and draw(st.booleans()):  # rework: a machine sends some parts back
        k, node = draw(st.sampled_from(machines))
        back_targets = [s["id"] for layer in layers[:k] for s in layer if s["kind"] != "assembly"]
    if machines and back_targets:
        back = draw(st.sampled_from(back_targets))
        own = [e for e in edges if e["from"] == node]
        share = draw(st.sampled_from([0.1, 0.3]))
        for e in own:
            e["p"] = e.get("p", 1.0 / len(own)) * (1 - share)
        edges.append({"from": node, "to": back, "p": share})
        next(s for layer in layers for s in layer if s["id"] == node)["route"] = "probability"
    for layer in layers:
        for spec in layer:
            if spec["kind"] == "assembly":
                preds = [e["from"] for e in edges if e["to"] == spec["id"]]
                spec["inputs"] = {pred: draw(st.integers(1, 2)) for pred in preds}
    order = [s["id"] for stage in stages for s in stage]
    edges.sort(key=lambda e: order.index(e["from"]))  # stable: a node's edges keep their order
    doc = {"line": "random", "products": [{"id": p, "mix": m} for p, m in zip(products, mix)],
           "stations": [s for stage in stages for s in stage], "edges": edges}
    if resources:
        doc["resources"] = [{"id": r, "capacity": draw(st.integers(1, 2))} for r in resources]
    if draw(st.integers(0, 4)) == 0:
        doc["calendar"] = draw(calendars())
    return doc


def lines() -> st.SearchStrategy[Line]:
    """Random valid lines (`Line` objects, through the validator)."""
    return line_documents().map(lambda doc: validate(doc, "<hypothesis>"))


@st.composite
def plain_line_documents(draw) -> dict:
    """A random line the fast kernel runs in its plain variant (`state.is_plain`): one
    product; sources (saturated or not), machines of one server with failures of both
    bases, buffers, sinks; routing `order` over one or more out-edges."""
    sources = [{"id": f"src{i}", "kind": "source",
                "release": {"interarrival": draw(durations(10.0, 120.0))} if draw(st.booleans())
                else "saturated"} for i in range(draw(st.integers(1, 2)))]
    layers = []
    for k in range(draw(st.integers(1, 4))):
        layer = []
        for j in range(draw(st.integers(1, 2))):
            sid = f"s{k}-{j}"
            if draw(st.integers(0, 2)) == 0:
                layer.append({"id": sid, "kind": "buffer", "capacity": draw(st.integers(1, 4))})
            else:
                layer.append({"id": sid, "kind": "machine", "servers": 1,
                              "process_time": draw(durations()), "failures": draw(failures())})
        layers.append(layer)
    for spec in layers[-1]:  # no buffer leads to a sink (see the module docstring)
        if spec["kind"] == "buffer":
            spec.update(kind="machine", servers=1, process_time=draw(durations()))
            del spec["capacity"]
    sinks = [{"id": f"out{i}", "kind": "sink"} for i in range(draw(st.integers(1, 2)))]
    stages = [sources, *layers, sinks]
    edges = []
    for k, stage in enumerate(stages[:-1]):
        following = [t["id"] for t in stages[k + 1]]
        required = required_targets(draw, stage, following)
        for spec in stage:
            spec["route"], out = draw(out_edges(spec["id"], required[spec["id"]], following, ["part"],
                                                routes=("order",)))
            edges += out
    return {"line": "plain", "stations": [s for stage in stages for s in stage], "edges": edges}


@st.composite
def injections(draw, line: Line, horizon: float) -> tuple[Injection, ...]:
    """Zero to two outages of one station or of all, within `horizon` seconds."""
    stations = [s.id for s in line.stations if s.kind in ("machine", "conveyor", "assembly")]
    out = []
    for _ in range(draw(st.integers(0, 2))):
        station = draw(st.one_of(st.none(), st.sampled_from(stations))) if stations else None
        out.append(Injection(at=float(draw(st.integers(0, int(horizon)))), station=station,
                             down_for=float(draw(st.integers(1, 3600)))))
    return tuple(out)
