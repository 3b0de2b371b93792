"""The harness's security settings: broker listeners per spec, MM2's SASL_SSL client settings, and
reading back what MM2's clients were configured with."""

from __future__ import annotations

from pathlib import Path

from harness.cluster import BrokerTls, ClusterSpec, Node, server_properties
from harness.mirror import client_configs, scram_over_tls

USERS = {"alice": "a-pw"}
VOTERS = "1@127.0.0.1:9001"


def broker_tls(directory: Path) -> BrokerTls:
    """Stand-in PEM files: the properties inline their text, nothing parses it here."""
    for name in ("broker.pem", "broker.key", "ca.pem"):
        (directory / name).write_text(f"-----{name}-----\n")
    return BrokerTls(directory / "broker.pem", directory / "broker.key", directory / "ca.pem")


def test_sasl_users_and_tls_give_a_sasl_ssl_listener_next_to_the_others(tmp_path: Path) -> None:
    node = Node(1, 9000, 9001, tmp_path, sasl_port=9002, ssl_port=9003, sasl_ssl_port=9004)
    settings = server_properties(ClusterSpec("x", (1,), {}, USERS, broker_tls(tmp_path)), node, VOTERS)
    assert settings["listeners"] == ("PLAINTEXT://127.0.0.1:9000,SASL_PLAINTEXT://127.0.0.1:9002,"
                                     "SSL://127.0.0.1:9003,SASL_SSL://127.0.0.1:9004,CONTROLLER://127.0.0.1:9001")
    assert "CONTROLLER" not in settings["advertised.listeners"]
    assert settings["listener.security.protocol.map"] == \
        "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL"
    for listener in ("sasl_plaintext", "sasl_ssl"):
        assert "ScramLoginModule" in settings[f"listener.name.{listener}.scram-sha-512.sasl.jaas.config"]
        assert 'user_alice="a-pw"' in settings[f"listener.name.{listener}.plain.sasl.jaas.config"]
    assert settings["inter.broker.listener.name"] == "PLAINTEXT"
    assert settings["ssl.truststore.certificates"] == "-----ca.pem-----"


def test_without_tls_there_is_no_ssl_listener() -> None:
    node = Node(1, 9000, 9001, Path("/nonexistent"), sasl_port=9002)
    settings = server_properties(ClusterSpec("x", (1,), {}, USERS), node, VOTERS)
    assert settings["listeners"] == \
        "PLAINTEXT://127.0.0.1:9000,SASL_PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9001"
    assert "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config" not in settings


def test_mirror_maker_scram_over_tls_settings_are_per_cluster_alias() -> None:
    settings = scram_over_tls("B", "127.0.0.1:9004", "kfp", "k-pw", Path("/ca.pem"))
    assert settings["B.bootstrap.servers"] == "127.0.0.1:9004"
    assert settings["B.security.protocol"] == "SASL_SSL"
    assert settings["B.sasl.jaas.config"].endswith('username="kfp" password="k-pw";')
    assert (settings["B.ssl.truststore.type"], settings["B.ssl.truststore.location"]) == ("PEM", "/ca.pem")
    assert all(key.startswith("B.") for key in settings)


MM2_LOG = """\
[2026-12-02 01:23:35,061] INFO MirrorSourceConfig values:\x20
\tsecurity.protocol = PLAINTEXT
[2026-12-02 01:23:35,062] INFO ProducerConfig values:\x20
\tbootstrap.servers = [127.0.0.1:9004]
\tclient.id =\x20
\tsecurity.protocol = SASL_SSL
[2026-12-02 01:23:35,063] INFO These configurations '[x]' were supplied but are not used yet.
\tnot.a.config = 1
[2026-12-02 01:23:35,064] INFO AdminClientConfig values:\x20
\tsecurity.protocol = SASL_SSL
"""


def test_client_configs_reads_only_the_clients_blocks_of_the_mm2_log() -> None:
    assert client_configs(MM2_LOG) == [
        {"kind": "ProducerConfig", "bootstrap.servers": "[127.0.0.1:9004]", "client.id": "",
         "security.protocol": "SASL_SSL"},
        {"kind": "AdminClientConfig", "security.protocol": "SASL_SSL"},
    ]
