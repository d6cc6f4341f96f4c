"""Evidence bundles (SPEC §8): hashes, determinism, tamper detection, replay, atomic writes, report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import string
import tempfile
import traceback
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from twin.accounting import STATES
from twin.evidence import build_document, results_sha256, verify, write_bundle
from twin.evidence import bundle as bundle_module
from twin.evidence import manifest as mf
from twin.evidence.document import canonical_json
from twin.evidence.i18n import available, catalog
from twin.evidence.plots import bin_width
from twin.evidence.timeline import replay
from twin.kpis import BUFFER_KEYS, LINE_KEYS, STATION_KEYS
from twin.scenario import PAIRED_KPIS, load_scenario, run_scenario

DATA = Path(__file__).resolve().parent / "data" / "scenarios"
ONE_MACHINE = DATA / "one_machine_injection.yaml"
SMALL_LINE = DATA / "small_line_accept.yaml"
PLOT_FILES = ("plots/state_timeline.png", "plots/buffer_levels.png", "plots/throughput.png",
              "plots/state_breakdown.png", "plots/lead_time_histogram.png")
BUNDLE_FILES = ("evidence.json", "report.html", "report.zh.html", "trace.csv", "incidents.csv",
                "manifest.json") + PLOT_FILES


#: the uid and gid `_without_root` runs as
NOBODY = 65534


@pytest.fixture(scope="module")
def one_machine():
    return run_scenario(load_scenario(ONE_MACHINE), engine="reference")


@pytest.fixture(scope="module")
def small_line():
    return run_scenario(load_scenario(SMALL_LINE), engine="reference")


@pytest.fixture(scope="module")
def bundle(one_machine, tmp_path_factory):
    return write_bundle(one_machine, tmp_path_factory.mktemp("reports"), langs=("en", "zh"))


@pytest.fixture(scope="module")
def small_bundle(small_line, tmp_path_factory):
    return write_bundle(small_line, tmp_path_factory.mktemp("reports"), langs=("en", "zh"))


# ---------------------------------------------------------------------------- document and hash
def test_hand_checkable_case(one_machine):
    """One machine, constant 60 s, down 30 min: loses exactly 30 parts and recovers at once."""
    by_id = {c["id"]: c for c in one_machine.criteria}
    assert by_id["C3"]["per_replication"] == [30.0, 30.0]
    assert by_id["C4"]["per_replication"] == [0.0, 0.0]
    assert one_machine.verdict == "pass"


def test_document_fields(one_machine):
    doc = build_document(one_machine)
    assert doc["schema"] == "twin.evidence/1"
    assert doc["verdict"] == "pass"
    assert doc["scenario"]["id"] == "one-machine-injection"
    assert [c["id"] for c in doc["criteria"]] == ["C1", "C2", "C3", "C4", "C5"]
    for c in doc["criteria"]:
        assert {"id", "kpi", "station", "stat", "bound", "measured", "ci95", "margin",
                "verdict"} <= set(c)
    assert doc["criteria"][2]["injection"] == 0
    assert set(doc["kpis"]["line"]) == set(LINE_KEYS)
    assert "technical_availability" in doc["kpis"]["stations"]["m1"]
    assert doc["inputs"]["line"]["file"] == "one_machine.yaml"
    assert doc["inputs"]["scenario"]["file"] == "one_machine_injection.yaml"
    assert doc["inputs"]["line"]["document"]["line"] == "one-machine"
    assert len(doc["inputs"]["line"]["sha256"]) == 64
    assert doc["engine"]["name"] == "reference"
    assert (doc["seed"], doc["replications"]) == (7, 2)
    assert doc["window"] == {"warmup": 600.0, "duration": 7200.0}
    assert doc["deadlocks"] == []
    assert doc["hashes"]["results_sha256"] == results_sha256(doc)
    assert {"time_utc", "host", "python", "packages"} <= set(doc["provenance"])
    assert set(doc["provenance"]["packages"]) >= {"numpy", "numba", "simpy", "networkx", "matplotlib"}


def test_canonical_json_rule():
    assert canonical_json({"b": 1.0, "a": [0.1, "é"]}) == b'{"a":[0.1,"\\u00e9"],"b":1.0}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_results_hash_ignores_provenance_only(one_machine):
    doc = build_document(one_machine)
    other = build_document(one_machine, provenance={"host": "elsewhere"})
    assert doc["hashes"] == other["hashes"]
    changed = json.loads(json.dumps(doc))
    changed["kpis"]["line"]["throughput"]["mean"] += 1e-9
    assert results_sha256(changed) != doc["hashes"]["results_sha256"]


def test_same_inputs_same_hash_different_seed_different_hash(one_machine, tmp_path):
    first = build_document(one_machine)["hashes"]["results_sha256"]
    # the same files read from another folder: names and contents equal, paths differ
    for name in ("one_machine.yaml", "one_machine_injection.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    again = run_scenario(load_scenario(tmp_path / "one_machine_injection.yaml"), engine="reference")
    assert build_document(again)["hashes"]["results_sha256"] == first
    reseeded = run_scenario(replace(one_machine.scenario, seed=8), engine="reference")
    assert build_document(reseeded)["hashes"]["results_sha256"] != first


def test_small_line_hash_is_deterministic(small_line):
    again = run_scenario(load_scenario(SMALL_LINE), engine="reference")
    assert (build_document(again)["hashes"]["results_sha256"]
            == build_document(small_line)["hashes"]["results_sha256"])


def test_schema(bundle):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(bundle_module.__file__).parent / "schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = json.loads((bundle / "evidence.json").read_text())
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)


# ---------------------------------------------------------------------------- bundle layout
def test_bundle_layout(bundle):
    doc = json.loads((bundle / "evidence.json").read_text())
    assert bundle.name == f"one-machine-injection-{doc['hashes']['results_sha256'][:12]}"
    assert sorted(mf.bundle_files(bundle) + ["manifest.json"]) == sorted(BUNDLE_FILES)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert list(manifest["files"]) == sorted(manifest["files"])
    assert "manifest.json" not in manifest["files"]
    assert not [p for p in bundle.parent.iterdir() if p.name.startswith(".")]


def test_trace_csv(bundle, one_machine):
    lines = (bundle / "trace.csv").read_text().splitlines()
    assert lines[0] == "time,event,part,product,node,server,opc_state"
    assert len(lines) == len(one_machine.results[0].trace) + 1
    rows = [line.split(",") for line in lines[1:]]
    states = {(r[1], r[4]): r[6] for r in rows}
    assert states[("start", "m1")] == "Executing"
    assert states[("done", "m1")] == "NotExecuting"
    assert states[("down", "m1")] == "OutOfService"
    assert states[("up", "m1")] == "Executing"  # the interrupted part resumes (no trace row)


def test_incidents_csv(bundle):
    lines = (bundle / "incidents.csv").read_text().splitlines()
    assert lines == ["station,cause,start,end,duration,reason,attribution",
                     "m1,injection:0,1800.0,3600.0,1800.0,spindle alarm E-1402,customer"]


def test_timeline_of_small_line(small_line):
    sc = small_line.scenario
    horizon = sc.warmup + sc.duration
    tl = replay(small_line.results[0].trace, sc.line, horizon, sc.injections)
    assert set(tl.intervals) == {"op10", "op20", "conv1"}
    assert set(tl.levels) == {"b1"}
    assert max(level for _, level in tl.levels["b1"]) <= 4  # capacity after the override
    for sid, spans in tl.intervals.items():
        assert all(0 <= s < e <= horizon for s, e, _ in spans)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), sid
    down = [(s, e) for s, e, state in tl.intervals["op20"] if state == "down"]
    assert (1800.0, 2400.0) in down  # injection 0
    causes = {(i.station, i.cause) for i in tl.incidents}
    assert {("op20", "injection:0"), ("op10", "injection:1"), ("conv1", "injection:1")} <= causes
    power = [i for i in tl.incidents if i.cause == "injection:1"]
    assert {i.attribution for i in power} == {"customer"}
    assert all(i.attribution == "supplier" for i in tl.incidents if i.kind == "failure")
    assert len(tl.opc_states) == len(small_line.results[0].trace)


def test_plots_are_byte_stable(one_machine, tmp_path):
    a = write_bundle(one_machine, tmp_path / "a")
    b = write_bundle(one_machine, tmp_path / "b")
    for rel in PLOT_FILES + ("trace.csv", "incidents.csv"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
        if rel.endswith(".png"):
            assert (a / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bin_width():
    assert bin_width(7800) == 300
    assert bin_width(9 * 3600) == 900
    assert bin_width(30 * 86400) == 86400


# ---------------------------------------------------------------------------- verify
def test_verify_intact(bundle):
    ok, messages = verify(bundle)
    assert ok, messages


@pytest.mark.parametrize("rel", BUNDLE_FILES)
def test_one_changed_byte_is_named(bundle, tmp_path, rel):
    copy = tmp_path / bundle.name
    shutil.copytree(bundle, copy)
    path = copy / rel
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    ok, messages = verify(copy)
    assert not ok
    assert any(m.startswith(f"{rel}:") for m in messages), messages


def test_missing_and_extra_files_are_named(bundle, tmp_path):
    copy = tmp_path / bundle.name
    shutil.copytree(bundle, copy)
    (copy / "plots" / "throughput.png").unlink()
    (copy / "notes.txt").write_text("added later")
    ok, messages = verify(copy)
    assert not ok
    assert any(m.startswith("plots/throughput.png: missing") for m in messages)
    assert any(m.startswith("notes.txt: extra") for m in messages)


@pytest.mark.parametrize("rel, edit, message", [
    ("manifest.json", lambda data: data.replace(b"{\n", b'{\n  "x": NaN,\n', 1),
     "manifest.json: changed (not a valid manifest)"),
    ("evidence.json", lambda data: b"[" * 100000 + b"]" * 100000,
     "evidence.json: changed (not a valid evidence document)"),
])
def test_unparsable_document_is_a_change(bundle, tmp_path, rel, edit, message):
    """Like any changed byte in it (above): tampering (exit 1), not bad input, never a crash."""
    copy = tmp_path / bundle.name
    shutil.copytree(bundle, copy)
    (copy / rel).write_bytes(edit((copy / rel).read_bytes()))
    ok, messages = verify(copy)
    assert not ok and message in messages


def test_added_links_and_folders_are_named(bundle, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "inside.txt").write_text("not part of the bundle")
    copy = tmp_path / bundle.name
    shutil.copytree(bundle, copy)
    (copy / "dirlink").symlink_to(elsewhere)
    (copy / "filelink").symlink_to(elsewhere / "inside.txt")
    (copy / "plots" / "more").mkdir()
    ok, messages = verify(copy)
    assert not ok
    assert [m for m in messages if ": extra " in m] == [
        "dirlink: extra symbolic link (not listed in manifest.json)",
        "filelink: extra symbolic link (not listed in manifest.json)",
        "plots/more: extra folder (not listed in manifest.json)"]


@pytest.mark.parametrize("rel", ["trace.csv", "evidence.json", "manifest.json", "plots"])
def test_a_file_or_folder_replaced_by_a_link_to_its_copy_is_named(bundle, tmp_path, rel):
    """The same bytes elsewhere, linked in: the bundle no longer holds its evidence."""
    copy = tmp_path / bundle.name
    shutil.copytree(bundle, copy)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (copy / rel).rename(moved / rel)
    (copy / rel).symlink_to(moved / rel)
    ok, messages = verify(copy)
    assert not ok
    named = "missing" if rel == "plots" else "replaced by a symbolic link"  # (its files are not seen)
    assert any(m.startswith(rel) and named in m for m in messages), messages


def test_unreadable_file_is_bad_input(bundle, monkeypatch):
    from twin.errors import InputError

    def unreadable(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(mf, "sha256_file", unreadable)  # chmod does not stop root
    with pytest.raises(InputError, match=r"evidence\.json: cannot be read \(Permission denied\)"):
        verify(bundle)


def test_a_folder_that_cannot_be_listed_is_bad_input(bundle, monkeypatch):
    """Its files would look missing, next to an evidence.json that reads fine: not tampering."""
    import os

    from twin.errors import InputError

    listing = os.scandir

    def scandir(path="."):
        if Path(path).name == "plots":
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", scandir)  # chmod does not stop root
    with pytest.raises(InputError, match=r"plots: cannot be read \(Permission denied\)"):
        verify(bundle)


def test_not_a_bundle_is_bad_input(tmp_path):
    from twin.errors import InputError

    with pytest.raises(InputError):
        verify(tmp_path)
    with pytest.raises(InputError):
        verify(tmp_path / "nope")


def test_replay_ok(bundle):
    ok, messages = verify(bundle, replay=True)
    assert ok, messages
    assert any("results identical" in m for m in messages)


def test_replay_ok_with_overrides(small_bundle):
    ok, messages = verify(small_bundle, replay=True)
    assert ok, messages


def _forged(bundle: Path, tmp_path: Path, change) -> Path:
    """A copy of `bundle` whose evidence.json `change` edits, with fresh hashes (a consistent forgery)."""
    copy = tmp_path / bundle.name
    shutil.copytree(bundle, copy)
    doc = json.loads((copy / "evidence.json").read_text())
    change(doc)
    doc["hashes"]["results_sha256"] = results_sha256(doc)
    (copy / "evidence.json").write_text(json.dumps(doc, indent=2))
    (copy / "manifest.json").write_bytes(mf.dumps(mf.build(copy)))
    return copy


def test_replay_names_a_consistent_forgery(bundle, tmp_path):
    """Edited numbers with fresh hashes pass the hash checks; only a replay catches them."""
    copy = _forged(bundle, tmp_path, lambda doc: doc["kpis"]["line"]["throughput"].update(mean=59.0))
    ok, messages = verify(copy)
    assert ok, messages
    ok, messages = verify(copy, replay=True)
    assert not ok
    assert any("kpis.line.throughput.mean" in m for m in messages), messages


@pytest.mark.parametrize("path, value", [("stations.b1.capacity", 9),
                                         ("stations.no_such_station.servers", 2)])
def test_replay_names_overrides_the_stored_line_does_not_have(small_bundle, tmp_path, path, value):
    """The scenario document claims another buffer size than the stored (resolved) line has, or
    an override no line could have applied: a forgery with fresh hashes, caught by the replay."""
    def claim_other_overrides(doc):
        doc["inputs"]["scenario"]["document"]["overrides"][path] = value

    copy = _forged(small_bundle, tmp_path, claim_other_overrides)
    assert verify(copy)[0]
    ok, messages = verify(copy, replay=True)
    assert not ok
    assert any("overrides are not those the stored line document has applied" in m for m in messages)


def test_replay_of_an_unknown_recorded_engine_is_a_problem(bundle, tmp_path):
    copy = _forged(bundle, tmp_path, lambda doc: doc["engine"].update(name="turbo"))
    assert verify(copy)[0]
    ok, messages = verify(copy, replay=True)
    assert not ok
    assert ("replay: evidence.json: engine.name: unknown engine 'turbo' "
            "(known: fast, reference; choose one with --engine)") in messages


# ---------------------------------------------------------------------------- atomic writes
@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_failure_mid_write_leaves_nothing(one_machine, tmp_path, monkeypatch, error):
    """The temporary bundle goes, and so do the output folders this call created; a folder
    that was there before stays."""
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(bundle_module.report, "render", broken)
    with pytest.raises(type(error)):
        write_bundle(one_machine, tmp_path / "new" / "reports")
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(type(error)):
        write_bundle(one_machine, tmp_path / "kept")
    assert list((tmp_path / "kept").iterdir()) == []


def test_rewriting_replaces_the_bundle_whole(one_machine, tmp_path):
    first = write_bundle(one_machine, tmp_path)
    (first / "stale.txt").write_text("left from before")
    second = write_bundle(one_machine, tmp_path)
    assert second == first
    assert not (second / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == [first.name]
    assert verify(second)[0]


def test_a_symbolic_link_to_a_bundle_is_replaced_without_leftovers(one_machine, tmp_path):
    first = write_bundle(one_machine, tmp_path / "elsewhere")
    out = tmp_path / "reports"
    out.mkdir()
    (out / first.name).symlink_to(first)
    second = write_bundle(one_machine, out)
    assert [p.name for p in out.iterdir()] == [first.name] and not second.is_symlink()
    assert verify(second)[0] and verify(first)[0]  # the folder linked to is left alone


def _without_root(fn) -> None:
    """Run `fn` as it would run for a user: as root, in a forked child as `nobody` (root
    ignores file rights); an exception in it fails the test."""
    if os.geteuid() != 0:
        fn()
        return
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        code = 1
        signal.alarm(60)  # a child that hangs is killed, and the test fails
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            fn()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_a_read_only_bundle_is_replaced_without_leftovers(one_machine):
    """An archived bundle is often read-only (``chmod -R a-w``): rewriting it must not leave
    the old one behind in a hidden temporary folder."""
    with tempfile.TemporaryDirectory() as top:  # under /tmp: `nobody` can reach it
        out = Path(top) / "reports"
        first = write_bundle(one_machine, out)
        new = out / ".twin-tmp-new"
        shutil.copytree(first, new)
        (new / "marker.txt").write_text("the new bundle")
        if os.geteuid() == 0:  # the files are the user's own
            for root, folders, files in os.walk(top):
                for name in (root, *(os.path.join(root, f) for f in folders + files)):
                    os.chown(name, NOBODY, NOBODY)
        os.chmod(top, 0o755)
        for root, _, files in list(os.walk(first))[::-1]:  # the old bundle read-only, deepest first
            for f in files:
                os.chmod(os.path.join(root, f), 0o444)
            os.chmod(root, 0o555)
        _without_root(lambda: bundle_module._move_into_place(new, first))
        assert sorted(p.name for p in out.iterdir()) == [first.name]
        assert (first / "marker.txt").exists()  # the new one


def test_a_replaced_bundle_that_cannot_be_deleted_is_named(tmp_path, monkeypatch, caplog):
    old = tmp_path / ".twin-old-x"
    old.mkdir()
    monkeypatch.setattr(bundle_module.shutil, "rmtree", lambda *args, **kwargs: None)
    with caplog.at_level("WARNING", logger="twin"):
        bundle_module._remove(old)
    assert str(old) in caplog.text and "could not be deleted" in caplog.text


def test_something_in_the_bundles_way_is_one_error_naming_it(one_machine, tmp_path):
    first = write_bundle(one_machine, tmp_path)
    shutil.rmtree(first)
    first.symlink_to(tmp_path / "gone")
    with pytest.raises(FileExistsError) as exc:
        write_bundle(one_machine, tmp_path)
    assert exc.value.filename == str(first) and "not a folder" in exc.value.strerror
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary folder left


def test_signature(one_machine, tmp_path):
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    other = ed25519.Ed25519PrivateKey.generate()
    pub = tmp_path / "pub.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(other.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    signed = write_bundle(one_machine, tmp_path / "out", sign_key=key)
    assert (signed / "signature.ed25519").stat().st_size == 64
    assert verify(signed, pubkey=pub)[0]
    ok, messages = verify(signed, pubkey=wrong)
    assert not ok and any(m.startswith("signature.ed25519:") for m in messages)
    data = bytearray((signed / "signature.ed25519").read_bytes())
    data[10] ^= 1
    (signed / "signature.ed25519").write_bytes(bytes(data))
    ok, messages = verify(signed, pubkey=pub)
    assert not ok and any(m.startswith("signature.ed25519:") for m in messages)


# ---------------------------------------------------------------------------- report
class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.external: list[str] = []
        self.verdict = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if "data-verdict" in attrs:
            self.verdict = attrs["data-verdict"]
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag in ("script", "link") or (tag == "img" and not attrs.get("src", "").startswith("data:")):
            self.external.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


@pytest.mark.parametrize("name, verdict_word", [("report.html", "PASS"), ("report.zh.html", "通过")])
def test_report_parses_and_holds_verdict_and_criteria(bundle, name, verdict_word):
    page = _parse(bundle / name)
    text = " ".join(page.text)
    assert page.verdict == "pass"
    assert verdict_word in text
    for cid in ("C1", "C2", "C3", "C4", "C5"):
        assert f"criterion-{cid}" in page.ids and cid in text
    assert len(page.images) == 5 and all(src.startswith("data:image/png;base64,")
                                         for src in page.images)
    assert page.external == []
    assert {"verdict", "criteria", "line-kpis", "station-kpis", "plots", "incidents", "inputs",
            "verify"} <= page.ids
    assert f"twin verify {bundle.name} --replay" in text


def test_failing_report_says_fail(small_line, tmp_path):
    failing = replace(small_line, verdict="fail",
                      criteria=[dict(c, verdict="fail") for c in small_line.criteria])
    path = write_bundle(failing, tmp_path, langs=("zh", "en"))
    assert (path / "report.html").exists() and (path / "report.en.html").exists()
    assert "未通过" in " ".join(_parse(path / "report.html").text)
    page = _parse(path / "report.en.html")
    assert page.verdict == "fail" and "FAIL" in " ".join(page.text)


def test_catalogs_have_the_same_keys_and_fields():
    reference = catalog("en")
    fields = lambda text: sorted(f for _, f, _, _ in string.Formatter().parse(text) if f)  # noqa: E731
    for lang in available():
        messages = catalog(lang)
        assert set(messages) == set(reference), f"{lang}: {set(reference) ^ set(messages)}"
        for key, text in reference.items():
            assert fields(messages[key]) == fields(text), f"{lang}: {key}"


def test_catalogs_name_every_kpi_and_state():
    keys = set(catalog("en"))
    kpis = set(LINE_KEYS) | set(STATION_KEYS) | set(BUFFER_KEYS) | set(PAIRED_KPIS) | {
        "technical_availability"}
    assert {f"kpi.{k}" for k in kpis} <= keys
    assert {f"state.{s}" for s in STATES} <= keys
    assert {"attribution.supplier", "attribution.customer", "attribution.maintenance"} <= keys


def test_zh_report_has_no_missing_keys(bundle):
    """Rendering looks every text up in the catalog (KeyError if missing); no English left over."""
    text = (bundle / "report.zh.html").read_text(encoding="utf-8")
    for english in ("Acceptance criteria", "Line KPIs", "How to verify", "Incidents", "Margin"):
        assert english not in text


def test_headless_chromium_renders_the_plots(bundle, tmp_path):
    import subprocess

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("chromium not installed")
    from PIL import Image

    shot = tmp_path / "shot.png"
    subprocess.run([str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,5000", f"--screenshot={shot}",
                    (bundle / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32).reshape(-1, 3)
    # the throughput bars' blue (#1565c0) is drawn only inside the plot images
    blue = np.all(np.abs(pixels - (0x15, 0x65, 0xC0)) < 12, axis=1).sum()
    assert blue > 5000, "the plots did not load in the browser"


def test_deadlock_is_recorded_and_the_line_frozen(tmp_path):
    outcome = run_scenario(load_scenario(DATA / "deadlock.yaml"), engine="reference")
    path = write_bundle(outcome, tmp_path)
    doc = json.loads((path / "evidence.json").read_text())
    assert doc["verdict"] == "fail"
    assert doc["deadlocks"] and doc["deadlocks"][0]["replication"] == 0
    assert doc["deadlocks"][0]["nodes"] == ["m1", "m2"]
    last = (path / "trace.csv").read_text().splitlines()[-1].split(",")
    assert (last[1], last[4], last[6]) == ("deadlock", "m1+m2", "NotExecuting")
    sc = outcome.scenario
    horizon = sc.warmup + sc.duration
    tl = replay(outcome.results[0].trace, sc.line, horizon, sc.injections)
    for sid in ("m1", "m2"):  # frozen: blocked from the deadlock to the end of the window
        start, end, state = tl.intervals[sid][-1]
        assert (end, state) == (horizon, "blocked") and start <= doc["deadlocks"][0]["time"]
    assert "deadlocks" in (path / "report.html").read_text()
    assert verify(path, replay=True)[0]
