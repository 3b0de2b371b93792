"""What a terminating listener checks its clients against, read from its config at start.

A listener that terminates SASL has a credentials file (PLAIN, SCRAM), a JWKS file (OAUTHBEARER),
or both; each is read now, so a missing or malformed file stops the start (and `check-config`)
with the config path that names it, and re-read on change later by the login that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.log import proxy as log
from proxy.sasl.credentials import CredentialsFile, CredentialsUnreadable
from proxy.sasl.jwks import JwksFile, JwksUnreadable
from proxy.sasl.jwt_validator import TokenValidator
from proxy.sasl.settings import ListenerSasl


@dataclass(frozen=True, slots=True)
class ClientAuthenticators:
    """SCRAM entries for PLAIN and SCRAM, a token validator for OAUTHBEARER; None where not enabled."""

    credentials: CredentialsFile | None = None
    tokens: TokenValidator | None = None

    def refresh(self) -> None:
        """Take a changed file before a login (one stat each); a bad new file keeps the old contents
        and is logged once, when it is read (the message names the file and the fault, no secret)."""
        for watched in (self.credentials, self.tokens.jwks if self.tokens is not None else None):
            if watched is not None and watched.changed() and not watched.refresh():
                log.warning("kept the previous contents of a changed file: %s", watched.reload_error)


def listener_authenticators(sasl: ListenerSasl | None, error: type[Exception]) -> ClientAuthenticators | None:
    """A terminating listener's files, read now; None when the listener does not terminate.
    A bad file raises `error(path, message)`, the config's ConfigError (kept out of these imports)."""
    if sasl is None or not sasl.terminates:
        return None
    credentials = tokens = None
    if sasl.credentials_file is not None:
        try:
            credentials = CredentialsFile(sasl.credentials_file)
        except CredentialsUnreadable as exc:
            raise error("listeners.sasl.credentials_file", str(exc)) from None
    if sasl.oauthbearer is not None:
        try:
            tokens = TokenValidator(sasl.oauthbearer, JwksFile(sasl.oauthbearer.jwks_file))
        except JwksUnreadable as exc:
            raise error("listeners.sasl.oauthbearer.jwks_file", str(exc)) from None
    return ClientAuthenticators(credentials, tokens)
