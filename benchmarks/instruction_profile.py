"""Instructions the fast kernel executes per event, counted exactly under valgrind.

    python benchmarks/instruction_profile.py                      # lines/bench_20.yaml, 100 h
    python benchmarks/instruction_profile.py lines/bench_10.yaml --hours 200 --annotate out.txt
    python benchmarks/instruction_profile.py --lines 60           # per source line (slow)

Timings on a shared machine move by ±10 % from one minute to the next;
instruction counts do not, so they compare two builds of the kernel exactly
(they measure work, not time: at the kernel's high IPC the two go together).
The script runs itself under ``valgrind --tool=callgrind --dump-instr=yes``,
keeps the counts that fall inside the kernel's machine code, and prints the
instructions per event, the share of stack loads and stores (values spilled
because the kernel holds more array addresses than there are registers) and
the costliest windows of code; ``--annotate`` writes the whole disassembly
with the count of every instruction per event.

The kernel is compiled for a named CPU (`CPU`, whose instructions valgrind
runs), first outside valgrind: numba's cache then serves the same machine code
to the run under valgrind (compiling under valgrind takes 15-25 min). So the
code measured is not quite the host's (the same source compiled for the host
CPU runs a few per cent fewer instructions), and the same for every build
compared. Needs valgrind and objdump. Leave the kernel's sources alone while it
runs: an edit made after the first run would be compiled under valgrind. It
profiles the twin of its own checkout (a worktree's, say), whatever is installed.

``--lines N`` compiles the kernel with a line table (numba's debug info,
line directives only: the same machine code, the same count) into a cache of
its own, and prints the instructions per event of each kernel function and of
the N costliest source lines, attributed to the innermost inlined line
(spilled values reloaded for a line count for it). The compile then takes
about 15 min and 13 GiB; it needs readelf too.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # profile this checkout's twin, not another one installed
WINDOW = 48  # instructions per window in the list of costly windows
#: the CPU the kernel is compiled for, here and under valgrind (numba's cache is keyed by it)
CPU = {"NUMBA_CPU_NAME": "haswell",
       "NUMBA_CPU_FEATURES": "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+f16c,+fma,+fxsr,+lzcnt,"
                             "+mmx,+movbe,+popcnt,+sahf,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,"
                             "+xsave"}


def with_line_table() -> None:
    """Compile with a line table only: no other debug info, no extended lifetimes and no
    bounds checks (which numba's debug option would also turn on), so the code is the same."""
    from numba.core import cpu

    finalize = cpu.CPUTargetOptions.finalize

    def line_table(self, flags, options):
        flags.debuginfo = flags.dbg_directives_only = True
        flags.dbg_extend_lifetimes = flags.boundscheck = False
        finalize(self, flags, options)

    cpu.CPUTargetOptions.finalize = line_table


def child(line_file: str, hours: float, out: Path) -> None:
    """Under valgrind: load (or compile) the kernel, note where its code lies, run the horizon."""
    from numba.core.codegen import CPUCodeLibrary

    if os.environ.get("TWIN_LINE_TABLE"):
        with_line_table()

    from twin.engines.fast import kernel, run_replication
    from twin.model.load import load_line

    objects = {}  # the object code of each library loaded from numba's cache (which drops it)
    set_compiled_object = CPUCodeLibrary._set_compiled_object

    def keep(library, value):
        objects[library.name] = value
        set_compiled_object(library, value)

    CPUCodeLibrary._set_compiled_object = keep
    line = load_line(line_file)
    warm = run_replication(line, 0.0, 3600.0, 1, 0)
    compiled, = kernel.run_kernel.overloads.values()  # the one variant this line needs
    library = compiled.library
    name = compiled.fndesc.llvm_func_name
    address = library.get_pointer_to_function(name)
    code = objects.get(library.name) or library.serialize_using_object_code()[2][0]
    (out / "kernel.o").write_bytes(code)
    result = run_replication(line, 0.0, hours * 3600.0, 1, 0)
    (out / "run.json").write_text(json.dumps({"name": name, "address": address,
                                              "events": warm.events + result.events}))


def kernel_symbol(objdump: str, name: str) -> tuple[int, int]:
    """(offset, size) of the kernel function in its object file."""
    for row in objdump.splitlines():
        fields = row.split()
        if fields and fields[-1] == name:
            return int(fields[0], 16), int(fields[4], 16)
    raise SystemExit(f"kernel symbol {name[:60]}... not in the object file")


def instruction_counts(callgrind_out: Path, low: int, high: int) -> collections.Counter:
    """Self counts per instruction address in [low, high) from a callgrind file."""
    counts: collections.Counter = collections.Counter()
    positions, address, after_call = 1, 0, False
    with callgrind_out.open() as f:
        for row in f:
            if row.startswith("positions:"):
                positions = len(row.split()) - 1
            elif row.startswith("calls="):
                after_call = True  # the next cost line is the call's inclusive cost
            elif row[:1] in "0123456789+-*":
                fields = row.split()
                first = fields[0]
                if first.startswith("0x"):
                    address = int(first, 16)
                elif first[0] in "+-":
                    address += int(first)
                elif first != "*":
                    address = int(first)
                if after_call:
                    after_call = False
                elif low <= address < high and len(fields) > positions:
                    counts[address - low] += int(fields[positions])
    return counts


def report(run: dict, disassembly: str, offset: int, size: int, counts: collections.Counter,
           annotate: Path | None) -> None:
    events = run["events"]
    code = []  # (offset in the function, instruction text, count)
    for row in disassembly.splitlines():
        m = re.match(r"\s+([0-9a-f]+):\s+(.*)", row)
        if m:
            at = int(m.group(1), 16) - offset
            if not 0 <= at < size:  # another function of the object file
                continue
            text = re.sub(r"<[^>]*>", "", m.group(2)).strip()
            code.append((at, text, counts.get(at, 0)))
    total = sum(c for _, _, c in code)
    loads = sum(c for _, t, c in code if re.match(r"v?mov\S*\s+\S*\(%rsp\),", t))
    stores = sum(c for _, t, c in code if re.match(r"v?mov\S*\s+\S+,\S*\(%rsp\)", t))
    print(f"{events} events, {total / events:.0f} kernel instructions per event")
    print(f"stack loads {loads / total:.1%}, stack stores {stores / total:.1%} of them")
    windows = sorted(((sum(c for _, _, c in code[i:i + WINDOW]), i)
                      for i in range(0, max(1, len(code) - WINDOW), 8)), reverse=True)
    print(f"costliest windows of {WINDOW} instructions (offset in the kernel, instructions per event):")
    shown: list[int] = []
    for cost, i in windows:
        if len(shown) == 10:
            break
        if all(abs(i - j) >= WINDOW for j in shown):
            shown.append(i)
            print(f"  +{code[i][0]:#07x}  {cost / events:6.1f}  ({cost / total:.1%})")
    if annotate:
        annotate.write_text("".join(f"{at:#07x} {c / events:8.3f}  {t}\n" for at, t, c in code))
        print(f"annotated disassembly: {annotate}")


def line_table(readelf: str) -> tuple[list[int], list[tuple[str, int]]]:
    """(start addresses, (file, line) from each) of the object's decoded line table; a row of
    line 0 (code of no line) keeps the line before it."""
    rows, current = [], None
    for row in readelf.splitlines():
        header = re.match(r"^(\S+\.py):(\[\+\+\])?$", row.strip())
        if header:
            current = header.group(1).split("/")[-1]
            continue
        fields = row.split()
        if current and len(fields) >= 3 and fields[0].endswith(".py") and fields[1].isdigit():
            try:
                rows.append((int(fields[2], 16), current, int(fields[1])))
            except ValueError:
                continue
    rows.sort()
    located, last = [], ("?", 0)
    for _, name, number in rows:
        last = (name, number) if number else last
        located.append(last)
    return [a for a, _, _ in rows], located


SOURCES = {path.name: path for path in (ROOT / "twin").rglob("*.py")}  # the kernel's are unique


@functools.cache
def source(name: str) -> tuple[str, ...]:
    path = SOURCES.get(name)
    return tuple(path.read_text().splitlines()) if path else ()


def source_line(name: str, number: int) -> tuple[str, str]:
    """(enclosing function, text) of a line of one of twin's modules (by file name)."""
    text = source(name)
    function = next((m.group(1) for k in range(min(number, len(text)) - 1, -1, -1)
                     if (m := re.match(r"def (\w+)", text[k]))), "?")
    return function, text[number - 1].strip() if 0 < number <= len(text) else ""


def report_lines(run: dict, readelf: str, offset: int, counts: collections.Counter,
                 top: int) -> None:
    starts, located = line_table(readelf)
    events = run["events"]
    per_line: collections.Counter = collections.Counter()
    for at, c in counts.items():
        i = bisect.bisect_right(starts, at + offset) - 1
        per_line[located[i] if i >= 0 else ("?", 0)] += c
    per_function: collections.Counter = collections.Counter()
    for (name, number), c in per_line.items():
        per_function[(name, source_line(name, number)[0])] += c
    print("per function (instructions per event):")
    for (name, function), c in per_function.most_common(30):
        print(f"  {c / events:7.1f}  {name}:{function}")
    print(f"the {top} costliest lines:")
    for (name, number), c in per_line.most_common(top):
        print(f"  {c / events:7.1f}  {name}:{number}  {source_line(name, number)[1][:80]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("line", nargs="?", default=str(ROOT / "lines" / "bench_20.yaml"))
    parser.add_argument("--hours", type=float, default=100.0)
    parser.add_argument("--annotate", type=Path, help="write the annotated disassembly here")
    parser.add_argument("--lines", type=int, metavar="N",
                        help="also list the N costliest source lines (slow, see above)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.line, args.hours, args.child)
        return
    for tool in ("valgrind", "objdump") + (("readelf",) if args.lines else ()):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed and not installed")
    env = {**os.environ, **CPU}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if args.lines:  # another build: kept out of numba's usual cache
            env.update(TWIN_LINE_TABLE="1", NUMBA_CACHE_DIR=str(out / "numba-cache"))
        child_args = [sys.executable, __file__, args.line, "--child", str(out)]
        subprocess.run(child_args + ["--hours", "1"], check=True, env=env)  # compiled, cached
        subprocess.run(["valgrind", "--tool=callgrind", "--dump-instr=yes",
                        f"--callgrind-out-file={out / 'callgrind.out'}"] + child_args
                       + ["--hours", str(args.hours)], check=True, env=env,
                       stderr=subprocess.DEVNULL)
        run = json.loads((out / "run.json").read_text())
        objdump = subprocess.run(["objdump", "-t", str(out / "kernel.o")], capture_output=True,
                                 text=True, check=True).stdout
        offset, size = kernel_symbol(objdump, run["name"])
        counts = instruction_counts(out / "callgrind.out", run["address"], run["address"] + size)
        disassembly = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(out / "kernel.o")],
                                     capture_output=True, text=True, check=True).stdout
        report(run, disassembly, offset, size, counts, args.annotate)
        if args.lines:
            readelf = subprocess.run(["readelf", "--debug-dump=decodedline", str(out / "kernel.o")],
                                     capture_output=True, text=True, check=True).stdout
            report_lines(run, readelf, offset, counts, args.lines)


if __name__ == "__main__":
    main()
