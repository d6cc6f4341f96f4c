"""Checking an evidence bundle: hashes, results hash, signature and, on request, a replay.

:func:`verify` answers "is this the bundle that was written, and do its
numbers follow from its inputs?" in steps, each adding messages that name
the file concerned:

1. `manifest.json` is in its one accepted form and its own hash matches;
2. every file it lists exists with that sha256, in the bundle (not through a
   symbolic link), and nothing was added (no file, folder or symbolic link
   that it does not list);
3. `evidence.json` parses and `hashes.results_sha256` matches its content;
4. with a public key, `signature.ed25519` is a valid signature of the manifest;
5. with `replay`, the scenario is rebuilt from the resolved inputs stored in
   `evidence.json`, simulated again with the recorded engine (or `engine`),
   and its results hash compared; on a difference the differing fields are
   named (with another engine: the KPIs and criteria are compared to 1e-9).

A folder that is not a bundle at all (missing, or no manifest.json and no
evidence.json), or a file of it that cannot be read, raises InputError (exit 2
on the command line). A file that reads but does not parse as its document
(bad JSON, NaN, nesting too deep, wrong shape) is a problem, reported like any
other change (exit 1): that is what a changed byte in it usually gives. So is
an engine recorded in `evidence.json` that this version does not have, for a
replay with the recorded engine.
"""

from __future__ import annotations

import json
import math
from pathlib import Path, PurePosixPath

from twin.engines import ENGINES
from twin.errors import InputError
from twin.evidence import manifest as mf
from twin.evidence import signing
from twin.evidence.bundle import EVIDENCE
from twin.evidence.document import SCHEMA, build_document, results_sha256

#: relative tolerance for KPIs when a replay uses another engine than the recorded one (SPEC §6)
ENGINE_TOLERANCE = 1e-9
MAX_DIFFERENCES = 20
#: what reading a document of a bundle raises when its content is not that document
MALFORMED = (ValueError, KeyError, TypeError, AttributeError, RecursionError)


def verify(bundle_dir: str | Path, replay: bool = False, engine: str | None = None,
           pubkey=None, progress=None) -> tuple[bool, list[str]]:
    """Check a bundle; returns (intact, messages). See the module docstring for the steps.

    Parameters
    ----------
    bundle_dir : the bundle folder.
    replay : also re-simulate from the stored inputs and compare.
    engine : engine for the replay (default: the recorded one).
    pubkey : Ed25519 public key (object or PEM path) to check `signature.ed25519`.
    progress : `progress(label, total) -> (update, close)` for a progress display of the replay.
    """
    bundle = Path(bundle_dir)
    if isinstance(pubkey, (str, Path)):
        pubkey = signing.load_public_key(pubkey)
    problems: list[str] = []
    notes: list[str] = []
    try:
        _check_is_bundle(bundle)
        doc = _check_hashes(bundle, pubkey, problems, notes)
    except OSError as exc:
        raise InputError.single(exc.filename or str(bundle), "",
                                f"cannot be read ({exc.strerror})") from None
    if replay and doc is not None:
        _replay(doc, engine, problems, notes, progress)
    if problems:
        return False, problems + notes
    return True, notes + ["bundle intact"]


def _check_is_bundle(bundle: Path) -> None:
    """InputError unless `bundle` is a bundle folder."""
    if not bundle.is_dir():
        what = "does not exist" if not bundle.exists() else "not a folder"
        raise InputError.single(str(bundle), "", f"{what} (expected an evidence bundle)")
    if not (bundle / mf.MANIFEST).is_file() and not (bundle / EVIDENCE).is_file():
        raise InputError.single(str(bundle), "", "not an evidence bundle (no manifest.json, "
                                                 "no evidence.json)")


# ---------------------------------------------------------------------------- hashes
def _check_hashes(bundle: Path, pubkey, problems: list[str], notes: list[str]) -> dict | None:
    """Steps 1 to 4; returns the evidence document if it parses (OSError where a file cannot be read)."""
    for name in mf.UNLISTED:  # (the listed files: in `_check_files`)
        if _through_link(bundle, name):
            problems.append(f"{name}: {_LINKED}")
    manifest = _check_manifest(bundle, problems)
    if manifest is not None:
        _check_files(bundle, manifest, problems, notes)
    doc = _check_evidence(bundle, problems, notes)
    _check_signature(bundle, pubkey, problems, notes)
    return doc


