"""ClientLogin: the token sequence the proxy's own connections send, per mechanism."""

from __future__ import annotations

import pytest

from proxy.sasl import plain
from proxy.sasl.login import ClientLogin
from proxy.sasl.scram import SaslError, ScramServer, make_credential


def test_plain_login_is_one_token_then_done() -> None:
    login = ClientLogin("PLAIN", "kfp", "pw")
    assert plain.parse_token(login.first()) == ("kfp", "pw")
    assert login.respond(b"") is None


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_login_is_two_rounds_and_checks_the_server(mechanism: str) -> None:
    server = ScramServer(mechanism, {"kfp": make_credential(mechanism, "pw")}.get)
    login = ClientLogin(mechanism, "kfp", "pw")
    final = login.respond(server.first(login.first()))
    assert final is not None
    assert login.respond(server.final(final)) is None


def test_scram_login_refuses_a_server_final_that_proves_nothing() -> None:
    server = ScramServer("SCRAM-SHA-512", {"kfp": make_credential("SCRAM-SHA-512", "pw")}.get)
    login = ClientLogin("SCRAM-SHA-512", "kfp", "pw")
    login.respond(server.first(login.first()))
    with pytest.raises(SaslError):
        login.respond(b"v=AAAA")
