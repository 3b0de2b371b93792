"""Our codecs against kio, a codec generated from Kafka's official schemas by other people.

For every API and every version both kio and we know: random kio entities (hypothesis builds them
from kio's dataclasses) are serialized by kio, decoded by us, re-encoded byte-exact, and every
decoded value is compared with kio's, field by field, recursively. Two independent codecs agreeing
on bytes and on meaning catches swapped or misnamed fields the byte round trip alone would not.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import importlib
import io
import pkgutil
import re
import uuid
from types import ModuleType
from typing import Any

import construct as cs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import Records

from protocol.messages import MESSAGES
from protocol.primitives import ZERO_UUID
from protocol.schema import UNKNOWN_TAGS, MessageSpec, decode, encode, new

NOT_SERVED_BY_44 = {("init_producer_id", 6)}  # kio knows v6; 4.4 marks it unstable
KIO_OLD_NAMES = {"generation_id": "generation_id_or_member_epoch"}  # kio's TxnOffsetCommit predates KIP-848

st.register_type_strategy(Records, st.binary(max_size=16))  # kio registers no strategy for records


def _short(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[1]


def _kio_versions(module: ModuleType) -> list[int]:
    package = importlib.import_module(f"kio.schema.{_short(module)}")
    return sorted(int(info.name[1:]) for info in pkgutil.iter_modules(package.__path__) if info.name[1:].isdigit())


def _kio_class(module: ModuleType, version: int, spec: MessageSpec) -> type:
    kind = "request" if spec is module.REQUEST else "response"
    kio_module = importlib.import_module(f"kio.schema.{_short(module)}.v{version}.{kind}")
    return getattr(kio_module, spec.name)  # type: ignore[no-any-return]


def _in_range(spec: MessageSpec, version: int) -> bool:
    return spec.version_range[0] <= version <= spec.version_range[1]


MODULES = sorted(MESSAGES.values(), key=lambda module: module.__name__)
CASES = [
    pytest.param(module, spec, version, id=f"{spec.name}-v{version}")
    for module in MODULES
    for version in _kio_versions(module)
    for spec in (module.REQUEST, module.RESPONSE)
    if _in_range(spec, version)
]


def test_every_version_kio_knows_is_covered_unless_a_44_broker_does_not_serve_it() -> None:
    beyond = {(_short(m), v) for m in MODULES for v in _kio_versions(m) if not _in_range(m.REQUEST, v)}
    assert beyond == NOT_SERVED_BY_44
    assert len(CASES) > 250


@pytest.mark.parametrize(("module", "spec", "version"), CASES)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_kio_bytes_decode_to_the_same_values_and_re_encode_exactly(
    module: ModuleType, spec: MessageSpec, version: int, data: st.DataObject
) -> None:
    kio_type = _kio_class(module, version, spec)
    entity = data.draw(st.from_type(kio_type))
    buffer = io.BytesIO()
    entity_writer(kio_type)(buffer, entity)
    wire = buffer.getvalue()
    ours = decode(spec, version, wire)
    assert encode(spec, version, ours) == wire
    assert_same(ours, entity, spec.name)


@pytest.mark.parametrize(("module", "spec", "version"), CASES)
def test_kio_reads_what_we_encode_from_defaults(module: ModuleType, spec: MessageSpec, version: int) -> None:
    kio_type = _kio_class(module, version, spec)
    wire = encode(spec, version, new(spec, version))
    entity: Any
    entity, size = entity_reader(kio_type)(wire, 0)
    assert size == len(wire)
    assert_same(decode(spec, version, wire), entity, spec.name)


def assert_same(ours: cs.Container, theirs: Any, path: str) -> None:
    """Every field of the kio entity equals ours (kio's names are snake_case, some without `_ms`)."""
    keys = {_snake(key): key for key in ours if key != UNKNOWN_TAGS}
    kio_fields = dataclasses.fields(theirs)
    assert len(kio_fields) == len(keys), path
    for f in kio_fields:
        key = keys.get(f.name) or keys.get(KIO_OLD_NAMES.get(f.name, "")) or keys[f.name + "_ms"]
        mine, value = ours[key], getattr(theirs, f.name)
        if mine is None and "tag" in f.metadata:
            assert value == _default(f), f"{path}.{key}: absent tag but kio holds {value!r}"
        else:
            _assert_value(mine, value, f"{path}.{key}")


def _assert_value(mine: Any, value: Any, path: str) -> None:
    if dataclasses.is_dataclass(value):
        assert mine is not None, path
        assert_same(mine, value, path)
    elif isinstance(value, tuple):
        assert len(mine) == len(value), path
        for index, (a, b) in enumerate(zip(mine, value, strict=True)):
            _assert_value(a, b, f"{path}[{index}]")
    else:
        assert mine == _wire_value(value, mine), f"{path}: ours {mine!r}, kio {value!r}"


def _wire_value(value: Any, mine: Any) -> Any:
    """kio's Python value as the number, string or bytes on the wire."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.timedelta):
        return round(value.total_seconds() * 1000)
    if isinstance(value, datetime.datetime):
        return round(value.timestamp() * 1000)
    if value is None and isinstance(mine, uuid.UUID):
        return ZERO_UUID
    if value is None and isinstance(mine, int):
        return -1  # a null timestamp
    return value


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    assert f.default_factory is not dataclasses.MISSING, f.name
    return f.default_factory()


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
