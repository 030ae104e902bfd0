"""Logging: records go to stderr and, once a client is connected, to `window/logMessage`.
Never to stdout — stdout carries LSP frames and nothing else.

Secrets never reach a log line: every API key value Deskmate reads is registered here and
replaced by `***` in whatever a handler formats."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

_SECRETS: set[str] = set()


def register_secret(value: str) -> None:
    """Mask `value` in every log line from now on (API keys, tokens)."""
    if len(value) >= 8:
        _SECRETS.add(value)


def mask(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


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
