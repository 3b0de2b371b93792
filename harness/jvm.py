"""How the harness launches a JVM: heap, GC flags, log4j2 config, classpath.

Shared by brokers, MirrorMaker and the tools so that every JVM on the 2-core machine gets a small
heap and Kafka's own GC flags (from `bin/kafka-run-class.sh`), and so that none runs without a
log4j2 config: without one log4j2 prints only ERRORs and a failing broker looks silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.jars import java_executable

# bin/kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS
GC_FLAGS = (
    "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent", "-XX:MaxInlineLevel=15",
)

LOG4J2_TEMPLATE = """\
status = warn
name = kfp-{name}
appender.console.type = Console
appender.console.name = CONSOLE
appender.console.target = {target}
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.console.ref = CONSOLE
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = WARN
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""


def write_log4j2_config(path: Path, *, target: str = "SYSTEM_OUT", level: str = "INFO") -> Path:
    """A console-only log4j2 `.properties` file; the process's stdout goes to a log file anyway."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LOG4J2_TEMPLATE.format(name=path.stem, target=target, level=level))
    return path


def write_properties(path: Path, settings: dict[str, str]) -> Path:
    """A Java `.properties` file; values must not carry comments (`k = v # x` means `v # x`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return path


def java_command(classpath: str, main_class: str, args: Sequence[str], *, heap: Sequence[str],
                 log4j2_config: Path, logs_dir: Path | None = None,
                 extra_jvm: Sequence[str] = ()) -> list[str]:
    """`java <heap> <gc> -Dlog4j2... -cp <classpath> <main> <args>`; the classpath uses `dir/*`."""
    command = [java_executable(), *heap, *GC_FLAGS, "-Djava.awt.headless=true",
               f"-Dlog4j2.configurationFile={log4j2_config}"]
    if logs_dir is not None:
        command.append(f"-Dkafka.logs.dir={logs_dir}")
    return [*command, *extra_jvm, "-cp", classpath, main_class, *args]
