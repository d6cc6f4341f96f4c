"""The command line: exit codes, JSON shape, messages for bad input (SPEC §7)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from twin import cli
from twin.cli import main
from twin.kpis import BUFFER_KEYS, LINE_KEYS, STATION_KEYS

ROOT = Path(__file__).resolve().parents[1]
GOOD = """\
line: small
stations:
  - {id: src, kind: source}
  - {id: m1, kind: machine, process_time: {dist: exponential, mean: 60s}}
  - {id: b, kind: buffer, capacity: 2}
  - {id: m2, kind: machine, process_time: 50s}
  - {id: out, kind: sink}
edges: [[src, m1], [m1, b], [b, m2], [m2, out]]
"""


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(GOOD)
    return path


def test_validate_good_file(good_file, capsys):
    assert main(["validate", str(good_file)]) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_bad_file_names_file_and_field(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("capacity: 2", "capacity: -2"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "stations[2].capacity" in err


def test_run_json_has_every_spec_key(good_file, capsys):
    code = main(["run", str(good_file), "--duration", "2h", "--warmup", "10min",
                 "--replications", "3", "--seed", "7", "--engine", "reference", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"kpis", "seed", "replications", "engine"}
    assert out["seed"] == 7 and out["replications"] == 3
    assert out["engine"]["name"] == "reference"
    assert set(out["kpis"]["line"]) == set(LINE_KEYS)
    for key in LINE_KEYS:
        kpi = out["kpis"]["line"][key]
        assert set(kpi) == {"mean", "ci95", "per_replication"}
        assert len(kpi["per_replication"]) == 3
    assert set(out["kpis"]["stations"]["m1"]) == set(STATION_KEYS)
    assert set(out["kpis"]["stations"]["b"]) == set(BUFFER_KEYS)


def test_json_has_station_kpis_for_machines_assemblies_conveyors_and_buffers(capsys):
    """SPEC §5: machines, assemblies and conveyors get the state KPIs, buffers the level KPIs."""
    path = ROOT / "lines" / "drive_unit_assembly.yaml"
    assert main(["run", str(path), "--duration", "1h", "--replications", "2", "--json"]) == 0
    stations = json.loads(capsys.readouterr().out)["kpis"]["stations"]
    kinds = {s["id"]: s["kind"] for s in yaml.safe_load(path.read_text())["stations"]}
    expected = {"machine": STATION_KEYS, "assembly": STATION_KEYS, "conveyor": STATION_KEYS,
                "buffer": BUFFER_KEYS}
    assert "assembly" in kinds.values()
    assert {sid: set(kpis) for sid, kpis in stations.items()} == {
        sid: set(expected[kind]) for sid, kind in kinds.items() if kind in expected}


@pytest.mark.parametrize("path", sorted((ROOT / "lines").glob("*.yaml")), ids=lambda p: p.stem)
def test_run_default_engine_is_fast_and_prints_what_the_reference_prints(path, capsys):
    args = ["run", str(path), "--duration", "2h", "--warmup", "30min", "--replications", "3",
            "--json"]
    assert main(args) == 0
    fast = json.loads(capsys.readouterr().out)
    assert main(args + ["--engine", "reference"]) == 0
    reference = json.loads(capsys.readouterr().out)
    assert fast.pop("engine")["name"] == "fast"
    assert reference.pop("engine")["name"] == "reference"
    assert fast == reference


def test_run_durations_in_bare_seconds_mean_the_same_as_with_units(good_file, capsys):
    common = ["--replications", "2", "--engine", "reference", "--json"]
    assert main(["run", str(good_file), "--duration", "7200", "--warmup", "0", *common]) == 0
    bare = json.loads(capsys.readouterr().out)
    assert main(["run", str(good_file), "--duration", "2h", "--warmup", "0s", *common]) == 0
    assert bare == json.loads(capsys.readouterr().out)


def test_run_table(good_file, capsys):
    assert main(["run", str(good_file), "--duration", "1h", "--replications", "2",
                 "--engine", "reference"]) == 0
    out = capsys.readouterr().out
    assert "throughput" in out and "m1" in out and "oee" in out


@pytest.mark.parametrize("args, fragment", [
    (["--duration", "8 hours"], "--duration"),
    (["--replications", "0"], "--replications"),
    (["--replications", "100001"], "--replications: at most 100,000, got 100,001"),
    (["--seed", "x"], "--seed"),
    (["--engine", "gpu"], "--engine"),
])
def test_run_bad_options_exit_2(good_file, capsys, args, fragment):
    with pytest.raises(SystemExit) as exc:
        main(["run", str(good_file), *args])
    assert exc.value.code == 2
    assert fragment in capsys.readouterr().err


def test_run_missing_file_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_console_script_never_prints_a_traceback(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("line: x\nstations: [\n")
    proc = subprocess.run([sys.executable, "-m", "twin", "run", str(path)], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "line" in proc.stderr
    assert proc.stdout == ""


def test_an_output_that_cannot_be_written_is_one_message_not_a_traceback(monkeypatch, capsys):
    def full_disk(args):
        raise OSError(28, "No space left on device", "reports/x/evidence.json")
    monkeypatch.setitem(cli.COMMANDS, "accept", full_disk)
    assert main(["accept", "s.yaml"]) == 2
    assert capsys.readouterr().err == (
        "twin: reports/x/evidence.json: cannot write: No space left on device\n")


def test_a_file_name_that_is_not_utf8_is_printed_escaped(tmp_path):
    name = os.fsdecode(b"line-\xff.yaml")
    shutil.copy(ROOT / "lines" / "bench_10.yaml", tmp_path / name)
    proc = subprocess.run([sys.executable, "-m", "twin", "validate", name], capture_output=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert proc.returncode == 0, proc.stderr
    assert b"line-\\udcff.yaml" in proc.stdout


def test_notices_go_to_a_terminal_above_the_bar_and_nowhere_else(monkeypatch, capsys):
    logger = logging.getLogger("twin")
    handlers = list(logger.handlers)
    try:
        cli._notices_on_terminal()  # captured stderr is not a terminal: nothing installed
        logging.getLogger("twin.engines.fast").info("not shown")
        assert "not shown" not in capsys.readouterr().err
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        cli._notices_on_terminal()
        cli._notices_on_terminal()  # once only
        logging.getLogger("twin.engines.fast").info("compiling")
        assert capsys.readouterr().err == "twin: compiling\n"
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(logging.NOTSET)


def test_sigterm_stops_a_long_single_replication_run(good_file):
    """`kill -TERM` during a replication that would run for days ends it at once: exit 143,
    no traceback. (The signal is raised on another thread than the main one, as `kill` may
    deliver it; the kernel runs on a pool thread and stops within `EVENTS_PER_CALL` events.)"""
    script = ("import signal, sys, threading\n"
              "from twin.cli import main\n"
              "main(sys.argv[1:3] + ['--duration', '1h', '--json'])\n"  # the kernel loaded first
              "threading.Timer(1.0, signal.raise_signal, (signal.SIGTERM,)).start()\n"
              "raise SystemExit(main(sys.argv[1:]))\n")
    result = subprocess.run([sys.executable, "-c", script, "run", str(good_file), "--duration",
                             "100000000h", "--replications", "1", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 143
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["run", "LINE", "--duration", "-1h"], ["run", "LINE", "--warmup", "-30min"],
                                  ["sweep", "LINE", "--param", "stations.b.capacity=2", "--duration", "-1h"]])
def test_a_negative_duration_after_a_space_is_reported_as_negative(argv, good_file, capsys):
    """`--duration -1h` is a negative duration, not a missing value (argparse's own reading)."""
    with pytest.raises(SystemExit) as exc:
        main([str(good_file) if a == "LINE" else a for a in argv])
    assert exc.value.code == 2
    assert "is negative" in capsys.readouterr().err


def test_a_seed_too_long_to_read_says_so(good_file, capsys):
    """Python reads no integer of over 4300 digits: "expected a whole number" would mislead."""
    with pytest.raises(SystemExit) as exc:
        main(["run", str(good_file), "--seed", "7" * 5000])
    assert exc.value.code == 2
    assert "a number of 5000 characters is too long to read" in capsys.readouterr().err
