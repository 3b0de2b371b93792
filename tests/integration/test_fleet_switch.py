"""A planned switch asked of one of three proxy processes moves all three (etcd fleet mode).

Real A, B, MirrorMaker 2 (the session's mirror A->B) and a real etcd. A confluent-kafka producer
writes through each instance at 100 rec/s; the switch is asked of the first. The others fence and
drain (their acknowledgements gate the leader's drain), and follow the flip through the store's
watch. Judged from B's log as the single-proxy switch tests are: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest

from harness import processes, workload
from harness.etcd import Etcd
from harness.mirror import Mirror, wait_for_records
from harness.proxy_process import ProxyProcess, raw_config
from harness.tcp_link import TcpLink
from harness.workload import SwitchRun, wait_until
from harness.workload_verify import verify
from proxy.cli import AdminClient, is_final

pytestmark = pytest.mark.integration

TOKEN = "fleet-token"
INSTANCES = 3
RATE = 100.0
BEFORE, AFTER = 200, 200
LEASE_TTL_S = 5
MIRROR_READY_S = 300  # JVM start-up on a loaded 2-core machine


class ModuleMirror:
    """The session's A->B MirrorMaker 2 (`mirror_ab`), never a second one: a second MM2 with the
    same aliases joins the first one's Connect group, and without the internal REST API neither can
    reconfigure its tasks, so new topics stop being copied (in a full run where the session's MM2
    was already up, a topic of this module was not copied in 300 s). A test that freezes it
    (SIGSTOP) has it restarted after it: a MirrorMaker thawed after a long stop may copy nothing new
    for minutes, and every later user of the pair would wait for it."""

    def __init__(self, mirror: Mirror) -> None:
        self.current = mirror
        self.frozen = False

    def freeze(self) -> None:
        self.frozen = True
        os.kill(self.current.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.current.pid, signal.SIGCONT)

    def renew_if_frozen(self) -> None:
        if self.frozen:
            self.current.restart()
            self.frozen = False


@pytest.fixture(scope="module")
def module_mirror(mirror_ab: Mirror) -> ModuleMirror:
    return ModuleMirror(mirror_ab)


@pytest.fixture
def mirror(module_mirror: ModuleMirror) -> Iterator[ModuleMirror]:
    """The module's MirrorMaker, copying when the test starts."""
    yield module_mirror
    module_mirror.renew_if_frozen()




def _fleet(a: Any, b: Any, etcd: Etcd, tmp_path: Path, proxies: list[ProxyProcess],
           etcd_via: dict[int, str] | None = None) -> None:
    """Start INSTANCES proxies into `proxies`, each on ports chosen free just before it starts;
    instance i reaches etcd at `etcd_via[i]` when given (a `TcpLink` a test can cut)."""
    token = tmp_path / "token"
    token.write_text(TOKEN)
    state = {"backend": "etcd", "endpoints": [etcd.endpoint], "prefix": f"/kfp-test/{uuid.uuid4().hex[:8]}",
             "lease_ttl_s": LEASE_TTL_S}
    for i in range(INSTANCES):
        endpoint = (etcd_via or {}).get(i, etcd.endpoint)
        proxies.append(ProxyProcess(raw_config({"A": a.bootstrap, "B": b.bootstrap}, "A",
                                               state={**state, "endpoints": [endpoint]},
                                               mirrors=[{"source": "A", "target": "B"}],
                                               admin={"token_file": str(token)})).start())


def _producing_through(a: Any, b: Any, proxies: list[ProxyProcess], through: list[ProxyProcess], topic: str
                       ) -> list[Any]:
    """Once every instance lists the whole fleet and the mirror copies `topic` (another test of this
    module may have frozen MirrorMaker; it can take a minute to resume): a producer through each of
    `through`, past BEFORE acks."""
    _mirror_copies(a, b, topic)
    wait_until(lambda: all(len(p.status()["state"]["fleet"]) == INSTANCES for p in proxies), 120,
               lambda: "fleet not registered", every_s=0.2)
    producers = [workload.producer("confluent", p.bootstrap, topic, rate=RATE, name=f"via-{proxies.index(p)}")
                 for p in through]
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.wait_acked(BEFORE, 120)
    return producers


