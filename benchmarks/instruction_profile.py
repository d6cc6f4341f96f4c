"""Instructions the fast kernel executes per event, counted exactly under valgrind.

    python benchmarks/instruction_profile.py                      # lines/bench_20.yaml, 100 h
    python benchmarks/instruction_profile.py lines/bench_10.yaml --hours 200 --annotate out.txt

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
compared. Needs valgrind and objdump.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 48  # instructions per window in the list of costly windows
#: the CPU the kernel is compiled for, here and under valgrind (numba's cache is keyed by it)
CPU = {"NUMBA_CPU_NAME": "haswell",
       "NUMBA_CPU_FEATURES": "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+f16c,+fma,+fxsr,+lzcnt,"
                             "+mmx,+movbe,+popcnt,+sahf,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,"
                             "+xsave"}


def child(line_file: str, hours: float, out: Path) -> None:
    """Under valgrind: load (or compile) the kernel, note where its code lies, run the horizon."""
    from numba.core.codegen import CPUCodeLibrary

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("line", nargs="?", default=str(ROOT / "lines" / "bench_20.yaml"))
    parser.add_argument("--hours", type=float, default=100.0)
    parser.add_argument("--annotate", type=Path, help="write the annotated disassembly here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.line, args.hours, args.child)
        return
    for tool in ("valgrind", "objdump"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed and not installed")
    env = {**os.environ, **CPU}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
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


if __name__ == "__main__":
    main()
