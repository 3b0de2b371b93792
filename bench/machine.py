"""Which machine a bench figure came from, and how busy it was: figures mean little without it.

The bench machines are shared (other engineers' brokers and tests run alongside), so every result
records the load average before and after the run and how many other JVMs were running at the start.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Collection
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _mem_total_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _java_version() -> str:
    try:
        result = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "?"
    return (result.stderr.splitlines() or ["?"])[0]


def other_jvms(exclude: Collection[int] = ()) -> int:
    """Running `java` processes not in `exclude`: other engineers' brokers competing for the CPUs."""
    count = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "java" and int(comm.parent.name) not in exclude:
                count += 1
        except OSError:
            continue
    return count


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine_info(load_before: list[float], jvms_before: int) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(), "cpu_model": _cpu_model(), "mem_gb": _mem_total_gb(),
        "kernel": platform.release(), "python": platform.python_version(), "java": _java_version(),
        "shared": f"{os.cpu_count()} cores shared with other engineers' brokers and test runs",
        "load_before": load_before, "load_after": load_average(), "other_jvms_at_start": jvms_before,
    }
