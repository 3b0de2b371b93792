"""The wire side of moving a transaction version 2 producer onto the active cluster's producer id.

`proxy.switch.machine.producer_ids` decides that a stale producer's EndTxn abort is sent as
InitProducerId (why: see there). This module builds that request from the EndTxn frame and turns
the InitProducerId answer into the EndTxn answer the client waits for. Both requests are flexible
(EndTxn v5, InitProducerId v4: request header v2, response header v1), so the header bytes after the
api key and version, correlation id and client id included, stay as the client sent them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from protocol import schema
from protocol.errors import ProtocolError
from protocol.headers import RequestHeader, response_header_length
from protocol.messages import end_txn, init_producer_id
from proxy.log import switch as log

REINITIALISE_VERSION = 4
COORDINATOR_NOT_AVAILABLE = 15
_KEY_AND_VERSION = struct.Struct(">hh")
_INT32 = struct.Struct(">i")


@dataclass(frozen=True, slots=True)
class Reinitialised:
    """The EndTxn answer for the client, and what the active cluster said."""

    answer: list[bytes | memoryview]
    error_code: int
    producer_id: int


def init_producer_id_frame(header: RequestHeader, frame: memoryview, transactional_id: str, timeout_ms: int
                           ) -> bytes:
    """The EndTxn `frame` (header first) as InitProducerId(transactional id, -1, -1) under the same header."""
    init = schema.new(init_producer_id.REQUEST, REINITIALISE_VERSION, TransactionalId=transactional_id,
                      TransactionTimeoutMs=timeout_ms, ProducerId=-1, ProducerEpoch=-1)
    return (_KEY_AND_VERSION.pack(init_producer_id.API_KEY, REINITIALISE_VERSION)
            + bytes(frame[_KEY_AND_VERSION.size:header.header_length])
            + schema.encode(init_producer_id.REQUEST, REINITIALISE_VERSION, init))


def end_txn_answer(framed: bytes, end_txn_version: int) -> Reinitialised:
    """The InitProducerId answer `framed` (size, header, body) as the EndTxn answer at `end_txn_version`.

    Its error code passes unchanged (the retriable ones make the client resend the EndTxn); an answer
    that cannot be read becomes COORDINATOR_NOT_AVAILABLE, which the client retries: an abortable
    error on an abort is fatal in kafka-clients 4.4.
    """
    header_end = _INT32.size + response_header_length(init_producer_id.API_KEY, REINITIALISE_VERSION,
                                                      memoryview(framed)[_INT32.size:])
    init: Any = None
    try:
        init = schema.decode(init_producer_id.RESPONSE, REINITIALISE_VERSION, memoryview(framed)[header_end:])
    except ProtocolError as exc:
        log.warning("an InitProducerId answer sent for an EndTxn could not be read: %s", exc)
    code = COORDINATOR_NOT_AVAILABLE if init is None else int(init.ErrorCode)
    producer_id, epoch = (int(init.ProducerId), int(init.ProducerEpoch)) if code == 0 else (-1, -1)
    answer = schema.new(end_txn.RESPONSE, end_txn_version, ThrottleTimeMs=0 if init is None else init.ThrottleTimeMs,
                        ErrorCode=code, ProducerId=producer_id, ProducerEpoch=epoch)
    payload = framed[_INT32.size:header_end] + schema.encode(end_txn.RESPONSE, end_txn_version, answer)
    return Reinitialised([_INT32.pack(len(payload)), payload], code, producer_id)
