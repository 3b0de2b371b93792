"""Passthrough logins: which user each relayed SASL exchange logged in as, once the broker said yes.

A passthrough listener relays SaslHandshake and SaslAuthenticate like any request (the proxy caps
SaslHandshake at v1, so every token is framed). This watcher sees those frames on their way:

    SaslHandshake request          a new exchange with this mechanism starts on the connection
    first SaslAuthenticate         its token names the user (`proxy.sasl.first_token`); only
                                   the name is kept, never the token
    SaslAuthenticate response      error != 0: the broker refused, forget the exchange;
                                   error == 0 on the mechanism's last round (PLAIN 1, SCRAM 2):
                                   the principal logged in, into `SeenPrincipals`

A SCRAM server-first answer also has error 0; only the answer to the client-final proves the
password, so counting waits for it. KIP-368 re-authentication is just another exchange. State is
per connection and only while an exchange runs; `forget` drops it when the connection closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol import schema
from protocol.errors import ProtocolError
from protocol.headers import RequestHeader, response_header_length
from protocol.messages import sasl_authenticate, sasl_handshake
from proxy.dataplane.correlation import Pending
from proxy.dataplane.seen_principals import SeenPrincipals
from proxy.sasl.first_token import ROUNDS, username_of_first_token

SASL_HANDSHAKE, SASL_AUTHENTICATE = sasl_handshake.API_KEY, sasl_authenticate.API_KEY
WATCHED_APIS = frozenset({SASL_HANDSHAKE, SASL_AUTHENTICATE})


@dataclass(slots=True)
class _Exchange:
    mechanism: str
    principal: str | None = None
    tokens: int = 0  # SaslAuthenticate requests sent in this exchange
    accepted: int = 0  # of their answers, those with error code 0


class PassthroughLogins:
    """Per connection (`client`), the SASL exchange under way; logins that succeed go to `seen`."""

    __slots__ = ("_exchanges", "seen")

    def __init__(self, seen: SeenPrincipals) -> None:
        self.seen = seen
        self._exchanges: dict[Any, _Exchange] = {}

    def on_request(self, client: Any, header: RequestHeader, frame: memoryview) -> None:
        """A SaslHandshake or SaslAuthenticate request on its way to the broker."""
        try:
            if header.api_key == SASL_HANDSHAKE:
                request = schema.decode(sasl_handshake.REQUEST, header.api_version, frame[header.header_length:])
                self._exchanges[client] = _Exchange(str(request.Mechanism))
            elif (exchange := self._exchanges.get(client)) is not None:
                if exchange.tokens == 0:
                    request = schema.decode(sasl_authenticate.REQUEST, header.api_version,
                                            frame[header.header_length:])
                    name = username_of_first_token(exchange.mechanism, bytes(request.AuthBytes))
                    exchange.principal = f"User:{name}" if name is not None else None
                exchange.tokens += 1
        except ProtocolError:  # the broker answers garbage itself; the exchange names no one
            self._exchanges.pop(client, None)

    def on_response(self, client: Any, entry: Pending) -> None:
        """The broker's answer to a SaslAuthenticate (`entry.api_key` is checked by the caller)."""
        exchange = self._exchanges.get(client)
        if exchange is None or exchange.principal is None or entry.answer is None:
            return
        error = _error_code(entry)
        if error != 0:
            del self._exchanges[client]
            return
        exchange.accepted += 1
        if exchange.accepted >= ROUNDS.get(exchange.mechanism, 0):
            del self._exchanges[client]
            self.seen.add(exchange.principal, exchange.mechanism)

    def forget(self, client: Any) -> None:
        self._exchanges.pop(client, None)

    def __len__(self) -> int:
        """Exchanges under way (tests check nothing is left behind)."""
        return len(self._exchanges)


def _error_code(entry: Pending) -> int | None:
    """The ErrorCode of a SaslAuthenticate response; None when it cannot be read."""
    assert entry.answer is not None
    frame = b"".join(entry.answer)[4:]  # past the size prefix: header, then the body
    try:
        offset = response_header_length(entry.api_key, entry.api_version, frame)
    except ProtocolError:
        return None
    if len(frame) < offset + 2:
        return None
    return int.from_bytes(frame[offset:offset + 2], "big", signed=True)
