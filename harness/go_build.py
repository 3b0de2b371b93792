"""Build the franz-go workload program (harness/go_workload/) once, into the harness's cache.

Like the Kafka jars, the Go client is fetched on first use: `go build` downloads franz-go from the
Go module proxy (pinned by go.mod and go.sum) and writes the binary to
`<cache>/go-workload-<source hash>/go_workload`, so editing the program rebuilds it and a built
one needs neither Go nor network. `python -m harness.go_build` builds and prints its path (make test
runs it, so CI builds it up front). Go is `$KFP_GO`, `go` on PATH or /usr/local/go/bin/go.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from harness.jars import HarnessSetupError, cache_home

SOURCE = Path(__file__).with_name("go_workload")
SOURCE_FILES = ("go.mod", "go.sum", "main.go")
FALLBACK_GO = Path("/usr/local/go/bin/go")
BUILD_TIMEOUT_S = 600

_build_lock = threading.Lock()


def go_executable() -> str:
    """Go from $KFP_GO, PATH or its default install place, or a HarnessSetupError saying what to install."""
    configured = os.environ.get("KFP_GO")
    found = configured or shutil.which("go") or (str(FALLBACK_GO) if FALLBACK_GO.is_file() else None)
    if found is None:
        raise HarnessSetupError("go not found: install Go 1.24+ (https://go.dev/dl/) or set KFP_GO")
    return found


def binary_path() -> Path:
    """Where the build for the current source lives: the directory name carries the source hash."""
    digest = hashlib.sha256()
    for name in SOURCE_FILES:
        digest.update((SOURCE / name).read_bytes())
    return cache_home().parent / f"go-workload-{digest.hexdigest()[:16]}" / "go_workload"


def build(force: bool = False) -> Path:
    """The program's path, built first if this source was never built (or `force`)."""
    target = binary_path()
    with _build_lock:
        if target.is_file() and not force:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            built = Path(scratch) / "go_workload"
            result = subprocess.run([go_executable(), "build", "-trimpath", "-o", str(built), "."], cwd=SOURCE,
                                    capture_output=True, text=True, check=False, timeout=BUILD_TIMEOUT_S,
                                    env={**os.environ, "CGO_ENABLED": "0"})
            if result.returncode != 0:
                raise HarnessSetupError(f"go build of {SOURCE} failed (exit {result.returncode}):\n"
                                        + (result.stdout + result.stderr)[-3000:])
            built.replace(target)  # atomic: a half-written binary is never at `target`
    return target


def main() -> int:
    try:
        print(build(force="--force" in sys.argv[1:]))
    except HarnessSetupError as exc:
        print(f"harness.go_build: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
