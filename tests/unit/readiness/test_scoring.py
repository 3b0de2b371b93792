"""Each readiness rule, at each score it can give."""

from __future__ import annotations

from dataclasses import replace

from proxy.readiness.scoring import (
    ClientShape,
    Evidence,
    GovernanceDifference,
    SwitchSeen,
    compatibility,
    cost,
    governance,
    observability,
    offsets,
    render_table,
    rollback,
    routing,
    score,
)

NOW = 1_000_000.0
PRODUCER = ClientShape("apache-kafka-java", "4.4.0", 2, 3, {0: (11, 12), 3: (12, 12), 22: (5, 5)}, idempotent=True)
DRY_RUN = SwitchSeen("s1", "A", "B", True, "succeeded", NOW - 60, True)
FAILBACK = SwitchSeen("s3", "B", "A", False, "succeeded", NOW - 30, True)
B_RANGES = {0: (0, 12), 3: (0, 13), 22: (0, 6), 18: (0, 4)}


def ready() -> Evidence:
    """Everything in place: each test takes one thing away."""
    return Evidence(
        active="A", target="B", now_s=NOW, clients=[replace(PRODUCER, crossed_switch=True)],
        target_reachable=True, target_api_ranges=B_RANGES, target_brokers=3,
        mirror_configured=True, mirror_lag_records=0, mirror_progress_fresh=True,
        reverse_mirror_configured=True, reverse_lag_records=0, switches=[DRY_RUN, FAILBACK],
        produce_bytes_per_s=1e6, avg_record_bytes=100.0, transfer_price_per_gb=0.02,
        governance=[], governance_source="comparison", alerts_shipped=True, dashboard_shipped=True)


def test_everything_in_place_scores_two_everywhere_and_is_a_production_candidate() -> None:
    card = score(ready())
    assert [g.score for g in card.gates] == [2] * 7
    assert card.production_candidate


class TestCompatibility:
    def test_a_client_api_version_the_target_lacks_scores_zero_and_names_client_and_api(self) -> None:
        ev = replace(ready(), target_api_ranges={**B_RANGES, 0: (0, 11)})
        gate = compatibility(ev)
        assert gate.score == 0
        assert gate.evidence["missing"] == ["apache-kafka-java 4.4.0: api 0 v12 (B has v0-11)"]

    def test_an_api_the_target_does_not_have_at_all_scores_zero(self) -> None:
        ranges = {k: v for k, v in B_RANGES.items() if k != 22}
        assert "api 22 v5 (B has absent)" in compatibility(replace(ready(), target_api_ranges=ranges)).evidence[
            "missing"][0]

    def test_an_unreachable_target_scores_zero(self) -> None:
        assert compatibility(replace(ready(), target_reachable=False)).score == 0

    def test_a_shape_that_never_crossed_a_switch_scores_one_and_is_named(self) -> None:
        gate = compatibility(replace(ready(), clients=[PRODUCER]))
        assert (gate.score, gate.evidence["not_crossed"]) == (1, ["apache-kafka-java 4.4.0"])

    def test_no_client_yet_scores_one(self) -> None:
        assert compatibility(replace(ready(), clients=[])).score == 1

    def test_producer_and_group_kinds_are_listed(self) -> None:
        gate = compatibility(ready())
        assert gate.evidence["idempotent_producers"] == ["apache-kafka-java 4.4.0"]
        assert gate.evidence["kip848_groups"] == []


class TestOffsets:
    def test_no_mirror_scores_zero(self) -> None:
        assert offsets(replace(ready(), mirror_configured=False)).score == 0

    def test_a_mirror_that_does_not_move_scores_zero(self) -> None:
        gate = offsets(replace(ready(), mirror_lag_records=500, mirror_progress_fresh=False))
        assert gate.score == 0 and "not moving" in gate.rule

    def test_a_moving_mirror_without_a_passing_dry_run_scores_one_with_replay_bounds(self) -> None:
        gate = offsets(replace(ready(), mirror_lag_records=40, switches=[]))
        assert gate.score == 1
        assert (gate.evidence["planned_replay_records"], gate.evidence["emergency_replay_records"]) == (0, 40)

    def test_a_failed_dry_run_does_not_count(self) -> None:
        failed = replace(DRY_RUN, outcome="aborted", gates_passed=False)
        assert offsets(replace(ready(), switches=[failed])).score == 1

    def test_a_passing_dry_run_scores_two_and_is_cited(self) -> None:
        gate = offsets(ready())
        assert gate.score == 2 and gate.evidence["last_passing_drill"]["switch_id"] == "s1"


