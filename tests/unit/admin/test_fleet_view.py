"""`kafka-failover-proxy fleet`: every instance on one line, and a split said out loud."""

from __future__ import annotations

from typing import Any

from proxy.admin.fleet_view import fleet_view


def status(*members: dict[str, Any], active: str = "B", epoch: int = 1) -> dict[str, Any]:
    return {"state": {"store": "etcd http://127.0.0.1:2379 /kfp", "fleet": list(members),
                      "persisted": {"active": active, "switch_epoch": epoch}}}


def member(name: str, active: str = "B", epoch: int = 1, fenced: bool = False) -> dict[str, Any]:
    return {"instance": name, "admin": f"{name}0", "active": active, "switch_epoch": epoch, "fenced": fenced,
            "leading": None}


def test_a_fleet_on_the_stored_state_agrees_and_lists_every_instance() -> None:
    view = fleet_view(status(member("10.0.0.2:9092"), member("10.0.0.1:9092")))
    assert view.agreed and view.problems == ()
    assert view.lines[0].startswith("stored state: active B, epoch 1")
    assert view.lines[1].split() == ["instance", "admin", "active", "epoch", "fenced", "leading"]
    assert [line.split()[0] for line in view.lines[2:]] == ["10.0.0.1:9092", "10.0.0.2:9092"]
    assert view.lines[2].split()[2:] == ["B", "1", "no", "-"]


def test_an_instance_left_behind_is_a_split_and_named() -> None:
    view = fleet_view(status(member("a:1"), member("b:1", active="A", epoch=0, fenced=True)))
    assert not view.agreed
    assert view.problems == ("b:1 is on A at epoch 0, the stored state on B at epoch 1",)
    assert view.lines[-1] == "! b:1 is on A at epoch 0, the stored state on B at epoch 1"


def test_a_single_proxy_says_it_is_not_in_fleet_mode() -> None:
    view = fleet_view({"state": {"store": "file /var/lib/kfp/state.json", "fleet": None}})
    assert view.agreed and "not in fleet mode" in view.lines[0]
