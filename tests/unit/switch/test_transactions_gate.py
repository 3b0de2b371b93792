"""The transactions gate names what blocks a switch, oldest first, so a dead producer stands out."""

from __future__ import annotations

from proxy.switch.machine.gates import transactions_gate


def test_no_open_transaction_passes() -> None:
    assert transactions_gate(()) == (True, "no open transactions on the source")


def test_open_transactions_are_named_oldest_first_with_their_age() -> None:
    passed, detail = transactions_gate(("fresh", "stuck", "unknown"), (1_200, 95_000, -1))
    assert not passed
    assert detail == "3 open transaction(s): stuck (open 95 s), fresh (open 1 s), unknown"


def test_ages_are_optional() -> None:
    assert transactions_gate(("b", "a")) == (False, "2 open transaction(s): a, b")
