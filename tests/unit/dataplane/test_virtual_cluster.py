"""Virtual node slots: stable ids and addresses whatever cluster is behind them."""

from __future__ import annotations

import pytest

from proxy.dataplane.virtual_cluster import ClusterSlots, SlotsExhausted, VirtualCluster


def test_slots_follow_ascending_real_ids_and_stay_sticky() -> None:
    slots = ClusterSlots(max_slots=4)
    slots.learn([3, 1, 2])
    assert slots.slots() == {0: 1, 1: 2, 2: 3}
    slots.learn([2, 3])  # broker 1 gone for a while: nobody moves
    slots.learn([1, 2, 3, 0])  # a new broker takes the next free slot, not slot 0
    assert slots.slots() == {0: 1, 1: 2, 2: 3, 3: 0}


def test_two_clusters_with_different_ids_share_the_same_virtual_ids() -> None:
    virtual = VirtualCluster("vc", "proxy.local", 9200, 8)
    virtual.slots_of("A").learn([1, 2, 3])
    virtual.slots_of("B").learn([11, 12])
    a, b = virtual.mapper("A"), virtual.mapper("B")
    assert [a.node(i) for i in (1, 2, 3)] == [0, 1, 2]
    assert [b.node(i) for i in (11, 12)] == [0, 1]
    assert virtual.endpoint(1).port == a.port(1) == b.port(1) == 9201
    assert b.real_node(1) == 12 and a.real_node(1) == 2


def test_minus_one_is_never_mapped_and_unknown_nodes_get_a_slot() -> None:
    virtual = VirtualCluster("vc", "h", 9000, 2)
    mapper = virtual.mapper("A")
    assert mapper.node(-1) == -1
    assert mapper.node(7) == 0
    assert mapper.node(9) == 1
    with pytest.raises(SlotsExhausted):
        mapper.node(10)
