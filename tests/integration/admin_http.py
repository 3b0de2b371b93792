"""The proxy's admin API as an operator's curl calls it: JSON in and out, a bearer token, the status kept."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def admin_call(admin_url: str, path: str, body: dict[str, Any] | None = None, token: str | None = None,
               timeout_s: float = 60) -> tuple[int, Any]:
    """(HTTP status, decoded JSON answer): a GET without `body`, a POST with it; errors are answers too."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{admin_url}{path}", method="GET" if body is None else "POST",
                                     data=None if body is None else json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
