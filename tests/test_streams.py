import numpy as np

from twin.streams import StreamLayout, hash64, seed_key, uniform
from twin.distributions import Dist
from twin.model.types import Edge, Failure, Line, Product, Release, Station


def _line(m2_mean: float, extra: bool = False) -> Line:
    expo = lambda m: Dist("exponential", (("mean", m),))  # noqa: E731
    stations = [Station("src", "source", 1, release=Release()),
                Station("m1", "machine", 1, process_time={"part": expo(60.0)},
                        failures=(Failure("f", "operating", expo(3600.0), expo(60.0)),)),
                Station("m2", "machine", 1, process_time={"part": expo(m2_mean)})]
    if extra:
        stations.append(Station("m3", "machine", 1, process_time={"part": expo(5.0)}))
    stations.append(Station("out", "sink", 0))
    ids = [s.id for s in stations]
    edges = tuple(Edge(a, b) for a, b in zip(ids, ids[1:]))
    return Line("l", "", (Product("part", 1.0),), tuple(stations), edges)


def test_uniform_is_uniform_and_counts():
    keys = np.array([seed_key(7)], np.uint64)
    counters = np.zeros(1, np.uint64)
    u = np.array([uniform(keys, counters, 0) for _ in range(20000)])
    assert counters[0] == 20000
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.03


def test_streams_differ_by_node_purpose_seed_and_replication():
    layout = StreamLayout.for_line(_line(60.0))
    keys = layout.keys(1, 0)
    assert len(set(keys.tolist())) == len(keys)
    assert not np.array_equal(keys, layout.keys(1, 1))
    assert not np.array_equal(keys, layout.keys(2, 0))
    assert np.array_equal(keys, layout.keys(1, 0))
    assert ("m1", "failure:f:ttf") in layout.index


def test_changing_one_node_keeps_every_other_nodes_streams():
    """Common random numbers: keys depend on node id and purpose, not on positions."""
    base = StreamLayout.for_line(_line(60.0))
    changed = StreamLayout.for_line(_line(90.0, extra=True))
    kb, kc = base.keys(3, 4), changed.keys(3, 4)
    for (node, purpose), i in base.index.items():
        assert kb[i] == kc[changed.index[(node, purpose)]], (node, purpose)


def test_hash_is_stable():
    assert hash64("op10/process") == hash64("op10/process")
    assert hash64("op10/process") != hash64("op10/setup")
