"""Writing an evidence bundle `DIR/<scenario>-<results_sha256[:12]>/`, all or nothing.

Everything is written into a hidden temporary folder inside `DIR`
(``.twin-tmp-<name>-<random>``) and renamed into place at the end, so a crash
or Ctrl-C never leaves a half-written bundle under the final name (the
temporary folder is removed in a ``finally``: on any exception, KeyboardInterrupt
included, and on SIGTERM, which `twin.cli.main` turns into SystemExit).
If a bundle of that name exists already (same results), it is replaced: on
Linux by an atomic exchange of the two folders (``renameat2`` with
``RENAME_EXCHANGE``), elsewhere by renaming the old one aside first; the old
one is deleted afterwards.

Layout (see docs/evidence.md)::

    evidence.json  report.html  report.<lang>.html ...  trace.csv  incidents.csv
    plots/{state_timeline,buffer_levels,throughput,state_breakdown,lead_time_histogram}.png
    manifest.json  [signature.ed25519]
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import re
import secrets
import shutil
import stat
from pathlib import Path

from twin import lead_times
from twin.accounting import STATES
from twin.evidence import manifest as mf
from twin.evidence import plots, report, signing
from twin.evidence.document import build_document
from twin.evidence.timeline import Timeline, replay
from twin.evidence.trace import write_incidents, write_trace
from twin.model.types import BUFFER, PROCESSING_KINDS

log = logging.getLogger(__name__)

EVIDENCE = "evidence.json"


def bundle_name(scenario_id: str, results_sha256: str) -> str:
    """`<scenario>-<results_sha256[:12]>`, the scenario id made safe for a file name."""
    return f"{_safe_name(scenario_id)}-{results_sha256[:12]}"


def _safe_name(scenario_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", scenario_id).strip("._") or "scenario"


def blocked_names(out_dir: str | Path, scenario_id: str) -> list[Path]:
    """What lies in `out_dir` under a name of the scenario's bundles and is no folder (a file,
    a symbolic link to nothing): the bundle, named after its results, could not take its
    place after the whole run, so `twin accept` refuses it before simulating."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    name = re.compile(re.escape(_safe_name(scenario_id)) + "-[0-9a-f]{12}")
    return sorted(p for p in out_dir.iterdir() if name.fullmatch(p.name) and not p.is_dir())


def report_name(lang: str, first: bool) -> str:
    """`report.html` for the first language, `report.<lang>.html` for the others."""
    return "report.html" if first else f"report.{lang}.html"


