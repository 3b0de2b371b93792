"""The Python client libraries as workload workers: confluent-kafka, kafka-python and aiokafka.

Every producer is idempotent with acks=all and default retries, so a switch must be invisible to it
except as latency, and compresses with the codec it is given. Every client keeps its library's
default client.id (librdkafka's is `rdkafka` for all), as most users leave it. Every consumer uses
`auto.offset.reset=earliest`, no auto-commit and a synchronous commit after each batch, so a replay
can only come from a commit that failed, never from commit timing. Consumers use the classic group
protocol with the given assignor (or the library's default); confluent-kafka can use KIP-848's.
Errors are recorded, never raised: the verdict shows them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiokafka
import confluent_kafka
import kafka
import kafka.errors
from aiokafka.coordinator.assignors.range import RangePartitionAssignor as AiokafkaRange
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor

from harness.workload import TICK_S, ConsumerWorker, ProducerWorker

BATCH = 100
POLL_S = 0.2
CLOSE_S = 60.0
PROBE_S = 5.0
# kafka-python's coordinator state, read for a consumer left without partitions
PROBED = ("coordinator_id", "state", "_generation", "rejoin_needed", "_metadata_snapshot", "_assignment_snapshot")
KAFKA_PYTHON_ASSIGNORS = {"range": RangePartitionAssignor, "cooperative-sticky": CooperativeStickyAssignor}
AIOKAFKA_ASSIGNORS: dict[str, type] = {"range": AiokafkaRange}  # aiokafka has no cooperative protocol


class LibraryLog(logging.Handler):
    """Hands a consumer worker the library's log lines about its group or topic (INFO and up from the
    coordinator: every rebalance's outcome; WARNING and up from anywhere in the library)."""

    def __init__(self, worker: ConsumerWorker, logger: str, coordinator: str) -> None:
        super().__init__(logging.INFO)
        self.worker, self.logger, self.coordinator = worker, logging.getLogger(logger), coordinator

    def __enter__(self) -> LibraryLog:
        self.logger.addHandler(self)
        logging.getLogger(self.coordinator).setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING and not record.name.startswith(self.coordinator):
            return
        text = record.getMessage()
        about_topic = self.worker.topic in text and "group" not in text and "producer" not in record.name
        if self.worker.group in text or about_topic:  # the library logs every client's lines to one logger
            self.worker.diagnose(f"{record.levelname} {record.name}: {text[:400]}")


def _codec_option(compression: str) -> str | None:
    """kafka-python and aiokafka spell no compression as None."""
    return None if compression == "none" else compression


def _assignors(assignor: str | None, known: dict[str, type]) -> dict[str, Any]:
    """The partition_assignment_strategy keyword for `assignor`, or nothing for the library's default."""
    if assignor is None:
        return {}
    if assignor not in known:
        raise ValueError(f"this library has no {assignor} assignor")
    return {"partition_assignment_strategy": [known[assignor]]}


class ConfluentProducer(ProducerWorker):
    library = "confluent"

    def config(self) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
                "linger.ms": 5, "compression.type": self.compression, "error_cb": self._on_error}

    def _on_error(self, err: confluent_kafka.KafkaError) -> None:
        if err.fatal():
            self.fatal = err.str()
        self.error(f"client error {err.name()}: {err.str()}")

    def _on_delivery(self, err: confluent_kafka.KafkaError | None, msg: confluent_kafka.Message) -> None:
        if err is None:
            self.acked(msg.value() or b"", msg.partition() or 0, msg.offset() or 0)
        else:
            self.error(f"delivery failed {err.name()}: {err.str()}")

    def run(self) -> None:
        client = confluent_kafka.Producer(self.config())
        started = time.monotonic()
        while not self.stopping and self.fatal is None:
            while self.sent < self.due(started):
                client.produce(self.topic, value=self.value(self.sent), on_delivery=self._on_delivery)
                self.sent += 1
            client.poll(TICK_S)
        left = client.flush(CLOSE_S)
        if left:
            self.error(f"{left} records still undelivered at close")