def _mirror_copies(a: Any, b: Any, topic: str) -> None:
    """One record written to A straight away and seen on B: the module's MirrorMaker is copying."""
    producer = confluent_kafka.Producer({"bootstrap.servers": a.bootstrap, "log_level": 3})
    producer.produce(topic, b"mirror-probe")
    producer.flush(30)
    wait_for_records(b.bootstrap, topic, 1, timeout_s=MIRROR_READY_S)


def test_a_switch_asked_of_one_instance_moves_the_fleet_losing_and_duplicating_nothing(
        cluster_a: Any, cluster_b: Any, mirror: ModuleMirror, new_topic: Any, etcd: Etcd, tmp_path: Path) -> None:
    topic = new_topic(cluster_a, partitions=3)
    proxies: list[ProxyProcess] = []
    producers: list[Any] = []
    try:
        _fleet(cluster_a, cluster_b, etcd, tmp_path, proxies)
        producers.extend(_producing_through(cluster_a, cluster_b, proxies, proxies, topic))
        admin = AdminClient(proxies[0].admin_url, TOKEN)
        called_at = time.time()
        code, answer = admin.call("POST", "/v1/switch", {"target": "B", "timeout_s": 60})
        assert code == 202, answer
        wait_until(lambda: all(p.status()["switch_epoch"] == 1 for p in proxies), 120,
                   lambda: f"not every instance flipped: {admin.call('GET', '/v1/switch/' + answer['switch_id'])[1]}",
                   every_s=0.05)
        last_flipped_s = time.time() - called_at
        record: dict[str, Any] = {}

        def final() -> bool:
            record.update(admin.call("GET", f"/v1/switch/{answer['switch_id']}")[1])
            return is_final(record)

        wait_until(final, 120, lambda: f"switch record not final: {record}", every_s=0.2)
        for producer in producers:
            producer.wait_acked(len(producer.acks) + AFTER, 120)
        statuses = [p.status() for p in proxies]
    finally:
        for producer in producers:
            producer.stop()
        for proxy in proxies:
            proxy.stop()
    assert record["outcome"] == "succeeded", record["reason"]
    assert [(s["active"], s["switch_epoch"]) for s in statuses] == [("B", 1)] * INSTANCES
    run = SwitchRun(answer["switch_id"], record, called_at)
    verdict = verify(cluster_b.bootstrap, topic, producers, [], run)
    phases = {p["phase"]: p["duration_ms"] for p in record["phases"]}
    print(json.dumps({"test": "fleet-planned-switch", "instances": INSTANCES,
                      "last_instance_flipped_ms": round(last_flipped_s * 1000), "phases_ms": phases,
                      **verdict.to_dict()}))
    for produced in verdict.producers:
        assert produced.fatal is None
        assert (produced.lost, produced.duplicates) == (0, 0), produced.lost_sample


