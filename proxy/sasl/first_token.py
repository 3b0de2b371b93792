"""Who a passthrough client logs in as, read from its first SASL token, without keeping any secret.

On a passthrough listener the broker checks the password; the proxy only relays the tokens. The
governance gate still wants to know which principals clients use through the proxy (issue 12,
item 6), so the first SaslAuthenticate token of an exchange is read for its user name and nothing
else:

    PLAIN          authzid NUL authcid NUL password (RFC 4616): the authzid when one is given (the
                   identity the broker authorizes), else the authcid. The password is never
                   decoded: the token is split and only the name parts are turned into text.
    SCRAM-SHA-*    client-first `n,[a=authzid],n=user,r=nonce` (RFC 5802): the authzid when given,
                   else the user, with `=2C` and `=3D` unescaped. The message carries no secret.
    anything else  (OAUTHBEARER, GSSAPI) no name: the identity sits in a token only the broker checks.

A malformed token gives no name and never raises: the broker will refuse it anyway, and a
client's garbage must not disturb the relay. The name counts only once the broker accepted the
whole exchange (`proxy.dataplane.passthrough_logins`).
"""

from __future__ import annotations

SCRAM_MECHANISMS = frozenset({"SCRAM-SHA-256", "SCRAM-SHA-512"})
ROUNDS = {"PLAIN": 1, "SCRAM-SHA-256": 2, "SCRAM-SHA-512": 2}
"""Client tokens until a mechanism's exchange is complete: the answer to the last one says yes or no."""
MAX_NAME_BYTES = 1024  # a longer "user name" is garbage, not a principal to remember


def username_of_first_token(mechanism: str, token: bytes) -> str | None:
    """The user the client asks to be, or None when the mechanism hides it or the token is malformed."""
    if mechanism == "PLAIN":
        return _plain_username(token)
    if mechanism in SCRAM_MECHANISMS:
        return _scram_username(token)
    return None


def _plain_username(token: bytes) -> str | None:
    parts = token.split(b"\0", 2)  # the password (third part) stays bytes and is dropped at once
    if len(parts) != 3:
        return None
    authzid, authcid = parts[0], parts[1]
    return _name(authzid or authcid)


def _scram_username(token: bytes) -> str | None:
    try:
        message = token.decode("utf-8")
    except UnicodeDecodeError:
        return None
    gs2_flag, sep, rest = message.partition(",")
    if not sep or (gs2_flag not in ("n", "y") and not gs2_flag.startswith("p=")):
        return None
    authzid_field, sep, bare = rest.partition(",")
    if not sep or (authzid_field and not authzid_field.startswith("a=")):
        return None
    user_field = bare.split(",", 1)[0]
    if not user_field.startswith("n="):
        return None
    name = authzid_field[2:] or user_field[2:]
    if "=" in name.replace("=2C", "").replace("=3D", ""):
        return None  # an '=' that is no escape: RFC 5802 forbids it, the broker refuses it
    return _name(name.replace("=2C", ",").replace("=3D", "=").encode("utf-8"))


def _name(raw: bytes) -> str | None:
    if not raw or len(raw) > MAX_NAME_BYTES:
        return None
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return name if name.isprintable() else None
