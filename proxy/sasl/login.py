"""A client login as a sequence of SaslAuthenticate tokens, for any of the client mechanisms.

The I/O side sends `first()`, then for each server token `respond(token)`, sending what it returns
until it returns None (the exchange is complete and the server verified where the mechanism can).
"""

from __future__ import annotations

from proxy.sasl import plain
from proxy.sasl.scram import ScramClient


class ClientLogin:
    def __init__(self, mechanism: str, username: str, password: str) -> None:
        self.mechanism = mechanism
        self._plain = plain.client_token(username, password) if mechanism == "PLAIN" else None
        self._scram = None if mechanism == "PLAIN" else ScramClient(mechanism, username, password)
        self._round = 0

    def first(self) -> bytes:
        if self._scram is None:
            assert self._plain is not None
            return self._plain
        return self._scram.first()

    def respond(self, server_token: bytes) -> bytes | None:
        """The next token, or None when done; SaslError when the server's answer is wrong."""
        self._round += 1
        if self._scram is None:
            return None
        if self._round == 1:
            return self._scram.final(server_token)
        self._scram.verify(server_token)
        return None
