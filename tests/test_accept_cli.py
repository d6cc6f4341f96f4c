"""`twin accept` and `twin verify` on the command line: exit codes, messages, nothing half-written."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from twin.cli import main

DATA = Path(__file__).resolve().parent / "data" / "scenarios"
PASSING = DATA / "one_machine_injection.yaml"
FAILING = DATA / "one_machine_fails.yaml"


def _accept(capsys, *args) -> tuple[int, str, str]:
    code = main(["accept", *map(str, args), "--engine", "reference"])
    out, err = capsys.readouterr()
    return code, out, err


def _bundles(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


@pytest.fixture(scope="module")
def accepted(tmp_path_factory):
    """One bundle written by the CLI, shared by the verify tests (copied before changing)."""
    out = tmp_path_factory.mktemp("reports")
    assert main(["accept", str(PASSING), "--engine", "reference", "--out", str(out),
                 "--lang", "en,zh"]) == 0
    (bundle,) = _bundles(out)
    return bundle


def test_accept_passing_scenario_exit_0(accepted):
    assert accepted.name.startswith("one-machine-injection-")
    assert (accepted / "report.html").is_file() and (accepted / "report.zh.html").is_file()


def test_accept_prints_one_line_per_scenario(tmp_path, capsys):
    code, out, _ = _accept(capsys, PASSING, FAILING, "--out", tmp_path)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("PASS") and "one-machine-injection" in lines[0]
    assert lines[1].startswith("FAIL") and "one-machine-fails" in lines[1] and "C1" in lines[1]
    printed = sorted(Path(line.split()[2]) for line in lines)
    assert printed == _bundles(tmp_path)


def test_accept_failing_scenario_exit_1(tmp_path, capsys):
    code, out, _ = _accept(capsys, FAILING, "--out", tmp_path)
    assert code == 1
    assert out.startswith("FAIL")


@pytest.mark.parametrize("name, fragment", [
    ("bad_unknown_kpi.yaml", "criteria[0].kpi: unknown line KPI 'thruput'"),
    ("bad_override_path.yaml", "overrides.stations.m9.process_time: no item 'm9'"),
    ("bad_injection_station.yaml", "injections[0].station: unknown station 'm2'"),
])
def test_bad_scenario_exit_2_names_file_and_field(tmp_path, capsys, name, fragment):
    out = tmp_path / "reports"
    code, stdout, err = _accept(capsys, PASSING, DATA / name, "--out", out)
    assert code == 2
    assert f"{DATA / name}: {fragment}" in err
    assert "Traceback" not in err and stdout == ""
    assert not out.exists() or not any(out.iterdir())  # nothing written, not even the good one


def test_bad_options_exit_2(tmp_path, capsys):
    out = tmp_path / "reports"
    code, _, err = _accept(capsys, PASSING, "--out", out, "--lang", "en,fr")
    assert code == 2 and "--lang" in err and "'fr'" in err
    code, _, err = _accept(capsys, PASSING, "--out", out, "--sign", tmp_path / "missing.pem")
    assert code == 2 and "missing.pem" in err
    code, _, err = _accept(capsys, tmp_path / "nope.yaml", "--out", out)
    assert code == 2 and "nope.yaml" in err
    assert not out.exists()


@pytest.mark.parametrize("out, what", [
    ("taken", "exists"), ("taken/sub", "{tmp}/taken exists"), ("/dev/null", "exists"),
    ("dangling", "is a symbolic link to a missing target"),
    ("dangling/sub", "{tmp}/dangling is a symbolic link to a missing target")])
def test_out_not_a_folder_exit_2_before_simulating(tmp_path, capsys, monkeypatch, out, what):
    monkeypatch.setattr("twin.scenario.run_scenario", lambda *args, **kwargs: pytest.fail("simulated"))
    (tmp_path / "taken").write_text("a file, not a folder")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    what = what.format(tmp=tmp_path)
    out = tmp_path / out  # "/dev/null" stays absolute
    code, stdout, err = _accept(capsys, PASSING, "--out", out)
    assert code == 2 and stdout == ""
    assert err == f"twin: --out: {out}: {what} and is not a folder\n"


@pytest.mark.parametrize("make", [
    lambda path: path.symlink_to(path.parent / "gone"),
    lambda path: path.write_text("not a bundle"),
])
def test_a_non_folder_under_a_bundle_name_exit_2_before_simulating(tmp_path, capsys, monkeypatch, make):
    """A dangling link named like a bundle of the scenario: the bundle, named after its
    results, might have to take its place after the run."""
    monkeypatch.setattr("twin.scenario.run_scenario", lambda *args, **kwargs: pytest.fail("simulated"))
    in_the_way = tmp_path / "one-machine-injection-0123456789ab"
    make(in_the_way)
    (tmp_path / "one-machine-injection-notes").write_text("not named like a bundle: fine")
    code, stdout, err = _accept(capsys, PASSING, "--out", tmp_path)
    assert code == 2 and stdout == ""
    assert err.startswith(f"twin: --out: {in_the_way}: a ") and err.count("\n") == 1
    assert "has the name of a bundle of scenario 'one-machine-injection'" in err and "Traceback" not in err


def test_out_not_writable_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("twin.cli.os.access", lambda path, mode: False)  # root may write anywhere
    code, _, err = _accept(capsys, PASSING, "--out", tmp_path / "reports")
    assert code == 2 and f"--out: {tmp_path / 'reports'}: no permission to write into {tmp_path}" in err


def test_verify_intact_exit_0(accepted, capsys):
    assert main(["verify", str(accepted)]) == 0
    assert "INTACT" in capsys.readouterr().out


def test_verify_replay_exit_0(accepted, capsys):
    assert main(["verify", str(accepted), "--replay"]) == 0
    assert "results identical" in capsys.readouterr().out


@pytest.mark.parametrize("rel", ["evidence.json", "report.zh.html", "plots/throughput.png",
                                 "manifest.json", "trace.csv"])
def test_verify_tampered_exit_1_names_file(accepted, tmp_path, capsys, rel):
    copy = tmp_path / accepted.name
    shutil.copytree(accepted, copy)
    data = bytearray((copy / rel).read_bytes())
    data[-10] ^= 0x04
    (copy / rel).write_bytes(bytes(data))
    assert main(["verify", str(copy)]) == 1
    out = capsys.readouterr().out
    assert f"  {rel}: changed" in out


def test_verify_not_a_bundle_exit_2(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    assert "not an evidence bundle" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "nope")]) == 2


def test_sign_and_verify_with_keys(tmp_path, capsys):
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "pub.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    out = tmp_path / "reports"
    code, _, _ = _accept(capsys, PASSING, "--out", out, "--sign", tmp_path / "key.pem")
    assert code == 0
    (bundle,) = _bundles(out)
    assert main(["verify", str(bundle), "--pubkey", str(tmp_path / "pub.pem")]) == 0
    assert "valid signature" in capsys.readouterr().out
    # a public key is not a signing key
    code, _, err = _accept(capsys, PASSING, "--out", out, "--sign", tmp_path / "pub.pem")
    assert code == 2 and "pub.pem" in err


def test_console_script_bad_scenario_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "twin", "accept", str(DATA / "bad_unknown_kpi.yaml"),
                             "--out", str(tmp_path / "r"), "--engine", "reference"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0  # one problem, one line
    assert not (tmp_path / "r").exists()


def test_sigterm_while_writing_leaves_no_temporary_folder(tmp_path):
    """`kill -TERM` during the write unwinds like Ctrl-C: exit 143, the temporary folder
    removed, and the output folder too, which this run created."""
    script = ("import signal, sys\n"
              "from twin.evidence import bundle\n"
              "bundle.report.render = lambda *args, **kwargs: signal.raise_signal(signal.SIGTERM)\n"
              "from twin.cli import main\n"
              "raise SystemExit(main(sys.argv[1:]))\n")
    out = tmp_path / "reports"
    result = subprocess.run([sys.executable, "-c", script, "accept", str(PASSING), "--out", str(out),
                             "--engine", "reference"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_an_empty_out_is_bad_input_before_simulating(capsys, monkeypatch):
    """`--out ''` is no folder (Path('') would be the current one): exit 2, nothing written."""
    monkeypatch.setattr("twin.scenario.run_scenario", lambda *args, **kwargs: pytest.fail("simulated"))
    code, stdout, err = _accept(capsys, PASSING, "--out", "")
    assert code == 2 and stdout == ""
    assert err == "twin: --out: '': an empty path: give the folder to write into\n"