def _check_manifest(bundle: Path, problems: list[str]) -> dict | None:
    path = bundle / mf.MANIFEST
    if not path.is_file():
        problems.append(f"{mf.MANIFEST}: missing")
        return None
    data = path.read_bytes()
    try:
        manifest = json.loads(data.decode("utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict):
            raise TypeError
        own_hash = mf.self_hash(manifest)  # ValueError on NaN or infinity
    except MALFORMED:
        problems.append(f"{mf.MANIFEST}: changed (not a valid manifest)")
        return None
    if manifest.get("manifest_sha256") != own_hash:
        problems.append(f"{mf.MANIFEST}: changed (its own hash manifest_sha256 does not match)")
    elif mf.dumps(manifest) != data:
        problems.append(f"{mf.MANIFEST}: changed (bytes differ from its canonical form)")
    return manifest


def _check_files(bundle: Path, manifest: dict, problems: list[str], notes: list[str]) -> None:
    listed = manifest["files"]
    unlisted = _unlisted(bundle, listed)  # first: OSError if a folder cannot be listed
    present = set(mf.bundle_files(bundle))
    for rel in sorted(listed):
        if rel not in present:
            problems.append(f"{rel}: missing (listed in {mf.MANIFEST})")
        elif _through_link(bundle, rel):
            problems.append(f"{rel}: {_LINKED}")
        elif mf.sha256_file(bundle / rel) != listed[rel]:
            problems.append(f"{rel}: changed (sha256 differs from {mf.MANIFEST})")
    for rel in sorted(unlisted):
        problems.append(f"{rel}: extra {_kind(bundle / rel)} (not listed in {mf.MANIFEST})")
    if not problems:
        notes.append(f"{mf.MANIFEST}: {len(listed)} files, every sha256 matches")


_LINKED = "replaced by a symbolic link (the bundle no longer holds it)"


def _through_link(bundle: Path, rel: str) -> bool:
    """Whether the bundle's path `rel`, or a folder on the way to it, is a symbolic link (to a
    copy elsewhere, which its hash would not tell)."""
    path = bundle
    for part in PurePosixPath(rel).parts:
        path = path / part
        if path.is_symlink():
            return True
    return False


def _unlisted(bundle: Path, listed: dict) -> set[str]:
    """Every entry of the bundle the manifest does not account for: added files, folders or links."""
    holders = {parent.as_posix() for rel in listed for parent in PurePosixPath(rel).parents}
    return mf.bundle_entries(bundle) - set(listed) - holders - set(mf.UNLISTED)


def _kind(path: Path) -> str:
    """What an added entry is, for its message."""
    return "symbolic link" if path.is_symlink() else "folder" if path.is_dir() else "file"


def _check_evidence(bundle: Path, problems: list[str], notes: list[str]) -> dict | None:
    path = bundle / EVIDENCE
    if not path.is_file():
        if f"{EVIDENCE}: missing (listed in {mf.MANIFEST})" not in problems:
            problems.append(f"{EVIDENCE}: missing")
        return None
    try:
        doc = json.loads(path.read_text("utf-8"))
        recorded = doc["hashes"]["results_sha256"]
        computed = results_sha256(doc)
    except MALFORMED:
        problems.append(f"{EVIDENCE}: changed (not a valid evidence document)")
        return None
    if doc.get("schema") != SCHEMA:
        problems.append(f"{EVIDENCE}: schema is {doc.get('schema')!r}, expected {SCHEMA!r}")
    if recorded != computed:
        problems.append(f"{EVIDENCE}: changed (results_sha256 recorded {recorded}, "
                        f"computed from its content {computed})")
        return doc
    notes.append(f"{EVIDENCE}: results_sha256 {computed} matches its content")
    if not bundle.resolve().name.endswith(computed[:12]):
        notes.append(f"note: the folder name does not end with results_sha256[:12] "
                     f"({computed[:12]}); was it renamed?")
    return doc


def _check_signature(bundle: Path, pubkey, problems: list[str], notes: list[str]) -> None:
    path = bundle / signing.SIGNATURE
    if pubkey is None:
        if path.is_file():
            notes.append(f"{signing.SIGNATURE}: present, not checked (give --pubkey)")
        return
    if not path.is_file():
        problems.append(f"{signing.SIGNATURE}: missing (a public key was given)")
        return
    manifest = (bundle / mf.MANIFEST).read_bytes() if (bundle / mf.MANIFEST).is_file() else b""
    if signing.check(manifest, path.read_bytes(), pubkey):
        notes.append(f"{signing.SIGNATURE}: valid signature of {mf.MANIFEST}")
    else:
        problems.append(f"{signing.SIGNATURE}: invalid (does not sign this {mf.MANIFEST} "
                        "with the given key)")


# ---------------------------------------------------------------------------- replay
def _replay(doc: dict, engine: str | None, problems: list[str], notes: list[str], progress) -> None:
    from twin.scenario import apply_overrides, from_documents, given, run_scenario

    try:
        inputs = doc["inputs"]
        scenario_doc = dict(inputs["scenario"]["document"])
        overrides = given(scenario_doc, "overrides", {})
        scenario_doc.pop("overrides", None)  # the stored line document has them applied ...
        unapplied: list = []  # ... so applying them again goes through and changes nothing
        if apply_overrides(inputs["line"]["document"], overrides, EVIDENCE, unapplied) != \
                inputs["line"]["document"] or unapplied:
            problems.append(f"replay: {EVIDENCE}: the scenario's overrides are not those the "
                            "stored line document has applied")
            return
        recorded_engine = doc["engine"]["name"]
        scenario = from_documents(scenario_doc, inputs["scenario"]["file"],
                                  inputs["line"]["document"], inputs["line"]["file"])
    except MALFORMED:
        problems.append(f"replay: {EVIDENCE} does not hold the resolved inputs")
        return
    except InputError as exc:
        problems.append(f"replay: the inputs stored in {EVIDENCE} do not validate: {exc}")
        return
    engine = engine or recorded_engine
    if engine not in ENGINES:
        problems.append(f"replay: {EVIDENCE}: engine.name: unknown engine {engine!r} "
                        f"(known: {', '.join(ENGINES)}; choose one with --engine)")
        return
    update, close = progress(f"replay {scenario.id} ({engine})", scenario.replications) \
        if progress else (None, None)
    try:
        outcome = run_scenario(scenario, engine=engine, progress=update)
    finally:
        if close:
            close()
    new = build_document(outcome, inputs=inputs, provenance={})
    if new["hashes"]["results_sha256"] == results_sha256(doc):
        notes.append(f"replay ({engine}): results identical, results_sha256 "
                     f"{new['hashes']['results_sha256']}")
        return
    if engine != recorded_engine:
        differences = differ(doc, new, ("verdict", "criteria", "kpis", "deadlocks"),
                             ENGINE_TOLERANCE)
        if not differences:
            notes.append(f"replay ({engine}, recorded {recorded_engine}): KPIs and criteria agree "
                         f"within a relative {ENGINE_TOLERANCE:g}")
            return
    else:
        differences = differ(doc, new, tuple(k for k in new if k not in ("hashes", "provenance")))
    problems.append(f"replay ({engine}): results differ from {EVIDENCE} "
                    f"(recorded {doc.get('hashes', {}).get('results_sha256')}, "
                    f"replayed {new['hashes']['results_sha256']})")
    problems.extend(f"replay: {d}" for d in differences[:MAX_DIFFERENCES])
    if len(differences) > MAX_DIFFERENCES:
        problems.append(f"replay: ... and {len(differences) - MAX_DIFFERENCES} more differences")


def differ(old: dict, new: dict, keys: tuple[str, ...], rel_tol: float = 0.0) -> list[str]:
    """Paths (`kpis.line.throughput.mean`) where two documents differ, with both values."""
    out: list[str] = []
    for key in keys:
        _walk(old.get(key), new.get(key), key, rel_tol, out)
    return out


def _walk(a, b, path: str, rel_tol: float, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            _walk(a.get(k), b.get(k), f"{path}.{k}", rel_tol, out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            label = x.get("id", i) if isinstance(x, dict) else i
            _walk(x, y, f"{path}[{label}]", rel_tol, out)
    elif not _same(a, b, rel_tol):
        out.append(f"{path}: recorded {a!r}, replayed {b!r}")


def _same(a, b, rel_tol: float) -> bool:
    if (isinstance(a, (int, float)) and isinstance(b, (int, float))
            and not isinstance(a, bool) and not isinstance(b, bool)):
        return a == b or math.isclose(a, b, rel_tol=rel_tol, abs_tol=rel_tol * 1e-3)
    return a == b and type(a) is type(b)
