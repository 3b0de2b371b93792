"""Typed protocol errors, split by whose fault they are.

The asyncio layer catches only `ProtocolError`: a `RemoteProtocolError` means the peer sent bytes we
cannot accept (close that one connection, count it, keep serving everyone else); a
`LocalProtocolError` means we asked the codec for something it cannot do (our bug). Anything else
escaping a codec is a crash and is logged as one.
"""


class ProtocolError(Exception):
    """Base of every error the codecs raise on purpose."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something that is not valid Kafka protocol."""


class DecodeError(RemoteProtocolError):
    """A frame, header or message body could not be decoded."""


class FrameTooLarge(RemoteProtocolError):
    """A frame's size prefix exceeds the configured maximum (or is negative)."""

    def __init__(self, size: int, limit: int) -> None:
        hint = " (looks like TLS: a TLS client on a plaintext port?)" if looks_like_tls(size) else ""
        super().__init__(f"frame size {size} outside 0..{limit}{hint}")
        self.size = size
        self.limit = limit


class UnsupportedVersion(RemoteProtocolError):
    """A message version this codec does not know (the peer chose it, so it is the peer's problem)."""

    def __init__(self, what: str, version: int) -> None:
        super().__init__(f"{what} v{version} is not supported")
        self.what = what
        self.version = version


class LocalProtocolError(ProtocolError):
    """We tried to encode something invalid: a bug on our side, never the peer's."""


def looks_like_tls(size_prefix: int) -> bool:
    """A size prefix that is really a TLS record header: content type 20..23, then major version 3."""
    return 0x14 <= (size_prefix >> 24) <= 0x17 and (size_prefix >> 16) & 0xFF == 3
