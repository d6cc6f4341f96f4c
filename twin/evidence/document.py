"""The `evidence.json` document (schema `twin.evidence/1`) of a simulated scenario, and its hash.

:func:`build_document` turns an :class:`~twin.scenario.Outcome` into a plain
dict; :func:`results_sha256` hashes everything in it but ``provenance`` and
``hashes``, in the canonical JSON form of :func:`canonical_json`:

    sorted keys, separators ``(",", ":")``, ASCII only, no NaN or infinity,
    floats as Python's ``repr`` (the shortest string that reads back exactly).

Nothing inside the hashed part depends on the machine, the time or the
working directory: input files appear by file name (not path) and sha256, so
the same inputs and seed give the same `results_sha256` anywhere.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import platform
from importlib import metadata
from pathlib import Path

import numpy as np

from twin import __version__
from twin.provenance import engine_info
from twin.scenario import PAIRED_KPIS

SCHEMA = "twin.evidence/1"
#: top-level keys left out of `results_sha256`
UNHASHED = ("provenance", "hashes")
#: packages whose versions go into `provenance`
PACKAGES = ("numpy", "numba", "simpy", "networkx", "matplotlib", "scipy", "PyYAML")


def canonical_json(obj) -> bytes:
    """The canonical JSON bytes that `results_sha256` is computed over (see the module docstring)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def results_sha256(document: dict) -> str:
    """sha256 of the canonical JSON of every top-level key but `provenance` and `hashes`."""
    hashed = {k: v for k, v in document.items() if k not in UNHASHED}
    return hashlib.sha256(canonical_json(hashed)).hexdigest()


def build_document(outcome, inputs: dict | None = None, provenance: dict | None = None) -> dict:
    """The evidence document of `outcome`, with `hashes.results_sha256` filled in.

    Parameters
    ----------
    outcome : twin.scenario.Outcome
    inputs : the `inputs` section to use instead of the one built from the
        scenario (a replay passes the recorded one: it has no files to hash).
    provenance : the `provenance` section (default: :func:`provenance_info` now).
    """
    sc = outcome.scenario
    doc = {
        "schema": SCHEMA,
        "verdict": outcome.verdict,
        "scenario": {"id": sc.id, "requirement": sc.requirement},
        "criteria": [criterion_entry(c, spec) for c, spec in zip(outcome.criteria, sc.criteria)],
        "kpis": plain(outcome.kpis),
        "inputs": inputs if inputs is not None else inputs_section(sc),
        "engine": engine_info(outcome.engine),
        "seed": sc.seed,
        "replications": sc.replications,
        "window": {"warmup": float(sc.warmup), "duration": float(sc.duration)},
        "injections": [injection_entry(sc, k) for k in range(len(sc.injections))],
        "deadlocks": [{"replication": r, "time": float(res.deadlock_time),
                       "nodes": list(res.deadlock_nodes)}
                      for r, res in enumerate(outcome.results) if res.deadlock],
    }
    doc["hashes"] = {"results_sha256": results_sha256(doc)}
    doc["provenance"] = provenance if provenance is not None else provenance_info()
    return doc


def criterion_entry(verdict: dict, criterion) -> dict:
    """A judged criterion as Outcome holds it, plus the injection a paired KPI refers to."""
    entry = plain(verdict)
    entry["injection"] = criterion.injection if criterion.kpi in PAIRED_KPIS else None
    return entry


def inputs_section(scenario) -> dict:
    """The line and scenario as resolved, by file name and sha256 of the file as read."""
    return {
        "line": {"file": Path(scenario.line_file).name, "sha256": scenario.line_sha256,
                 "document": plain(scenario.line.raw)},
        "scenario": {"file": Path(scenario.file).name, "sha256": scenario.scenario_sha256,
                     "document": plain(scenario.raw)},
    }


def injection_entry(scenario, k: int) -> dict:
    """Injection k resolved: times in seconds and the stations it takes down."""
    inj = scenario.injections[k]
    return {"index": k, "at": float(inj.at), "down_for": float(inj.down_for),
            "station": inj.station, "stations": list(scenario.line.injected_stations(inj)),
            "reason": inj.reason, "attribution": inj.attribution}


def provenance_info() -> dict:
    """When, where and with what the bundle was made (outside the results hash)."""
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "twin": __version__,
        "packages": packages,
    }


def plain(value):
    """A JSON-ready copy: numpy → Python, tuples → lists, NaN/inf → None, dates → ISO strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, str):
        return value
    return str(value)
