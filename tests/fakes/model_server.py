"""A real HTTP model server on 127.0.0.1 for tests and benchmarks.

It speaks the wire protocols Deskmate uses (OpenAI completions/chat, Ollama, llama.cpp /infill,
Anthropic messages, Mistral FIM), answers with a scripted `Reply`, and records every request it
received and how the exchange ended ("complete", or "client-closed" when the client hung up
mid-stream) — so a test asserts on what really crossed the socket.

Run standalone (for benchmarks or manual testing):  python -m tests.fakes.model_server --port 8099
"""

from __future__ import annotations

import argparse
import gzip
import json
import select
import socket
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = "return a + b"
    pieces: int = 0  # split `text` into this many stream items (0: about 4 characters each)
    first_byte_delay_s: float = 0.0
    piece_delay_s: float = 0.0
    status: int = 200
    raw_body: bytes | None = None  # sent instead of a protocol answer (garbage, HTML, ...)
    content_type: str | None = None
    # "protocol": the HTTP body ends cleanly but the protocol's final event never comes;
    # "connection": the connection drops in the middle of a JSON item.
    truncate: str = ""
    usage: tuple[int, int] | None = (11, 7)  # prompt, output tokens reported; None: no usage
    finish_reason: str = "stop"
    stream: bool = True  # False: one JSON document even when the client asked for a stream
    # Accept the connection, read the request, then never send a byte: wait until the client
    # hangs up (recorded as "client-closed") or the server stops.
    hang: bool = False
    # Slow drip: send the headers at once, then the body one byte per `drip_s` seconds (each
    # byte its own HTTP chunk), so the connection is never idle long enough for a read timeout.
    drip_s: float = 0.0
    # Extra response headers (a redirect's Location, ...).
    headers: dict[str, str] = field(default_factory=dict)
    # Sent as the Content-Encoding of `raw_body`, which the test encoded itself (a gzip bomb).
    content_encoding: str = ""
    # Compress a protocol answer with gzip (a stream as one gzip stream, flushed per item).
    gzip: bool = False
    # After `raw_body` (chunked): this block again and again, `repeat_bytes` in all, or until
    # the client hangs up when 0 (an endless line, a huge body, an endless stream).
    repeat: bytes = b""
    repeat_bytes: int = 0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    started: float
    ended: float = 0.0
    outcome: str = "open"  # open | complete | client-closed
    client_port: int = 0  # the client's side of the connection: same port, same connection

    @property
    def server_ms(self) -> float:
        return (self.ended - self.started) * 1000


