"""`deskmate serve --tcp HOST:PORT`: one LSP session per connection, on loopback only, for
clients that present the run's token.

pygls' TCP server shared one session between every connection: a second local connection
read the first editor's documents and answers, and could re-initialize the session to send
code and an environment variable (as a Bearer key) to a server of its choosing; an HTTP POST
(curl, or a page in a browser) was read as frames; a connection that closed ended the server.

Now:
- the listener binds a loopback address only (`listen_address` refuses any other);
- the first frame of a connection must be the `initialize` request carrying the run's token
  as `initializationOptions.token`. Any LSP client can send that from its configuration, no
  plugin code needed. The token is compared in constant time and removed before the session
  sees its options. Anything else (no token, a wrong one, another message first, a first
  frame over `MAX_FIRST_FRAME`, nothing within `AUTH_TIMEOUT_S`) closes the connection, after
  one error answer when it was a request;
- until then every line must be an LSP header: an HTTP request line (`POST / HTTP/1.1`,
  `GET …`) or header (`Host:`, `Origin:`) closes the connection at once, unanswered;
- each connection gets a server and session of its own; closing it, or `exit`, ends that
  session only, never the others or the listener."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import itertools
import json
import logging
import os
import re
import secrets
import socket
import stat
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol

from deskmate.server import logs
from deskmate.server.errors import DeskmateError
from deskmate.server.lsp import transport

log = logging.getLogger(__name__)

# The connection the running code serves (None: stdio, or no connection): log lines go to
# that connection's editor only.
CONNECTION: ContextVar[int | None] = ContextVar("deskmate_connection", default=None)
AUTH_TIMEOUT_S = 5.0  # editors send initialize as soon as they connect
MAX_FIRST_FRAME = 1 << 20
TOKEN_OPTION = "token"
_TOKEN_SHAPE = re.compile(r"[!-~]{16,4096}")  # printable ASCII, no spaces
ASK_TOKEN = ("Deskmate: this server needs its token, sent in the initialize request as "
             "initializationOptions.token (printed when `deskmate serve --tcp` started, or "
             "the contents of its --token-file)")


class Connection(Protocol):
    """What a connection needs of its server (`server.DeskmateServer`)."""

    protocol: Any

    async def close_connection(self) -> None: ...


def listen_address(spec: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:PORT` for IPv6) → the loopback address to bind and the port."""
    host, _, port = spec.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise DeskmateError(f"--tcp wants HOST:PORT, e.g. 127.0.0.1:2087; got {spec!r}")
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        addresses = [ipaddress.ip_address(name)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise DeskmateError(f"--tcp {spec}: cannot resolve {name!r} ({exc}); use "
                                "127.0.0.1") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos]
    if not addresses or not all(a.is_loopback for a in addresses):
        raise DeskmateError(
            f"--tcp {spec}: Deskmate listens on loopback only (127.0.0.1, ::1 or localhost), "
            "so that no other machine can reach your code; for an editor on another machine, "
            "forward the port over SSH")
    return str(addresses[0]), int(port)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def read_token_file(path: Path) -> str:
    """The token in `path`: a file only its owner can read, holding 16 or more printable
    ASCII characters (surrounding whitespace is ignored)."""
    try:
        with path.open("rb") as file:
            info = os.fstat(file.fileno())
            raw = file.read(8192)
    except OSError as exc:
        raise DeskmateError(f"--token-file {path}: cannot read it ({exc.strerror or exc})"
                            ) from None
    if os.name == "posix" and stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
        raise DeskmateError(f"--token-file {path}: other users can read it; run "
                            f"`chmod 600 {path}`")
    token = raw.decode("ascii", "replace").strip()
    if _TOKEN_SHAPE.fullmatch(token) is None:
        raise DeskmateError(
            f"--token-file {path}: the token must be 16 to 4096 printable ASCII characters "
            "without spaces, e.g. the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    return token


def run(factory: Callable[[], Connection], address: str, port: int, *, token: str,
        token_file: Path | None = None) -> None:
    """Listen on `address:port` until interrupted. The line saying where (and the token,
    unless it came from `token_file`) is printed once on stderr."""
    logs.register_secret(token)  # never in a log line, at any verbosity
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(_listen(factory, address, port, token, token_file))


async def _listen(factory: Callable[[], Connection], address: str, port: int, token: str,
                  token_file: Path | None) -> None:
    ids = itertools.count(1)

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        CONNECTION.set(next(ids))  # this task's context, inherited by all it starts
        try:
            await _connection(factory, reader, writer, token)
        except ConnectionError as exc:  # the client went away without closing
            log.info("a connection broke: %s", exc)
        except Exception:  # one connection's trouble never ends the listener
            log.exception("a connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    try:
        server = await asyncio.start_server(accept, address, port)
    except OSError as exc:
        raise DeskmateError(f"--tcp: cannot listen on {address}:{port} ({exc.strerror or exc})"
                            ) from None
    host, bound = server.sockets[0].getsockname()[:2]
    where = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
    shown = f"from {token_file}" if token_file else token
    print(f"deskmate: serving LSP on {where}; token: {shown} (clients send it in initialize "
          f"as initializationOptions.{TOKEN_OPTION})", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


async def _connection(factory: Callable[[], Connection], reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter, token: str) -> None:
    frames = transport.FrameReader(reader.read)
    try:
        body = await asyncio.wait_for(transport.read_frame(
            frames, max_frame=MAX_FIRST_FRAME, strict=True), AUTH_TIMEOUT_S)
    except transport.NotLsp as exc:
        log.warning("closed a connection that does not speak LSP (%s)", exc)
        return
    except TimeoutError:
        log.warning("closed a connection that sent no initialize within %g s", AUTH_TIMEOUT_S)
        return
    if not isinstance(body, bytes):
        return
    data, refusal = admit(body, token)
    if data is None:
        log.warning("refused a connection: %s", refusal)
        msg_id = _request_id(body)
        if msg_id is not None:
            writer.write(_frame({"jsonrpc": "2.0", "id": msg_id, "error": {
                "code": -32600, "message": refusal}}))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        return
    session = factory()
    session.protocol.set_writer(writer)
    try:
        transport.dispatch(session.protocol, data)
        await transport.serve(threading.Event(), frames, session.protocol)
    except SystemExit:  # `exit`: this session ends, the listener goes on
        log.info("the client sent exit")
    finally:
        await session.close_connection()


def admit(body: bytes, token: str) -> tuple[dict[str, Any] | None, str]:
    """The first frame's message, its token taken out of it, if it is the `initialize`
    request with the right one; else None and why not."""
    try:
        data = transport.load(body)
    except transport.Unreadable:
        data = None
    if not (isinstance(data, dict) and data.get("method") == "initialize" and "id" in data):
        return None, ("Deskmate: the first message must be the initialize request, with the "
                      f"server's token as initializationOptions.{TOKEN_OPTION}")
    params = data.get("params")
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    given = options.get(TOKEN_OPTION) if isinstance(options, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(
            given.encode("utf-8", "replace"), token.encode("utf-8")):
        return None, ASK_TOKEN
    assert isinstance(params, dict)
    assert isinstance(options, dict)
    del options[TOKEN_OPTION]
    if not options:
        params["initializationOptions"] = None
    return data, ""


def _request_id(body: bytes) -> Any:
    fields = transport.top_level(body)
    msg_id = fields.get("id")
    return msg_id if "method" in fields and transport.valid_id(msg_id) else None


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
