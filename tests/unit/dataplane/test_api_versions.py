"""What the proxy advertises: the intersection of every cluster and the proxy's own codecs."""

from __future__ import annotations

from protocol import schema
from protocol.messages import api_versions
from proxy.dataplane.api_versions import REBOOTSTRAP_REQUIRED, UNSUPPORTED_VERSION, ApiVersionsAnswer, intersect


def test_intersection_takes_the_narrowest_range_and_drops_missing_and_hidden_apis() -> None:
    a = {0: (0, 13), 1: (4, 18), 3: (0, 13), 55: (0, 2), 71: (0, 0), 68: (0, 1)}
    b = {0: (3, 12), 1: (4, 17), 3: (0, 12), 55: (0, 2), 71: (0, 0)}
    assert intersect([a, b], {3: (0, 13)}) == {0: (0, 12), 1: (4, 17), 3: (0, 12)}


def test_produce_keeps_its_minimum_of_zero() -> None:
    assert intersect([{0: (0, 13)}], {0: (3, 13)})[0] == (0, 13)


def test_finalized_features_take_the_lower_level_and_the_epoch_only_rises() -> None:
    answer = ApiVersionsAnswer("vc")
    assert answer.recompute([{18: (0, 4)}], [{"transaction.version": (0, 2)}], [{"transaction.version": (2, 2)}])
    first = answer.advertised.features_epoch
    assert answer.recompute(
        [{18: (0, 4)}, {18: (0, 4)}],
        [{"transaction.version": (0, 2)}, {"transaction.version": (0, 2)}],
        [{"transaction.version": (2, 2)}, {"transaction.version": (1, 1)}],
    )
    assert answer.advertised.finalized_features == {"transaction.version": (1, 1)}
    assert answer.advertised.features_epoch > first
    assert not answer.recompute(
        [{18: (0, 4)}, {18: (0, 4)}],
        [{"transaction.version": (0, 2)}, {"transaction.version": (0, 2)}],
        [{"transaction.version": (2, 2)}, {"transaction.version": (1, 1)}],
    )


def test_a_too_new_request_gets_v0_unsupported_version_with_our_range() -> None:
    answer = ApiVersionsAnswer("vc")
    answer.recompute([{18: (0, 3), 3: (0, 12)}], [{}], [{}])
    version, body = answer.respond(9, None, None)
    decoded = schema.decode(api_versions.RESPONSE, version, body)
    assert version == 0 and decoded.ErrorCode == UNSUPPORTED_VERSION
    assert [(k.ApiKey, k.MinVersion, k.MaxVersion) for k in decoded.ApiKeys] == [(18, 0, 3)]


def test_v3_answer_lists_the_advertised_apis_and_features() -> None:
    answer = ApiVersionsAnswer("vc")
    answer.recompute([{18: (0, 4), 3: (0, 12)}], [{"group.version": (0, 1)}], [{"group.version": (1, 1)}])
    version, body = answer.respond(3, None, None)
    decoded = schema.decode(api_versions.RESPONSE, version, body)
    assert {k.ApiKey: (k.MinVersion, k.MaxVersion) for k in decoded.ApiKeys} == {18: (0, 4), 3: (0, 12)}
    assert decoded.FinalizedFeaturesEpoch == answer.advertised.features_epoch
    assert [(f.Name, f.MaxVersionLevel) for f in decoded.FinalizedFeatures] == [("group.version", 1)]


def test_kip1242_request_naming_another_cluster_must_rebootstrap() -> None:
    answer = ApiVersionsAnswer("vc")
    answer.recompute([{18: (0, 5)}], [{}], [{}])
    request = schema.encode(api_versions.REQUEST, 5, schema.new(
        api_versions.REQUEST, 5, ClientSoftwareName="j", ClientSoftwareVersion="4.4", ClusterId="real-A", NodeId=1))
    _, body = answer.respond(5, request, 1)
    assert schema.decode(api_versions.RESPONSE, 5, body).ErrorCode == REBOOTSTRAP_REQUIRED
    ok = schema.encode(api_versions.REQUEST, 5, schema.new(
        api_versions.REQUEST, 5, ClientSoftwareName="j", ClientSoftwareVersion="4.4", ClusterId="vc", NodeId=1))
    _, body = answer.respond(5, ok, 1)
    assert schema.decode(api_versions.RESPONSE, 5, body).ErrorCode == 0