@dataclass
class ModelServer:
    """Start with `start()`; `url` is http://127.0.0.1:PORT. Thread-safe recording."""

    port: int = 0
    reply: Reply = field(default_factory=Reply)
    models: list[str] = field(default_factory=lambda: ["test-model"])
    # Answered to every model list instead of `models` when set (JSON-able, or raw bytes).
    models_payload: Any = None
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Reply] = []
        self._by_marker: list[tuple[str, Reply]] = []
        self.stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    # -- control ---------------------------------------------------------------------------

    def start(self) -> ModelServer:
        handler = type("Handler", (_Handler,), {"model_server": self})
        self._httpd = _QuietServer(("127.0.0.1", self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, then fall back to `reply`."""
        with self._lock:
            self._queue.extend(replies)

    def reply_when(self, marker: str, reply: Reply) -> None:
        """Answer every request whose raw body contains `marker` with `reply` (before the
        queue): concurrent requests for different documents get their own answers."""
        with self._lock:
            self._by_marker.append((marker, reply))

    def next_reply(self, raw: bytes = b"") -> Reply:
        with self._lock:
            for marker, reply in self._by_marker:
                if marker.encode("utf-8") in raw:
                    return reply
            return self._queue.pop(0) if self._queue else self.reply

    def record(self, item: Received) -> None:
        with self._lock:
            self.received.append(item)

    def posts(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.method == "POST"]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self._queue.clear()
            self._by_marker.clear()
            self.models_payload = None

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return False


class _QuietServer(ThreadingHTTPServer):
    """A client hanging up (Deskmate cancelling a stream) is normal here, not a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    model_server: ModelServer
    protocol_version = "HTTP/1.1"  # keep-alive, like real model servers
    _drip_s = 0.0  # the current reply's drip interval (see `Reply.drip_s`)
    _gzip: Any = None  # the current streamed reply's compressor (see `Reply.gzip`)

    def setup(self) -> None:
        super().setup()
        # Like real model servers (uvicorn, ...): small writes go out at once, not 40 ms later
        # when Nagle's algorithm meets the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- GET: model lists ----------------------------------------------------------------

    def do_GET(self) -> None:
        names = self.model_server.models
        reply = self.model_server.reply
        if 300 <= reply.status < 400:  # a redirect applies to the whole server
            self._send_plain(reply.status, reply.raw_body or b"", headers=reply.headers)
            return
        scripted = self.model_server.models_payload
        if scripted is not None:
            self._send_plain(200, scripted if isinstance(scripted, bytes)
                             else json.dumps(scripted).encode())
            return
        if self.path in ("/v1/models", "/models"):
            payload: Any = {"object": "list", "data": [{"id": n, "object": "model"} for n in names]}
        elif self.path == "/api/tags":
            payload = {"models": [{"name": n, "model": n} for n in names]}
        else:
            self._send_plain(404, b'{"error": "not found"}')
            return
        self._send_plain(200, json.dumps(payload).encode())

    # -- POST: generations -------------------------------------------------------------------

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        item = Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                        body, time.perf_counter(), client_port=self.client_address[1])
        self.model_server.record(item)
        reply = self.model_server.next_reply(raw)
        try:
            self._answer(reply, body if isinstance(body, dict) else {})
            item.outcome = "complete"
        except (TimeoutError, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            item.outcome = "client-closed"
            self.close_connection = True
        finally:
            item.ended = time.perf_counter()

    def _answer(self, reply: Reply, body: dict[str, Any]) -> None:
        server = self.model_server
        self._drip_s = reply.drip_s
        self._gzip = None
        if reply.hang:
            self._wait_for_hang_up()
            return
        if reply.first_byte_delay_s and server.stopping.wait(reply.first_byte_delay_s):
            return
        if reply.raw_body is not None or reply.status != 200:
            payload = reply.raw_body if reply.raw_body is not None else json.dumps(
                {"error": {"message": f"scripted status {reply.status}"}}).encode()
            headers = {**reply.headers, **({"Content-Encoding": reply.content_encoding}
                                           if reply.content_encoding else {})}
            if reply.repeat:
                self._send_repeated(reply, payload, headers)
                return
            self._send_plain(reply.status, payload, reply.content_type or "application/json",
                             headers)
            return
        protocol = _PROTOCOLS.get(self.path)
        if protocol is None:
            self._send_plain(404, b'{"error": "no such endpoint"}')
            return
        framing, items, final = protocol(reply)
        if not reply.stream or not body.get("stream", False):
            whole = json.dumps(_whole(self.path, reply)).encode()
            if reply.gzip:
                self._send_plain(200, gzip.compress(whole), headers={"Content-Encoding": "gzip"})
            else:
                self._send_plain(200, whole)
            return
        content_type = "application/x-ndjson" if framing == "ndjson" else "text/event-stream"
        self.send_response(200)
        self.send_header("Content-Type", reply.content_type or content_type)
        self.send_header("Transfer-Encoding", "chunked")
        if reply.gzip:
            self.send_header("Content-Encoding", "gzip")
            self._gzip = zlib.compressobj(wbits=31)
        self.end_headers()
        for index, item in enumerate(items):
            if index and reply.piece_delay_s and server.stopping.wait(reply.piece_delay_s):
                return
            self._chunk(_frame(framing, item))
        if reply.truncate == "connection":
            self._chunk(b'data: {"choices": [{"te' if framing == "sse" else b'{"respo')
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.truncate != "protocol":
            for item in final:
                self._chunk(_frame(framing, item))
        if self._gzip is not None:
            self._raw_chunk(self._gzip.flush())
            self._gzip = None
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_repeated(self, reply: Reply, head: bytes, headers: dict[str, str]) -> None:
        """`head`, then `reply.repeat` over and over (see `Reply.repeat`), chunked."""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type or "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if head:
            self._raw_chunk(head)
        sent = 0
        while not reply.repeat_bytes or sent < reply.repeat_bytes:
            if self.model_server.stopping.is_set():
                raise ConnectionAbortedError("the server is stopping")
            self._raw_chunk(reply.repeat)
            sent += len(reply.repeat)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _wait_for_hang_up(self) -> None:
        """Say nothing until the client closes its side (then raise, so the exchange is
        recorded as "client-closed") or the server stops."""
        while not self.model_server.stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                raise ConnectionResetError("the client hung up")

    def _raw_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        if self._gzip is not None:
            data = self._gzip.compress(data) + self._gzip.flush(zlib.Z_SYNC_FLUSH)
        if self._drip_s:
            for byte in data:
                if self.model_server.stopping.wait(self._drip_s):
                    raise ConnectionAbortedError("the server is stopping")
                self.wfile.write(b"1\r\n" + bytes([byte]) + b"\r\n")
                self.wfile.flush()
            return
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_plain(self, status: int, payload: bytes, content_type: str = "application/json",
                    headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


def gzip_bomb(size: int) -> bytes:
    """About `size` bytes of one gzip member that inflates ~1000-fold (zeros), made in a blink:
    a 16 MiB block of zeros compressed after a full flush (which makes it independent of what
    came before) is repeated. The trailer's checksum is wrong: no reader should get that far."""
    zeros = b"\0" * (16 << 20)
    squeezer = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = squeezer.compress(zeros) + squeezer.flush(zlib.Z_FULL_FLUSH)
    block = squeezer.compress(zeros) + squeezer.flush(zlib.Z_FULL_FLUSH)
    return head + block * max(0, (size - len(head)) // len(block)) + squeezer.flush()


# --------------------------------------------------------------------------- protocols

Frame = tuple[str, Any]  # (SSE event name or "", JSON-able data or the string "[DONE]")


def _pieces(reply: Reply) -> list[str]:
    text = reply.text
    count = reply.pieces or max(1, (len(text) + 3) // 4)
    size = max(1, -(-len(text) // count))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _frame(framing: str, item: Frame) -> bytes:
    event, data = item
    payload = data if isinstance(data, str) else json.dumps(data)
    if framing == "ndjson":
        return payload.encode() + b"\n"
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def _openai_completions(reply: Reply) -> tuple[str, list[Frame], list[Frame]]:
    items: list[Frame] = [("", {"object": "text_completion", "choices": [
        {"index": 0, "text": p, "finish_reason": None}]}) for p in _pieces(reply)]
    final: list[Frame] = [("", {"object": "text_completion", "choices": [
        {"index": 0, "text": "", "finish_reason": reply.finish_reason}]})]
    if reply.usage:
        final.append(("", {"object": "text_completion", "choices": [], "usage": {
            "prompt_tokens": reply.usage[0], "completion_tokens": reply.usage[1]}}))
    final.append(("", "[DONE]"))
    return "sse", items, final


def _openai_chat(reply: Reply) -> tuple[str, list[Frame], list[Frame]]:
    items: list[Frame] = [("", {"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {"content": p}, "finish_reason": None}]}) for p in _pieces(reply)]
    final: list[Frame] = [("", {"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]})]
    if reply.usage:
        final.append(("", {"object": "chat.completion.chunk", "choices": [], "usage": {
            "prompt_tokens": reply.usage[0], "completion_tokens": reply.usage[1]}}))
    final.append(("", "[DONE]"))
    return "sse", items, final


def _ollama(key: str) -> Any:
    def protocol(reply: Reply) -> tuple[str, list[Frame], list[Frame]]:
        def piece(p: str) -> dict[str, Any]:
            return {"message": {"role": "assistant", "content": p}} if key == "chat" else {
                "response": p}
        items: list[Frame] = [("", {**piece(p), "done": False}) for p in _pieces(reply)]
        done: dict[str, Any] = {**piece(""), "done": True, "done_reason": reply.finish_reason}
        if reply.usage:
            done.update(prompt_eval_count=reply.usage[0], eval_count=reply.usage[1])
        return "ndjson", items, [("", done)]
    return protocol


def _infill(reply: Reply) -> tuple[str, list[Frame], list[Frame]]:
    items: list[Frame] = [("", {"content": p, "stop": False}) for p in _pieces(reply)]
    done: dict[str, Any] = {"content": "", "stop": True,
                            "stop_type": "limit" if reply.finish_reason == "length" else "eos"}
    if reply.usage:
        done.update(tokens_evaluated=reply.usage[0], tokens_predicted=reply.usage[1])
    return "sse", items, [("", done)]


def _anthropic(reply: Reply) -> tuple[str, list[Frame], list[Frame]]:
    usage = reply.usage or (0, 0)
    items: list[Frame] = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [],
            "usage": {"input_tokens": usage[0], "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
    ]
    items += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": p}})
              for p in _pieces(reply)]
    stop = "max_tokens" if reply.finish_reason == "length" else "end_turn"
    final: list[Frame] = [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop},
                           "usage": {"output_tokens": usage[1]}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "sse", items, final


_PROTOCOLS = {
    "/v1/completions": _openai_completions,
    "/v1/chat/completions": _openai_chat,
    "/api/generate": _ollama("generate"),
    "/api/chat": _ollama("chat"),
    "/infill": _infill,
    "/v1/messages": _anthropic,
    "/v1/fim/completions": _openai_chat,
}


def _whole(path: str, reply: Reply) -> dict[str, Any]:
    """The same answer as one non-streamed JSON document."""
    usage = reply.usage or (0, 0)
    if path == "/v1/completions":
        return {"object": "text_completion", "choices": [
            {"text": reply.text, "finish_reason": reply.finish_reason}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]}}
    if path in ("/v1/chat/completions", "/v1/fim/completions"):
        return {"object": "chat.completion", "choices": [
            {"message": {"role": "assistant", "content": reply.text},
             "finish_reason": reply.finish_reason}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]}}
    if path in ("/api/generate", "/api/chat"):
        key = {"response": reply.text} if path == "/api/generate" else {
            "message": {"role": "assistant", "content": reply.text}}
        return {**key, "done": True, "prompt_eval_count": usage[0], "eval_count": usage[1]}
    if path == "/infill":
        return {"content": reply.text, "stop": True, "tokens_evaluated": usage[0],
                "tokens_predicted": usage[1]}
    return {"type": "message", "content": [{"type": "text", "text": reply.text}],
            "stop_reason": "end_turn", "usage": {"input_tokens": usage[0],
                                                 "output_tokens": usage[1]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--text", default="return a + b")
    args = parser.parse_args()
    server = ModelServer(port=args.port, reply=Reply(text=args.text)).start()
    print(f"listening on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