class TestRouting:
    def test_unreachable_target_scores_zero(self) -> None:
        assert routing(replace(ready(), target_reachable=False)).score == 0

    def test_an_instance_off_the_stored_state_scores_zero(self) -> None:
        assert routing(replace(ready(), fleet_off_state=["p2 is on B at epoch 3"])).score == 0

    def test_an_instance_that_cannot_reach_the_target_scores_zero_and_is_named(self) -> None:
        gate = routing(replace(ready(), fleet_instances=3, fleet_cut_off=["127.0.0.1:9192"]))
        assert gate.score == 0 and "127.0.0.1:9192" in gate.raise_by

    def test_missing_topics_on_the_target_score_one(self) -> None:
        assert routing(replace(ready(), target_topics_missing=["orders"])).score == 1

    def test_an_old_dry_run_scores_one(self) -> None:
        old = replace(DRY_RUN, finished_at_s=NOW - 8 * 24 * 3600)
        assert routing(replace(ready(), switches=[old])).score == 1

    def test_a_recent_dry_run_scores_two(self) -> None:
        assert routing(ready()).score == 2


class TestCost:
    def test_no_price_scores_zero(self) -> None:
        assert cost(replace(ready(), transfer_price_per_gb=None)).score == 0

    def test_steady_state_only_scores_one(self) -> None:
        gate = cost(replace(ready(), reverse_mirror_configured=False))
        assert gate.score == 1
        assert gate.evidence["monthly_transfer_gb"] == 2592.0  # 1 MB/s for 30 days
        assert gate.evidence["monthly_transfer_cost"] == 51.84

    def test_replay_and_rollback_in_the_model_scores_two(self) -> None:
        gate = cost(replace(ready(), mirror_lag_records=1000))
        assert (gate.score, gate.evidence["switch_replay_bytes"]) == (2, 100_000)


class TestGovernance:
    def test_no_comparison_scores_one(self) -> None:
        assert governance(replace(ready(), governance=None)).score == 1

    def test_a_blocking_difference_scores_zero(self) -> None:
        diff = GovernanceDifference("orders", "on A, not on B", "blocking")
        assert governance(replace(ready(), governance=[diff])).score == 0

    def test_warnings_only_score_one(self) -> None:
        diff = GovernanceDifference("orders", "retention.ms differs", "warning")
        assert governance(replace(ready(), governance=[diff])).score == 1

    def test_the_topic_names_fallback_never_scores_two(self) -> None:
        assert governance(replace(ready(), governance_source="topics")).score == 1

    def test_a_full_comparison_without_differences_scores_two(self) -> None:
        assert governance(ready()).score == 2


class TestRollback:
    def test_no_reverse_mirror_scores_zero_and_the_card_is_no_candidate(self) -> None:
        ev = replace(ready(), reverse_mirror_configured=False)
        assert rollback(ev).score == 0
        assert not score(ev).production_candidate

    def test_no_rehearsed_failback_scores_one(self) -> None:
        assert rollback(replace(ready(), switches=[DRY_RUN])).score == 1

    def test_a_rehearsed_failback_scores_two_and_is_cited(self) -> None:
        gate = rollback(ready())
        assert gate.score == 2 and gate.evidence["last_failback"]["switch_id"] == "s3"


class TestObservability:
    def test_no_metrics_scores_zero(self) -> None:
        assert observability(replace(ready(), metrics_exposed=False)).score == 0

    def test_no_dashboard_scores_one(self) -> None:
        assert observability(replace(ready(), dashboard_shipped=False)).score == 1


def test_a_zero_in_cost_or_governance_still_leaves_a_production_candidate() -> None:
    ev = replace(ready(), transfer_price_per_gb=None,
                 governance=[GovernanceDifference("t", "x", "blocking")])
    assert score(ev).production_candidate


def test_the_table_names_every_gate_and_the_verdict() -> None:
    text = render_table(score(replace(ready(), reverse_mirror_configured=False)).to_dict())
    assert "NOT a production candidate" in text
    assert all(gate in text for gate in ("compatibility", "offsets", "routing", "cost", "governance",
                                         "rollback", "observability"))
