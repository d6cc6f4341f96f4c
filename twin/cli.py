"""The `twin` command line: argument parsing and printing only (SPEC §7)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys

from twin import __version__, sweep_cli
from twin import cli_options as options
from twin.errors import InputError

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line (never a traceback), and a value that
    starts with a minus and a digit is a value: `--duration -1h` is a negative duration (so
    reported), not a missing one followed by an unknown option `-1h` (argparse reads only
    plain numbers such as `-5` so; no twin option looks like `-<digit>`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\d")

    def error(self, message: str):
        self.print_usage(sys.stderr)
        print(f"twin: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="twin", description="Digital-twin simulation for production-line acceptance.")
    parser.add_argument("--version", action="version", version=f"twin {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = sub.add_parser("validate", help="check a line file")
    validate.add_argument("line")

    run = sub.add_parser("run", help="simulate a line and print its KPIs")
    run.add_argument("line")
    run.add_argument("--duration", type=options.duration, default=8 * 3600.0,
                     help="measured window (default 8h)")
    run.add_argument("--warmup", type=options.duration, default=3600.0, help="warm-up (default 1h)")
    run.add_argument("--replications", type=options.replications, default=10)
    run.add_argument("--seed", type=options.integer, default=1)
    run.add_argument("--engine", choices=("fast", "reference"), default="fast")
    run.add_argument("--json", action="store_true", help="print one JSON object instead of a table")

    accept = sub.add_parser("accept", help="run acceptance scenarios and write evidence bundles")
    accept.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    accept.add_argument("--out", default="reports", help="folder for the bundles (default reports)")
    accept.add_argument("--engine", choices=("fast", "reference"), default="fast")
    accept.add_argument("--lang", default="en",
                        help="report languages, comma-separated; the first is report.html (default en)")
    accept.add_argument("--sign", metavar="KEY", help="Ed25519 private key (PEM) to sign manifest.json")

    verify = sub.add_parser("verify", help="check an evidence bundle (hashes, signature, replay)")
    verify.add_argument("bundle", metavar="BUNDLE")
    verify.add_argument("--replay", action="store_true",
                        help="re-simulate from the bundle's inputs and compare the results")
    verify.add_argument("--engine", choices=("fast", "reference"), default=None,
                        help="engine for --replay (default: the one recorded in the bundle)")
    verify.add_argument("--pubkey", metavar="PUB", help="Ed25519 public key (PEM) to check the signature")

    sweep_cli.add_parser(sub)
    return parser


def _progress_bar(total: int, label: str):
    """A tqdm bar on a terminal, nothing otherwise."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="rep", file=sys.stderr, leave=False)
    return (lambda done: bar.update(done - bar.n)), bar.close


class _TqdmHandler(logging.Handler):
    """Log records as lines above the progress bar (tqdm redraws it below)."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(self.format(record), file=sys.stderr)


def _notices_on_terminal() -> None:
    """twin's notices (a kernel being compiled) on stderr, on a terminal only, like the bars."""
    logger = logging.getLogger("twin")
    if not sys.stderr.isatty() or any(isinstance(h, _TqdmHandler) for h in logger.handlers):
        return
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("twin: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def cmd_validate(args) -> int:
    from twin.model.load import load_line

    line = load_line(args.line)
    print(f"{args.line}: valid line '{line.id}' ({len(line.stations)} stations, "
          f"{len(line.edges)} edges, {len(line.products)} products)")
    return EXIT_OK


def cmd_run(args) -> int:
    from twin.engines import simulate
    from twin.kpis import aggregate
    from twin.model.load import load_line
    from twin.provenance import engine_info
    from twin.tables import kpi_report

    line = load_line(args.line)
    if args.duration <= 0:
        raise InputError.single("--duration", "", "must be greater than 0")
    update, close = _progress_bar(args.replications, f"{line.id} ({args.engine})")
    try:
        results = simulate(line, args.warmup, args.duration, args.replications, args.seed,
                           engine=args.engine, progress=update)
    finally:
        close()
    kpis = aggregate(line, results, args.duration)
    if args.json:
        out = {"kpis": kpis, "seed": args.seed, "replications": args.replications,
               "engine": engine_info(args.engine)}
        print(json.dumps(out, allow_nan=False))
    else:
        title = (f"{line.id}: {args.replications} replications of {args.duration / 3600:g} h after "
                 f"{args.warmup / 3600:g} h warm-up, seed {args.seed}, engine {args.engine}")
        print(kpi_report(title, kpis))
    return EXIT_OK


def _progress(label: str, total: int):
    """`(update, close)` of a progress bar for `total` replications (a no-op off a terminal)."""
    return _progress_bar(total, label)


def cmd_accept(args) -> int:
    from twin.evidence.accept import accept

    out = options.out_folder("--out", args.out)
    failed = False
    for done in accept(args.scenarios, out, engine=args.engine, langs=args.lang,
                       sign=args.sign, progress=_progress):
        failed |= done.verdict != "pass"
        detail = f"  (failed: {', '.join(done.failed)})" if done.failed else ""
        print(f"{done.verdict.upper():4}  {done.scenario}  {done.bundle}{detail}")
    return EXIT_FAIL if failed else EXIT_OK


def cmd_verify(args) -> int:
    from twin.evidence.verify import verify

    ok, messages = verify(args.bundle, replay=args.replay, engine=args.engine, pubkey=args.pubkey,
                          progress=_progress)
    for message in messages:
        print(f"  {message}")
    print(f"{'INTACT' if ok else 'TAMPERED OR DIFFERENT'}  {args.bundle}")
    return EXIT_OK if ok else EXIT_FAIL


COMMANDS = {"validate": cmd_validate, "run": cmd_run, "accept": cmd_accept, "verify": cmd_verify,
            "sweep": sweep_cli.cmd_sweep}


def _terminate(signum, frame):
    """SIGTERM unwinds like Ctrl-C, so that temporary folders (bundles, sweeps) are removed."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):  # a file name that is not UTF-8 is printed, escaped
        sys.stdout.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    _notices_on_terminal()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        for problem in exc.problems:
            print(f"twin: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("twin: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except OSError as exc:  # the output cannot be written (a full disk, a path under /proc...)
        print(f"twin: {exc.filename or ''}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        signal.signal(signal.SIGTERM, previous)
