"""The user a passthrough client logs in as, read from its first token; never a secret, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.sasl import plain
from proxy.sasl.first_token import username_of_first_token
from proxy.sasl.scram import ScramClient

NAMED = [
    ("PLAIN", b"\0alice\0alice-secret", "alice"),
    ("PLAIN", b"admin\0alice\0alice-secret", "admin"),  # the authzid is who the broker authorizes
    ("PLAIN", b"\0alice\0pass\0with\0nuls", "alice"),  # the password part is never split further
    ("SCRAM-SHA-256", b"n,,n=alice,r=abc123", "alice"),
    ("SCRAM-SHA-512", b"n,,n=bob,r=abc123", "bob"),
    ("SCRAM-SHA-256", b"n,a=admin,n=alice,r=abc", "admin"),
    ("SCRAM-SHA-256", b"n,,n=a=2Cb=3Dc,r=abc", "a,b=c"),  # RFC 5802 escapes undone
    ("SCRAM-SHA-256", b"y,,n=carol,r=abc", "carol"),
    ("SCRAM-SHA-256", b"n,,n=carol,r=abc,ext=tokenauth", "carol"),
]


@pytest.mark.parametrize(("mechanism", "token", "user"), NAMED)
def test_the_first_token_names_the_user(mechanism: str, token: bytes, user: str) -> None:
    assert username_of_first_token(mechanism, token) == user


def test_the_tokens_real_clients_send_name_their_user() -> None:
    assert username_of_first_token("PLAIN", plain.client_token("dave", "s3cret")) == "dave"
    first = ScramClient("SCRAM-SHA-512", "e,ve=", "s3cret").first()
    assert username_of_first_token("SCRAM-SHA-512", first) == "e,ve="


MALFORMED = [
    ("PLAIN", b""),
    ("PLAIN", b"alice"),
    ("PLAIN", b"\0alice"),  # no password part: not a PLAIN token
    ("PLAIN", b"\0\0secret"),  # no name at all
    ("PLAIN", b"\0\xff\xfe\0secret"),  # not UTF-8
    ("PLAIN", b"\0al\nice\0secret"),  # a control character is no principal
    ("PLAIN", b"\0" + b"x" * 2000 + b"\0secret"),
    ("SCRAM-SHA-256", b""),
    ("SCRAM-SHA-256", b"n=alice,r=abc"),  # no gs2 header
    ("SCRAM-SHA-256", b"n,,r=abc,n=alice"),  # the user must come first
    ("SCRAM-SHA-256", b"n,x=admin,n=alice,r=abc"),
    ("SCRAM-SHA-256", b"n,,n=,r=abc"),
    ("SCRAM-SHA-256", b"n,,n=a=b,r=abc"),  # a bare '=' is no escape
    ("SCRAM-SHA-256", b"n,,n=\xff,r=abc"),
    ("SCRAM-SHA-256", b"q,,n=alice,r=abc"),
    ("OAUTHBEARER", b"n,,\x01auth=Bearer eyJ...\x01\x01"),  # the identity sits in the token: left out
    ("GSSAPI", b"\x60\x82"),
]


@pytest.mark.parametrize(("mechanism", "token"), MALFORMED)
def test_a_malformed_or_opaque_token_names_no_one(mechanism: str, token: bytes) -> None:
    assert username_of_first_token(mechanism, token) is None


@given(st.sampled_from(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]), st.binary(max_size=200))
def test_any_bytes_give_a_name_or_none_and_never_raise(mechanism: str, token: bytes) -> None:
    name = username_of_first_token(mechanism, token)
    assert name is None or (name and name.isprintable())


@given(st.text(min_size=1, max_size=40).filter(str.isprintable), st.text(max_size=40))
def test_a_plain_token_gives_back_exactly_its_user_whatever_the_password(user: str, password: str) -> None:
    assert username_of_first_token("PLAIN", f"\0{user}\0{password}".encode()) == user
