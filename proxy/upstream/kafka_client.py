"""A minimal asyncio Kafka client for the proxy's own requests (monitoring, switch checks).

The proxy must talk to clusters itself: to learn brokers and API versions, and during a switch to
read end offsets, open transactions, MM2 progress and group offsets. Runtime dependencies stay
small, so this speaks the wire protocol through our own codecs instead of pulling in a client
library. One connection, pipelined requests, versions chosen from the broker's ApiVersions.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import struct
from types import ModuleType
from typing import Any

import construct as cs

from protocol import schema
from protocol.headers import encode_request_header, response_header_length
from protocol.messages import api_versions, sasl_authenticate, sasl_handshake
from proxy.sasl.login import ClientLogin
from proxy.sasl.scram import SaslError
from proxy.sasl.settings import SaslLogin, SecretUnavailable
from proxy.security.upstream import PLAINTEXT, UpstreamSecurity

_SIZE = struct.Struct(">i")


class KafkaClientError(Exception):
    """A request of the proxy's own could not be completed (connection, timeout, protocol)."""


class KafkaConnection:
    """One connection to one broker."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client_id: str) -> None:
        self._reader = reader
        self._writer = writer
        self._client_id = client_id
        self._ids = itertools.count(1)
        self._waiting: dict[int, tuple[asyncio.Future[bytes], int, int]] = {}
        self._lock = asyncio.Lock()
        self.versions: dict[int, tuple[int, int]] = {}
        self.api_versions_response: cs.Container | None = None
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop(), name="kafka-client-read")

    @classmethod
    async def open(cls, host: str, port: int, client_id: str = "kafka-failover-proxy", timeout_s: float = 5.0,
                   security: UpstreamSecurity = PLAINTEXT) -> KafkaConnection:
        """Connected (TLS first when the cluster has it), versions agreed and, with SASL, logged in with
        the cluster's service login: everything `security` says about the cluster."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=security.ssl, server_hostname=host if security.ssl else None),
                timeout_s)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise KafkaClientError(f"cannot connect to {host}:{port}: {exc}") from exc
        conn = cls(reader, writer, client_id)
        try:
            await conn._handshake(timeout_s)
            if security.sasl is not None:
                await conn._login(security.sasl, timeout_s)
        except BaseException:
            await conn.close()
            raise
        return conn

    @property
    def closed(self) -> bool:
        """The read loop has ended: the broker closed the connection or it failed."""
        return self._reader_task.done()

    async def _handshake(self, timeout_s: float) -> None:
        response = await self.request(api_versions, 3, {"ClientSoftwareName": "kfp", "ClientSoftwareVersion": "0"},
                                      timeout_s=timeout_s)
        if response.ErrorCode != 0:
            raise KafkaClientError(f"ApiVersions failed with error {response.ErrorCode}")
        self.api_versions_response = response
        self.versions = {k.ApiKey: (k.MinVersion, k.MaxVersion) for k in response.ApiKeys}

    async def _login(self, sasl: SaslLogin, timeout_s: float) -> None:
        """SaslHandshake v1, then SaslAuthenticate rounds; errors name the user, never the password."""
        where = f"SASL {sasl.mechanism} login as {sasl.username!r}"
        try:
            login = ClientLogin(sasl.mechanism, sasl.username, sasl.password())
        except SecretUnavailable as exc:
            raise KafkaClientError(f"{where}: {exc}") from None
        handshake = await self.request(sasl_handshake, 1, {"Mechanism": sasl.mechanism}, timeout_s=timeout_s)
        if handshake.ErrorCode != 0:
            raise KafkaClientError(f"{where}: SaslHandshake error {handshake.ErrorCode} (broker enables "
                                   f"{list(handshake.Mechanisms)})")
        version = self.pick_version(sasl_authenticate)
        token: bytes | None = login.first()
        try:
            while token is not None:
                answer = await self.request(sasl_authenticate, version, {"AuthBytes": token}, timeout_s=timeout_s)
                if answer.ErrorCode != 0:
                    raise KafkaClientError(f"{where}: error {answer.ErrorCode}: {answer.ErrorMessage}")
                token = login.respond(bytes(answer.AuthBytes))
        except SaslError as exc:
            raise KafkaClientError(f"{where}: {exc}") from None

    def pick_version(self, module: ModuleType, highest: int | None = None) -> int:
        """The newest version both this broker and our codec speak (capped at `highest`)."""
        ours_low, ours_high = module.REQUEST.version_range
        theirs = self.versions.get(module.API_KEY)
        if theirs is None:
            raise KafkaClientError(f"broker does not support api {module.API_KEY}")
        top: int = min(ours_high, theirs[1], highest if highest is not None else ours_high)
        if top < max(ours_low, theirs[0]):
            raise KafkaClientError(f"no common version for api {module.API_KEY}")
        return top

    async def request(self, module: ModuleType, version: int, body: Any, timeout_s: float = 10.0
                      ) -> cs.Container:
        """Send one request and wait at most `timeout_s` for its answer.

        On a connection whose reader has ended (the broker closed it, e.g. after its
        connections.max.idle.ms) it fails at once: nothing could ever answer, and waiting out the
        timeout on every kept connection ate the switch's catch-up time.
        """
        api_key: int = module.API_KEY
        if self.closed:
            raise KafkaClientError(f"api {api_key}: connection already closed")
        correlation_id = next(self._ids)
        payload = encode_request_header(api_key, version, correlation_id, self._client_id)
        payload += schema.encode(module.REQUEST, version, body)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[correlation_id] = (future, api_key, version)
        self._writer.write(_SIZE.pack(len(payload)) + payload)
        try:
            frame = await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:
            raise KafkaClientError(f"api {api_key} v{version} timed out") from exc
        finally:
            self._waiting.pop(correlation_id, None)
        offset = response_header_length(api_key, version, frame)
        return schema.decode(module.RESPONSE, version, memoryview(frame)[offset:])

    async def _read_loop(self) -> None:
        try:
            while True:
                size = _SIZE.unpack(await self._reader.readexactly(4))[0]
                frame = await self._reader.readexactly(size)
                correlation_id = _SIZE.unpack_from(frame)[0]
                waiting = self._waiting.get(correlation_id)
                if waiting is not None and not waiting[0].done():
                    waiting[0].set_result(frame)
        except (asyncio.IncompleteReadError, OSError, ValueError, asyncio.CancelledError) as exc:
            for future, _key, _version in self._waiting.values():
                if not future.done():
                    future.set_exception(KafkaClientError(f"connection lost: {exc!r}"))
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def close(self) -> None:
        self._reader_task.cancel()
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