def write_bundle(outcome, out_dir: str | Path, langs=("en",), sign_key=None) -> Path:
    """Write the evidence bundle of `outcome` into `out_dir`; returns the bundle's path.

    Parameters
    ----------
    outcome : twin.scenario.Outcome (replication 0 with its trace).
    out_dir : the folder that holds bundles (created if missing).
    langs : report languages; the first one is `report.html`.
    sign_key : an Ed25519 private key (object or PEM path) to sign `manifest.json`, or None.
    """
    if isinstance(sign_key, (str, Path)):
        sign_key = signing.load_private_key(sign_key)
    doc = build_document(outcome)
    name = bundle_name(outcome.scenario.id, doc["hashes"]["results_sha256"])
    out_dir = Path(out_dir)
    created = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".twin-tmp-{name}-{secrets.token_hex(4)}"
    try:
        try:
            tmp.mkdir()
            write_contents(tmp, outcome, doc, tuple(langs), name, sign_key)
            _move_into_place(tmp, out_dir / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # already gone once moved into place
    except BaseException:  # an error or an interrupt: leave no folder this call made
        for folder in created:  # innermost first; rmdir leaves a folder something else filled
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return out_dir / name


def write_contents(folder: Path, outcome, doc: dict, langs: tuple[str, ...], name: str,
                   sign_key=None) -> None:
    """Every file of the bundle into `folder` (which must exist), manifest last."""
    sc = outcome.scenario
    horizon = sc.warmup + sc.duration
    trace = outcome.results[0].trace or []
    timeline = replay(trace, sc.line, horizon, sc.injections)
    (folder / EVIDENCE).write_text(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
                                   + "\n", encoding="utf-8")
    write_trace(trace, timeline.opc_states, folder / "trace.csv")
    write_incidents(timeline.incidents, folder / "incidents.csv")
    pngs = write_plots(folder / "plots", outcome, doc, timeline)
    images = {stem: path.read_bytes() for stem, path in pngs.items()}
    for i, lang in enumerate(langs):
        html = report.render(doc, images, timeline.incidents, name, lang)
        (folder / report_name(lang, i == 0)).write_text(html, encoding="utf-8")
    manifest = mf.dumps(mf.build(folder))
    (folder / mf.MANIFEST).write_bytes(manifest)
    if sign_key is not None:
        (folder / signing.SIGNATURE).write_bytes(signing.sign(manifest, sign_key))


def write_plots(folder: Path, outcome, doc: dict, timeline: Timeline) -> dict[str, Path]:
    """The five plots of SPEC §8 into `folder`; returns their paths by stem."""
    folder.mkdir(exist_ok=True)
    sc = outcome.scenario
    horizon = sc.warmup + sc.duration
    windows = [(inj.at, min(inj.at + inj.down_for, horizon)) for inj in sc.injections]
    capacities = {s.id: s.places for s in sc.line.stations if s.kind == BUFFER}
    fractions = {sid: {state: (k.get(state) or {}).get("mean") for state in STATES}
                 for sid, k in doc["kpis"]["stations"].items()
                 if sc.line.station(sid).kind in PROCESSING_KINDS}
    points = [lead_times.histogram_points(res.lead_times) for res in outcome.results]
    return {
        "state_timeline": plots.state_timeline(timeline.intervals, windows, sc.warmup, horizon,
                                               folder / "state_timeline.png"),
        "buffer_levels": plots.buffer_levels(timeline.levels, capacities, windows, sc.warmup,
                                             horizon, folder / "buffer_levels.png"),
        "throughput": plots.throughput(timeline.exits, windows, sc.warmup, horizon,
                                       folder / "throughput.png"),
        "state_breakdown": plots.state_breakdown(fractions, folder / "state_breakdown.png"),
        "lead_time_histogram": plots.lead_time_histogram(points, folder / "lead_time_histogram.png"),
    }


# ---------------------------------------------------------------------------- renaming
def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished folder to its final name, replacing an existing bundle whole."""
    if os.path.lexists(target) and not target.is_dir():  # came after `blocked_names` was asked
        raise FileExistsError(errno.EEXIST, "is in the way of the bundle and is not a folder", str(target))
    if not target.exists():
        try:
            os.rename(tmp, target)
            return
        except OSError:
            if not target.exists():
                raise
    if _exchange(tmp, target):  # tmp now holds the old bundle
        _remove(tmp)
        return
    old = target.parent / f".twin-old-{target.name}-{secrets.token_hex(4)}"
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    _remove(old)


def _remove(old: Path) -> None:
    """Delete a replaced bundle: a folder, or a symbolic link to one (rmtree refuses links).

    An archived bundle is often read-only (``chmod -R a-w``): its folders are made
    writable first, or nothing in them could be deleted. What still cannot be
    deleted (another owner's files) is named, not left behind silently.
    """
    if old.is_symlink():
        old.unlink()
        return
    _make_folders_writable(old)
    shutil.rmtree(old, ignore_errors=True)
    if os.path.lexists(old):
        log.warning("the replaced bundle could not be deleted: %s is left over; delete it by hand",
                    old)


def _make_folders_writable(top: Path) -> None:
    """Give the owner write and search rights on `top` and every folder under it (links to
    folders are not followed: they are deleted as links)."""
    with contextlib.suppress(OSError):
        _add_owner_rights(top)
    for root, folders, _ in os.walk(top):
        for folder in folders:
            path = os.path.join(root, folder)
            if not os.path.islink(path):
                with contextlib.suppress(OSError):
                    _add_owner_rights(path)


def _add_owner_rights(path) -> None:
    os.chmod(path, os.stat(path).st_mode | stat.S_IRWXU)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