def test_a_leader_killed_mid_switch_leaves_every_instance_on_the_source_unfenced(
        cluster_a: Any, cluster_b: Any, mirror: ModuleMirror, new_topic: Any, etcd: Etcd, tmp_path: Path) -> None:
    """SIGKILL the leader while its catch-up waits on a frozen MirrorMaker: the followers, fenced for
    its switch, see its lease expire, find the epoch unchanged in etcd, and lift their fence; the
    producers through them go on writing to A. Restarted, the leader closes its record as aborted."""
    topic = new_topic(cluster_a, partitions=1)
    proxies: list[ProxyProcess] = []
    producers: list[Any] = []
    try:
        _fleet(cluster_a, cluster_b, etcd, tmp_path, proxies)
        leader, followers = proxies[0], proxies[1:]
        producers.extend(_producing_through(cluster_a, cluster_b, proxies, followers, topic))
        admin = AdminClient(leader.admin_url, TOKEN)
        mirror.freeze()  # catch-up cannot pass while MM2 copies nothing
        try:
            code, answer = admin.call("POST", "/v1/switch", {"target": "B", "timeout_s": 120})
            assert code == 202, answer
            wait_until(lambda: all(p.metric("kfp_fenced") == 1 for p in followers), 60,
                       lambda: "followers not fenced for the leader's switch", every_s=0.05)
            assert leader.process is not None
            processes.kill_many([leader.process])
            leader.process = None
            wait_until(lambda: all(p.metric("kfp_fenced") == 0 for p in followers), 60,
                       lambda: "followers still fenced after the leader's lease expired", every_s=0.2)
        finally:
            mirror.thaw()
        for producer in producers:
            producer.wait_acked(len(producer.acks) + AFTER, 120)
        statuses = [p.status() for p in followers]
        leader.start()
        leader_status = leader.status()
        code, record = admin.call("GET", f"/v1/switch/{answer['switch_id']}")
    finally:
        for producer in producers:
            producer.stop()
        for proxy in proxies:
            proxy.stop()
    assert [(s["active"], s["switch_epoch"]) for s in statuses] == [("A", 0)] * len(followers)
    assert (leader_status["active"], leader_status["switch_epoch"]) == ("A", 0)
    assert code == 200 and (record["outcome"], record["final"]) == ("aborted", True)
    assert "stopped in phase" in record["reason"]
    verdict = verify(cluster_a.bootstrap, topic, producers)
    print(json.dumps({"test": "fleet-leader-killed", **verdict.to_dict()}))
    for produced in verdict.producers:
        assert (produced.lost, produced.duplicates, produced.fatal) == (0, 0, None), produced.lost_sample


def test_an_instance_cut_off_from_etcd_during_a_switch_fences_and_follows_the_flip_once_back(
        cluster_a: Any, cluster_b: Any, mirror: ModuleMirror, new_topic: Any, etcd: Etcd, tmp_path: Path) -> None:
    """A partition between one instance and etcd, just as a switch starts on another: the leader waits
    for the cut-off instance only until its lease expires; the cut-off instance fenced before that (fail
    closed), so none of its writes reach A unwaited-for. Once the link is mended it reads the state,
    finds the flip it missed and follows it. Its producers, refused meanwhile, end on B: nothing lost,
    nothing duplicated."""
    topic = new_topic(cluster_a, partitions=3)
    host, port = etcd.endpoint.removeprefix("http://").rsplit(":", 1)
    proxies: list[ProxyProcess] = []
    producers: list[Any] = []
    with TcpLink(host, int(port)) as link:
        try:
            _fleet(cluster_a, cluster_b, etcd, tmp_path, proxies, etcd_via={2: f"http://{link.address}"})
            producers.extend(_producing_through(cluster_a, cluster_b, proxies, proxies, topic))
            leader, cut_off = proxies[0], proxies[2]
            admin = AdminClient(leader.admin_url, TOKEN)
            link.cut()
            called_at = time.time()
            code, answer = admin.call("POST", "/v1/switch", {"target": "B", "timeout_s": 60})
            assert code == 202, answer
            record: dict[str, Any] = {}

            def final() -> bool:
                record.update(admin.call("GET", f"/v1/switch/{answer['switch_id']}")[1])
                return is_final(record)

            wait_until(final, 120, lambda: f"switch record not final: {record}", every_s=0.2)
            cut_off_while_cut = cut_off.status()
            fenced_while_cut = cut_off.metric("kfp_fenced")
            link.mend()
            wait_until(lambda: cut_off.status()["switch_epoch"] == 1 and cut_off.metric("kfp_fenced") == 0, 60,
                       lambda: f"cut-off instance did not follow the flip of {record.get('outcome')} switch "
                               f"({record.get('reason')}): {cut_off.status()}", every_s=0.2)
            for producer in producers:
                producer.wait_acked(len(producer.acks) + AFTER, 120)
            statuses = [p.status() for p in proxies]
        finally:
            for producer in producers:
                producer.stop()
            for proxy in proxies:
                proxy.stop()
    assert record["outcome"] == "succeeded", record["reason"]
    assert (cut_off_while_cut["switch_epoch"], cut_off_while_cut["state"]["state_lost"], fenced_while_cut) == (
        0, True, 1)
    assert [(s["active"], s["switch_epoch"]) for s in statuses] == [("B", 1)] * INSTANCES
    verdict = verify(cluster_b.bootstrap, topic, producers, [], SwitchRun(answer["switch_id"], record, called_at))
    phases = {p["phase"]: p["duration_ms"] for p in record["phases"]}
    print(json.dumps({"test": "fleet-instance-cut-off", "phases_ms": phases, **verdict.to_dict()}))
    for produced in verdict.producers:
        assert produced.fatal is None
        assert (produced.lost, produced.duplicates) == (0, 0), produced.lost_sample


