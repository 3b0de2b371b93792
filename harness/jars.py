"""Resolve the Kafka jars the harness runs, with Maven, into a cache outside the repo.

No Debian or PyPI package ships a Kafka broker, and a tarball is one more thing to pin; Maven
Central has every jar, so `harness/pom.xml` names them and Maven copies them into
`~/.cache/kafka-failover-proxy/kafka-4.4.0/` (or `$KFP_CACHE_DIR/kafka-4.4.0/`):

    libs/         broker, controller, storage format and tools, Kafka 4.4.0
    mirror-libs/  MirrorMaker 2 (connect-mirror 4.4.0 is not on Central; see pom.xml)

A marker file is written only after both copies succeed, so a complete cache needs no network and an
interrupted one is redone. Run `python -m harness.jars` to resolve and print the libs directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

KAFKA_VERSION = "4.4.0"
MIRROR_VERSION = "4.3.1"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
POM = Path(__file__).with_name("pom.xml")
MARKER = ".complete"


class HarnessSetupError(RuntimeError):
    """The machine lacks something the harness needs (Java, Maven, network for the first resolve)."""


@dataclass(frozen=True)
class KafkaJars:
    """Where the resolved classpaths live; `classpath` strings use the JVM's `dir/*` wildcard."""

    home: Path

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def mirror_libs(self) -> Path:
        return self.home / "mirror-libs"

    @property
    def classpath(self) -> str:
        return f"{self.libs}/*"

    @property
    def mirror_classpath(self) -> str:
        return f"{self.mirror_libs}/*"

    @property
    def complete(self) -> bool:
        marker = self.home / MARKER
        return marker.is_file() and marker.read_text().strip() == _marker_text()


def cache_home() -> Path:
    """The versioned cache directory; `KFP_CACHE_DIR` moves it (CI caches, read-only homes)."""
    base = os.environ.get("KFP_CACHE_DIR")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "kafka-failover-proxy"
    return root / f"kafka-{KAFKA_VERSION}"


def java_executable() -> str:
    """`java` from JAVA_HOME or PATH, or a HarnessSetupError saying what to install."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise HarnessSetupError("java not found: install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)")
    return found


def _maven_executable() -> str:
    found = shutil.which("mvn")
    if found is None:
        raise HarnessSetupError("mvn not found: install Maven 3.8+ (e.g. apt-get install maven)")
    return found


def _marker_text() -> str:
    """Ties the cache to the pom's content, so editing the pom re-resolves."""
    pom_hash = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    return f"kafka={KAFKA_VERSION} mirror={MIRROR_VERSION} pom={pom_hash}"


def _copy_dependencies(profile: str, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    command = [
        _maven_executable(), "-q", "-B", "-f", str(POM), "-P", profile,
        f"-Dkafka.version={KAFKA_VERSION}", f"-Dmirror.version={MIRROR_VERSION}", DEPENDENCY_PLUGIN,
        "-DincludeScope=runtime", "-Dmdep.prependGroupId=true", f"-DoutputDirectory={out}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise HarnessSetupError(f"maven failed resolving profile {profile!r} (exit {result.returncode}):\n{tail}")


def resolve(force: bool = False) -> KafkaJars:
    """Resolve once; later calls only check the marker (no JVM, no network)."""
    jars = KafkaJars(cache_home())
    if jars.complete and not force:
        return jars
    java_executable()
    _maven_executable()
    jars.home.mkdir(parents=True, exist_ok=True)
    (jars.home / MARKER).unlink(missing_ok=True)
    _copy_dependencies("kafka", jars.libs)
    _copy_dependencies("mirror", jars.mirror_libs)
    (jars.home / MARKER).write_text(_marker_text() + "\n")
    return jars


def kafka_clients_jar() -> Path:
    """kafka-clients 4.4.0: its `common/message/*.json` are Kafka's official message schemas."""
    jar = resolve().libs / f"org.apache.kafka.kafka-clients-{KAFKA_VERSION}.jar"
    if not jar.is_file():
        raise HarnessSetupError(f"{jar} missing: delete {cache_home()} and rerun `python -m harness.jars`")
    return jar


def main() -> int:
    try:
        jars = resolve(force="--force" in sys.argv[1:])
    except HarnessSetupError as exc:
        print(f"harness.jars: {exc}", file=sys.stderr)
        return 1
    print(jars.libs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
