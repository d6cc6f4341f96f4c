"""`twin.compile`: a validated line as the flat arrays the fast kernel reads."""

from __future__ import annotations

import math

import numpy as np

from helpers import line_from_yaml
from twin.compile import (
    B_CALENDAR, B_OPERATING, K_ASSEMBLY, K_BUFFER, K_MACHINE, K_SINK, K_SOURCE, NODE_PURPOSES,
    R_PROBABILITY, compile_line,
)
from twin.distributions import EMPIRICAL
from twin.streams import StreamLayout, failure_purposes

LINE = """
line: compiled
products: [{id: a, mix: 0.25}, {id: b, mix: 0.75}]
resources: [{id: robot, capacity: 2}]
calendar: {period: 8h, off: [[0s, 30min], [4h, 4.5h]]}
stations:
  - {id: src, kind: source, release: {interarrival: 30s, sequence: [a, b, b]}}
  - {id: buf, kind: buffer, capacity: 3}
  - id: cnc
    kind: machine
    servers: 2
    route: probability
    process_time: {a: {dist: empirical, values: [10s, 20s]}, b: {dist: empirical, values: [30s]}}
    setup: 5s
    setup_matrix: {a: {b: 7s}}
    load: {resource: robot, time: 4s}
    failures:
      - {name: spindle, basis: operating, ttf: {dist: exponential, mean: 1h}, ttr: 5min}
      - {name: power, basis: calendar, ttf: {dist: exponential, mean: 8h}, ttr: 10min}
    scrap: 0.1
  - {id: side, kind: source, release: {sequence: [b]}}
  - {id: asm, kind: assembly, process_time: 15s, inputs: {cnc: 1, side: 2}, output: a}
  - {id: out, kind: sink}
edges:
  - [src, buf]
  - [buf, cnc]
  - {from: cnc, to: asm, p: 0.9}
  - {from: cnc, to: buf, p: 0.1, products: [b]}
  - [side, asm]
  - [asm, out]
"""


def test_nodes_edges_and_adjacency():
    line = line_from_yaml(LINE)
    c = compile_line(line)
    assert c.kind.tolist() == [K_SOURCE, K_BUFFER, K_MACHINE, K_SOURCE, K_ASSEMBLY, K_SINK]
    assert c.places.tolist() == [1, 3, 2, 1, 1, 0]
    assert c.route[2] == R_PROBABILITY
    # out-edges of cnc in file order, with their weights and product filters
    first, last = c.out_start[2], c.out_start[3]
    assert c.out_target[first:last].tolist() == [4, 1]
    assert c.out_p[first:last].tolist() == [0.9, 0.1]
    assert c.out_admit[first:last].tolist() == [[True, True], [False, True]]
    # in-edges of buf: from src, then the rework from cnc (its out-edge position 1)
    first, last = c.in_start[1], c.in_start[2]
    assert c.in_pred[first:last].tolist() == [0, 2]
    assert c.in_pos[first:last].tolist() == [0, 1]
    # the assembly's kit: one part from cnc, two from side
    first, last = c.in_start[4], c.in_start[5]
    assert c.in_need[first:last].tolist() == [1, 2]
    assert c.output[4] == 0 and c.output[2] == -1
    assert c.max_parts == 1 + 3 + 2 + 1 + 1 + 3  # places of non-sinks, and the kit
    assert c.cyclic


def test_distributions_share_one_table_and_pool():
    c = compile_line(line_from_yaml(LINE))
    empirical = [c.process_dist[2, 0], c.process_dist[2, 1]]
    assert [c.dist_code[d] for d in empirical] == [EMPIRICAL, EMPIRICAL]
    offsets = [int(c.dist_par[d, 0]) for d in empirical]
    assert [c.pool[o:o + int(c.dist_par[d, 1])].tolist() for o, d in zip(offsets, empirical)] == \
        [[10.0, 20.0], [30.0]]
    setup = c.setup_dist[2]
    assert setup[0, 0] == setup[1, 1] == -1  # no setup when the product stays
    assert c.dist_par[setup[0, 1], 0] == 7.0 and c.dist_par[setup[1, 0], 0] == 5.0
    assert c.arrival_dist[0] >= 0 and c.arrival_dist[3] == -1  # saturated
    assert c.seq_product[c.seq_start[0]:c.seq_start[1]].tolist() == [0, 1, 1]
    assert c.mix_cum.tolist() == [0.25, math.inf]  # Line.mix_thresholds


def test_failures_resources_calendars_and_streams():
    line = line_from_yaml(LINE)
    c = compile_line(line)
    layout = StreamLayout.for_line(line)
    assert c.mode_start.tolist() == [0, 0, 0, 2, 2, 2, 2]
    assert c.mode_basis.tolist() == [B_OPERATING, B_CALENDAR]
    assert c.mode_ttf_stream[1] == layout.index[("cnc", failure_purposes("power")[0])]
    assert c.mode_ttr_stream[0] == layout.index[("cnc", failure_purposes("spindle")[1])]
    assert c.stream[2].tolist() == [layout.index[("cnc", p)] for p in NODE_PURPOSES]
    assert np.array_equal(c.stream_hashes, layout.hashes)
    assert c.load_resource[2] == 0 and c.unload_resource[2] == -1
    assert c.resource_capacity.tolist() == [2]
    # the line's calendar applies to sources, machines, assemblies; not to buffers and sinks
    windows = [c.cal_start[n + 1] - c.cal_start[n] for n in range(c.n_nodes)]
    assert windows == [2, 0, 2, 2, 2, 0]
    assert c.cal_off[c.cal_start[2]:c.cal_start[3]].tolist() == [[0.0, 1800.0], [14400.0, 16200.0]]


def test_compiled_once_per_line_object():
    line = line_from_yaml(LINE)
    assert compile_line(line) is compile_line(line)
    assert compile_line(line_from_yaml(LINE)) is not compile_line(line)
