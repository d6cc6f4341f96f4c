"""`twin accept`: load every scenario first, then simulate each and write its evidence bundle.

All inputs are checked before anything runs or is written: every scenario
file (each problem naming file and field), the report languages and the
signing key. Only then are the scenarios simulated one after another, each
bundle written all or nothing (:func:`twin.evidence.bundle.write_bundle`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from twin.errors import InputError, Problem, not_a_folder
from twin.evidence import signing
from twin.evidence.bundle import blocked_names, write_bundle
from twin.evidence.i18n import parse_langs


@dataclass(frozen=True)
class Accepted:
    """One scenario done: its verdict and where its bundle is."""

    scenario: str
    verdict: str
    bundle: Path
    failed: tuple[str, ...]  # ids of the failed criteria


def load_all(paths: list[str]) -> list:
    """Every scenario, validated; one InputError with the problems of all files."""
    from twin.scenario import load_scenario

    scenarios, problems = [], []
    for path in paths:
        try:
            scenarios.append(load_scenario(path))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return scenarios


def _check_bundle_names(scenarios, out: str | Path) -> None:
    """Nothing but a folder lies under a name a scenario's bundle may take (see
    :func:`twin.evidence.bundle.blocked_names`)."""
    problems = [Problem("--out", str(path), f"{not_a_folder(path)} has the name of a bundle of scenario "
                                            f"{sc.id!r}, so it may stand in the bundle's way: remove it")
                for sc in scenarios for path in blocked_names(out, sc.id)]
    if problems:
        raise InputError(problems)


def accept(paths: list[str], out: str | Path, engine: str = "fast", langs: str = "en",
           sign: str | None = None,
           progress: Callable[[str, int], tuple[Callable | None, Callable]] | None = None,
           ) -> Iterator[Accepted]:
    """Check all inputs, then yield one :class:`Accepted` per scenario as its bundle is written.

    `progress(label, total)` may return ``(update, close)`` for a progress
    display (see `twin.cli`); inputs are checked before the first yield.
    """
    languages = parse_langs(langs)
    key = signing.load_private_key(sign) if sign else None
    scenarios = load_all(paths)
    _check_bundle_names(scenarios, out)
    return _run(scenarios, Path(out), engine, languages, key, progress)


def _run(scenarios, out: Path, engine: str, languages, key, progress) -> Iterator[Accepted]:
    from twin.scenario import replications_to_run, run_scenario

    for sc in scenarios:
        update, close = progress(f"{sc.id} ({engine})", replications_to_run(sc)) if progress else (None, None)
        try:
            outcome = run_scenario(sc, engine=engine, progress=update)
        finally:
            if close:
                close()
        bundle = write_bundle(outcome, out, languages, key)
        failed = tuple(c["id"] for c in outcome.criteria if c["verdict"] != "pass")
        yield Accepted(sc.id, outcome.verdict, bundle, failed)
