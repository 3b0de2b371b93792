"""The client inventory counts per library+version from headers and ApiVersions bodies only."""

from __future__ import annotations

from protocol import schema
from protocol.messages import api_versions
from proxy.readiness import inventory as inv
from proxy.readiness.inventory import ClientInventory
from proxy.readiness.mirror import MirrorSeen


def api_versions_frame(name: str, version: str) -> memoryview:
    body = schema.encode(api_versions.REQUEST, 3, schema.new(api_versions.REQUEST, 3, ClientSoftwareName=name,
                                                             ClientSoftwareVersion=version))
    return memoryview(body)


def test_connections_are_grouped_by_library_and_version_with_the_apis_they_use() -> None:
    tally = ClientInventory()
    for client in ("c1", "c2"):
        tally.on_request(client, 18, 3, api_versions_frame("librdkafka", "2.6.0"), 0)
        tally.on_request(client, 0, 11, memoryview(b"x" * 100), 0)
    tally.on_request("c1", 22, 5, memoryview(b""), 0)
    [shape] = tally.snapshot()
    assert (shape["library"], shape["version"], shape["open_connections"]) == ("librdkafka", "2.6.0", 2)
    assert shape["apis"] == {"0": [11, 11], "18": [3, 3], "22": [5, 5]}
    assert shape["idempotent"] and not shape["transactional"] and shape["produce_bytes"] == 200


def test_a_closed_connection_leaves_only_its_counts() -> None:
    tally = ClientInventory()
    tally.on_request("c1", 18, 3, api_versions_frame("sarama", "1.43"), 0)
    tally.forget("c1")
    assert tally.snapshot()[0]["open_connections"] == 0
    assert not tally._of


def test_an_old_api_versions_or_none_at_all_is_unknown() -> None:
    tally = ClientInventory()
    tally.on_request("c1", 18, 2, memoryview(b""), 0)
    tally.on_request("c2", 3, 12, memoryview(b""), 0)
    [shape] = tally.snapshot()
    assert (shape["library"], shape["total_connections"]) == ("unknown", 2)


def test_kinds_of_groups_and_transactions_come_from_api_keys() -> None:
    tally = ClientInventory()
    tally.on_request("c1", 68, 0, memoryview(b""), 0)
    tally.on_request("c1", 26, 4, memoryview(b""), 0)
    [shape] = tally.snapshot()
    assert shape["kip848_group"] and shape["transactional"] and not shape["classic_group"]


def test_the_number_of_shapes_is_bounded(monkeypatch: object) -> None:
    tally = ClientInventory()
    setattr(inv, "MAX_SHAPES", 2)  # noqa: B010 - restored below
    try:
        for i in range(4):
            tally.on_request(f"c{i}", 18, 3, api_versions_frame("lib", str(i)), 0)
    finally:
        inv.MAX_SHAPES = 256
    assert len(tally.shapes) == 3  # two real ones and "other"
    assert ("other", "other") in tally.shapes


def test_a_shape_seen_under_a_later_epoch_has_crossed_a_switch() -> None:
    tally = ClientInventory()
    tally.on_request("c1", 3, 12, memoryview(b""), 0)
    tally.epoch = 1
    tally.on_request("c1", 3, 12, memoryview(b""), 0)
    [shape] = tally.snapshot()
    assert (shape["first_epoch"], shape["last_epoch"]) == (0, 1)


class TestMirrorSeen:
    def test_a_mirror_whose_copied_offsets_stop_while_lag_grows_stops_moving(self) -> None:
        seen = MirrorSeen().observe(0.0, 0, 100, 100).observe(10.0, 50, 100, 150).observe(40.0, 90, 100, 190)
        assert seen.moving(10.0) and not seen.moving(40.0)

    def test_a_mirror_that_catches_up_is_moving(self) -> None:
        seen = MirrorSeen().observe(0.0, 50, 100, 150).observe(100.0, 0, 150, 150)
        assert seen.moving(100.0)
        assert seen.records_per_s() == 0.0