class ConfluentTransactionalProducer(ConfluentProducer):
    """Transactions of `txn_size` records; a value counts as acked when its transaction committed."""

    library = "confluent-transactional"
    txn_size = 20

    def config(self) -> dict[str, Any]:
        return {**super().config(), "transactional.id": f"wl-txn-{self.prefix.decode()}",
                "transaction.timeout.ms": 60000}

    def _on_delivery(self, err: confluent_kafka.KafkaError | None, msg: confluent_kafka.Message) -> None:
        if err is not None:
            self.error(f"delivery failed {err.name()}: {err.str()}")

    def run(self) -> None:
        client = confluent_kafka.Producer(self.config())
        client.init_transactions(CLOSE_S)
        started = time.monotonic()
        while not self.stopping and self.fatal is None:
            first = self.sent
            values = [self.value(first + i) for i in range(self.txn_size)]
            self.sent += len(values)
            client.begin_transaction()
            for i, value in enumerate(values):
                while self.due(started) <= first + i and not self.stopping:
                    client.poll(TICK_S)
                client.produce(self.topic, value=value, on_delivery=self._on_delivery)
            self._finish(client, values)

    def _finish(self, client: confluent_kafka.Producer, values: list[bytes]) -> None:
        """Commit, retrying what is retriable; abort what must be aborted; stop on a fatal error."""
        for _attempt in range(10):
            try:
                client.commit_transaction(CLOSE_S)
            except confluent_kafka.KafkaException as exc:
                err: confluent_kafka.KafkaError = exc.args[0]
                self.error(f"commit failed {err.name()}: {err.str()} (retriable={err.retriable()}, "
                           f"abortable={err.txn_requires_abort()}, fatal={err.fatal()})")
                if err.fatal():
                    self.fatal = err.str()
                    return
                if err.txn_requires_abort():
                    client.abort_transaction(CLOSE_S)
                    self.aborted.update(values)
                    return
                continue
            for value in values:
                self.acked(value, -1, -1)
            return
        self.fatal = "commit_transaction kept failing"


class KafkaPythonProducer(ProducerWorker):
    library = "kafka-python"

    def options(self) -> dict[str, Any]:
        """Extra KafkaProducer settings (security, for instance); subclasses add theirs."""
        return {}

    def run(self) -> None:
        client = kafka.KafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all",
                                     linger_ms=5, compression_type=_codec_option(self.compression), **self.options())
        started = time.monotonic()
        try:
            while not self.stopping:
                while self.sent < self.due(started):
                    value = self.value(self.sent)
                    future = client.send(self.topic, value)
                    future.add_callback(lambda md, v=value: self.acked(v, md.partition, md.offset))
                    future.add_errback(lambda exc, v=value: self.error(f"send of {v!r} failed: {exc!r}"))
                    self.sent += 1
                time.sleep(TICK_S)
            client.flush(CLOSE_S)
        finally:
            client.close(CLOSE_S)