def test_etcd_restarted_mid_switch_leaves_every_instance_on_one_cluster(
        cluster_a: Any, cluster_b: Any, mirror: ModuleMirror, new_topic: Any, etcd: Etcd, tmp_path: Path) -> None:
    """etcd stopped for longer than the lease TTL while the leader's catch-up waits on a frozen
    MirrorMaker, then started again: whatever the outcome, it is the same on every instance (never
    split), and the producers through them lose and duplicate nothing on the cluster they end on."""
    topic = new_topic(cluster_a, partitions=3)
    proxies: list[ProxyProcess] = []
    producers: list[Any] = []
    try:
        _fleet(cluster_a, cluster_b, etcd, tmp_path, proxies)
        producers.extend(_producing_through(cluster_a, cluster_b, proxies, proxies, topic))
        admin = AdminClient(proxies[0].admin_url, TOKEN)
        mirror.freeze()
        try:
            called_at = time.time()
            code, answer = admin.call("POST", "/v1/switch", {"target": "B", "timeout_s": 60})
            assert code == 202, answer
            wait_until(lambda: all(p.metric("kfp_fenced") == 1 for p in proxies), 60,
                       lambda: "the fleet did not fence for the switch", every_s=0.05)
            etcd.stop()
            time.sleep(LEASE_TTL_S * 1.6)
            etcd.start()
        finally:
            mirror.thaw()
        record: dict[str, Any] = {}

        def final() -> bool:
            record.update(admin.call("GET", f"/v1/switch/{answer['switch_id']}")[1])
            return is_final(record)

        wait_until(final, 180, lambda: f"switch record not final: {record}", every_s=0.5)
        wait_until(lambda: len({(p.status()["active"], p.status()["switch_epoch"]) for p in proxies}) == 1
                   and all(p.metric("kfp_fenced") == 0 for p in proxies), 120,
                   lambda: f"instances disagree or stay fenced: {[p.status()['state'] for p in proxies]}",
                   every_s=0.5)
        for producer in producers:
            producer.wait_acked(len(producer.acks) + AFTER, 180)
        statuses = [p.status() for p in proxies]
    finally:
        for producer in producers:
            producer.stop()
        for proxy in proxies:
            proxy.stop()
    ended_on = {(s["active"], s["switch_epoch"]) for s in statuses}
    assert ended_on in ({("A", 0)}, {("B", 1)}), ended_on
    assert record["outcome"] == ("succeeded" if ended_on == {("B", 1)} else "aborted"), record
    switched = ended_on == {("B", 1)}
    verdict = verify(cluster_b.bootstrap if switched else cluster_a.bootstrap, topic, producers, [],
                     SwitchRun(answer["switch_id"], record, called_at) if switched else None)
    print(json.dumps({"test": "fleet-etcd-restarted", "outcome": record["outcome"], "reason": record.get("reason"),
                      **verdict.to_dict()}))
    for produced in verdict.producers:
        assert (produced.lost, produced.duplicates, produced.fatal) == (0, 0, None), produced.lost_sample
