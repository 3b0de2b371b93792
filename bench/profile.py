"""Sample the proxy process with py-spy under load and say where its time goes.

`record` attaches py-spy to a PID (root, `--nonblocking` so the proxy is not paused per sample) and
writes a flame graph (SVG) or collapsed stacks (`--format raw`: `frame;frame;... count`, one stack per
line, innermost frame last). `summarize` reads the collapsed stacks: *self* samples are those where a
line is the innermost frame (where CPU is spent), *total* samples those where a function is anywhere
on the stack (what it costs including callees).

    .venv/bin/python -m bench.profile bench/results/profile.raw   # print the summary of a raw file
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

EVERYWHERE = 0.99  # functions on at least this share of stacks are left out of the inclusive table
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str:
    """py-spy next to this interpreter (the venv), else on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    found = str(local) if local.is_file() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy not found: pip install py-spy")
    return found


def record(pid: int, out: Path, duration_s: int, raw: bool = False, rate: int = 100) -> Path:
    """Sample `pid` for `duration_s` seconds into `out` (SVG flame graph, or collapsed stacks if `raw`)."""
    command = [py_spy(), "record", "--pid", str(pid), "--duration", str(duration_s), "--rate", str(rate),
               "--nonblocking", "-o", str(out)]
    if raw:
        command += ["--format", "raw"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    if result.returncode != 0 or not out.exists():
        raise RuntimeError(f"py-spy failed ({result.returncode}): {result.stderr[-2000:]}")
    return out


@dataclass(frozen=True)
class HotSpot:
    where: str  # "function (file:line)" for self, "function (file)" for total
    samples: int
    percent: float


def _short(path: str) -> str:
    """site-packages/... and /work/main/... paths cut to the part that names the module."""
    for marker in ("site-packages/", "/main/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _frame_name(frame: str, with_line: bool) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    where = _short(match["file"])
    if with_line and match["line"]:
        where += f":{match['line']}"
    return f"{match['function']} ({where})"


def parse_raw(text: str) -> list[tuple[list[str], int]]:
    """Collapsed stacks as (frames outermost first, sample count)."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def hot_spots(stacks: list[tuple[list[str], int]], top: int = 10) -> tuple[int, list[HotSpot], list[HotSpot]]:
    """(total samples, top self lines, top functions by inclusive samples)."""
    total = sum(count for _, count in stacks)
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        own[_frame_name(frames[-1], with_line=True)] += count
        for name in {_frame_name(frame, with_line=False) for frame in frames}:
            inclusive[name] += count

    everywhere = [name for name, n in inclusive.items() if n >= EVERYWHERE * total]
    for name in everywhere:  # entry points and the event loop itself say nothing
        del inclusive[name]

    def ranked(counter: Counter[str]) -> list[HotSpot]:
        return [HotSpot(name, n, 100.0 * n / max(total, 1)) for name, n in counter.most_common(top)]

    return total, ranked(own), ranked(inclusive)


def summarize(raw_text: str, top: int = 10, header: str = "") -> str:
    """A plain-text report: the self-time table, then the inclusive table."""
    total, own, inclusive = hot_spots(parse_raw(raw_text), top)
    lines = [header] if header else []
    lines.append(f"{total} samples (active stacks only: a thread asleep in epoll is not sampled). "
                 "Self time on the line that enters the event loop (asyncio/runners.py, uvloop's run) is "
                 "time in uvloop's C code with no Python frame above it: recv/epoll syscalls and transport "
                 "bookkeeping.")
    for title, spots in ((f"top {top} by self samples (innermost frame, file:line)", own),
                         (f"top {top} by total samples (function anywhere on the stack; frames on "
                          f"every stack left out)", inclusive)):
        lines += ["", title, f"{'%':>6}  {'samples':>7}  where"]
        lines += [f"{spot.percent:6.1f}  {spot.samples:7d}  {spot.where}" for spot in spots]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.profile <collapsed stacks file>", file=sys.stderr)
        return 2
    print(summarize(Path(argv[0]).read_text(), top=15), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