class AiokafkaProducer(ProducerWorker):
    library = "aiokafka"

    def run(self) -> None:
        asyncio.run(self._run())

    def options(self) -> dict[str, Any]:
        """Extra AIOKafkaProducer settings (security, for instance); subclasses add theirs."""
        return {}

    async def _run(self) -> None:
        client = aiokafka.AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all",
                                           linger_ms=5, compression_type=_codec_option(self.compression),
                                           **self.options())
        await client.start()
        started = time.monotonic()
        try:
            while not self.stopping:
                while self.sent < self.due(started):
                    value = self.value(self.sent)
                    future = await client.send(self.topic, value)
                    future.add_done_callback(lambda f, v=value: self._done(v, f))
                    self.sent += 1
                await asyncio.sleep(TICK_S)
            await client.flush()
        finally:
            await client.stop()

    def _done(self, value: bytes, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.error(f"send of {value!r} failed: {future.exception() if not future.cancelled() else 'cancelled'}")
        else:
            md = future.result()
            self.acked(value, md.partition, md.offset)


class ConfluentConsumer(ConsumerWorker):
    library = "confluent"

    def config(self) -> dict[str, Any]:
        """librdkafka refuses the classic protocol's session, heartbeat and assignor settings with
        `group.protocol=consumer`: the broker owns them there."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap, "group.id": self.group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "isolation.level": self.isolation_level,
            "group.protocol": self.group_protocol, "error_cb": self._on_error}
        if self.group_protocol == "classic":
            config |= {"session.timeout.ms": self.session_timeout_ms, "heartbeat.interval.ms": self.heartbeat_ms}
        if self.assignor is not None:
            config["partition.assignment.strategy"] = self.assignor
        return config

    def _on_error(self, err: confluent_kafka.KafkaError) -> None:
        """error_cb reports a fatal error as code _FATAL, with its fatal flag unset."""
        if err.fatal() or err.code() == confluent_kafka.KafkaError._FATAL:
            self.fatal = err.str()
        self.error(f"client error {err.name()}: {err.str()}")

    def run(self) -> None:
        client = confluent_kafka.Consumer(self.config())
        client.subscribe([self.topic])
        try:
            while not self.stopping:
                messages = client.consume(BATCH, POLL_S)
                for msg in messages:
                    if msg.error() is not None:
                        self.error(f"consume error: {msg.error()}")
                    else:
                        self.consumed(msg.value() or b"", msg.partition() or 0, msg.offset() or 0)
                if any(msg.error() is None for msg in messages):
                    self._commit(client)
        finally:
            client.close()

    def _commit(self, client: confluent_kafka.Consumer) -> None:
        try:
            results = client.commit(asynchronous=False) or []
        except confluent_kafka.KafkaException as exc:
            self.error(f"commit failed: {exc.args[0]}")
            return
        for tp in results:
            if tp.error is None:
                self.committed(tp.partition, tp.offset)
            else:
                self.error(f"commit of partition {tp.partition} failed: {tp.error}")


class KafkaPythonConsumer(ConsumerWorker):
    library = "kafka-python"

    def run(self) -> None:
        with LibraryLog(self, "kafka", "kafka.coordinator"):
            self._consume()

    def _consume(self) -> None:
        client = kafka.KafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
                                     auto_offset_reset="earliest", enable_auto_commit=False,
                                     isolation_level=self.isolation_level,
                                     session_timeout_ms=self.session_timeout_ms,
                                     heartbeat_interval_ms=self.heartbeat_ms,
                                     allow_auto_create_topics=False,  # its metadata must not create the topic
                                     **_assignors(self.assignor, KAFKA_PYTHON_ASSIGNORS))
        try:
            self._know_partitions(client)
            while not self.stopping:
                batches = client.poll(timeout_ms=int(POLL_S * 1000), max_records=BATCH)
                self.assigned([tp.partition for tp in client.assignment()])
                self._probe(client)
                for records in batches.values():
                    for r in records:
                        self.consumed(r.value, r.partition, r.offset)
                if batches:
                    self._commit(client)
        finally:
            client.close(autocommit=False)

    def _know_partitions(self, client: kafka.KafkaConsumer) -> None:
        """Until the client's own metadata lists the topic's partitions; before the first poll joins.

        Works around a kafka-python 3.0.12 bug that left a consumer with no partitions for good.
        kafka-python bootstraps with the metadata of no topic and subscribes after, so under load its
        first JoinGroup can be assigned before the topic's metadata arrives ("No partition metadata
        for topic"): an empty assignment. The metadata then differs from the assignment's snapshot, the
        only reason for the rejoin that follows (`rejoin_needed` stays False). When that JoinGroup and
        SyncGroup outlive the poll() that started them (200 ms here), the leader's assignment on the IO
        thread sets the snapshot equal again, the next polls see no need to rejoin and never collect the
        finished join: the member stays REBALANCING with heartbeats off and nothing assigned. Joining
        with the topic known makes the first assignment whole and that rejoin never happen.
        """
        deadline = time.monotonic() + CLOSE_S
        while not client.partitions_for_topic(self.topic) and not self.stopping:  # asks when unknown
            if time.monotonic() > deadline:
                self.error(f"{self.topic} still unknown to the client after {CLOSE_S:.0f} s; joining anyway")
                return
            time.sleep(POLL_S)

    _probed = 0.0

    def _probe(self, client: kafka.KafkaConsumer) -> None:
        """Every few seconds without an assignment: what the library believes (private attributes,
        read for the diagnosis only)."""
        if client.assignment() or time.monotonic() - self._probed < PROBE_S:
            return
        self._probed = time.monotonic()
        coordinator, cluster = getattr(client, "_coordinator", None), getattr(client, "_cluster", None)
        state = " ".join(f"{name.strip('_')}={getattr(coordinator, name, '?')}" for name in PROBED)
        join = getattr(coordinator, "_join_task", None)
        known = cluster.partitions_for_topic(self.topic) if cluster is not None else "?"
        self.diagnose(f"probe: no assignment; {state} join_done={getattr(join, 'is_done', None)} "
                      f"need_rejoin={coordinator.need_rejoin() if coordinator is not None else '?'} partitions={known}")

    def _commit(self, client: kafka.KafkaConsumer) -> None:
        try:
            client.commit()
        except kafka.errors.KafkaError as exc:
            self.error(f"commit failed: {exc!r}")
            return
        self.committed_positions()


class AiokafkaConsumer(ConsumerWorker):
    library = "aiokafka"

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        client = aiokafka.AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
                                           auto_offset_reset="earliest", enable_auto_commit=False,
                                           isolation_level=self.isolation_level,
                                           session_timeout_ms=self.session_timeout_ms,
                                           heartbeat_interval_ms=self.heartbeat_ms,
                                           **_assignors(self.assignor, AIOKAFKA_ASSIGNORS))
        await client.start()
        try:
            while not self.stopping:
                batches = await client.getmany(timeout_ms=int(POLL_S * 1000), max_records=BATCH)
                for records in batches.values():
                    for r in records:
                        self.consumed(r.value or b"", r.partition, r.offset)
                if batches:
                    await self._commit(client)
        finally:
            await client.stop()

    async def _commit(self, client: aiokafka.AIOKafkaConsumer) -> None:
        try:
            await client.commit()
        except aiokafka.errors.KafkaError as exc:
            self.error(f"commit failed: {exc!r}")
            return
        self.committed_positions()
