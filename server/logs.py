"""Logging: records go to stderr and, once a client is connected, to `window/logMessage`.
Never to stdout — stdout carries LSP frames and nothing else.

Secrets never reach a log line: every API key value Deskmate reads is registered here and
replaced by `***` in whatever a handler formats, and so is every credential a URL carries —
the password of `scheme://user:password@host`, and the value of a query parameter whose name
says it is a secret (`?key=`, `access_token=`, `sig=`, …) — whoever wrote the line (Deskmate,
httpx at -vvv, an exception's message)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable

from deskmate.context.redact import secret_name

_SECRETS: set[str] = set()

_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:?#]*:)[^\s/@?#]+@")
_QUERY_VALUE = re.compile(r"(?P<head>[?&;](?P<name>[A-Za-z0-9_.\-\[\]]{1,64})=)"
                          r"(?P<value>[^&;#\s\"'<>]+)")
# Query parameters that carry credentials under names that are not secret words in code.
_SECRET_PARAMS = frozenset({
    "key", "apikey", "api-key", "code", "sig", "signature", "auth", "authorization",
    "credential", "pass", "pwd", "session", "sessionid", "jwt", "x-amz-signature",
    "x-amz-credential", "x-amz-security-token", "x-goog-signature", "x-goog-credential",
})


def register_secret(value: str) -> None:
    """Mask `value` in every log line from now on (API keys, tokens)."""
    if len(value) >= 8:
        _SECRETS.add(value)


def mask(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    if "://" in text:
        text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    if "=" in text:
        text = _QUERY_VALUE.sub(_mask_query_value, text)
    return text


def _mask_query_value(match: re.Match[str]) -> str:
    name = match.group("name").lower()
    if name in _SECRET_PARAMS or secret_name(name):
        return match.group("head") + "***"
    return match.group(0)


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class ClientLogHandler(logging.Handler):
    """Forwards records to the editor through `send(level, message)`."""

    def __init__(self, send: Callable[[int, str], None]) -> None:
        super().__init__(level=logging.INFO)
        self._send = send
        self.setFormatter(MaskingFormatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send(record.levelno, self.format(record))
        except Exception:  # a log line must never take the server down
            self.handleError(record)


def setup(verbosity: int) -> None:
    """stderr shows warnings; -v adds info, -vv debug, -vvv the libraries' debug too.

    Deskmate's own info records are always produced: the editor's log shows them."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("deskmate").setLevel(min(level, logging.INFO))
    # httpx at INFO would log every request URL; pygls at INFO logs whole initialize params.
    for name in ("pygls", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 3 else logging.WARNING)
