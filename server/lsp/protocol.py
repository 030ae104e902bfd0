"""pygls' protocol as Deskmate runs it: one copy of open documents (Deskmate's), an `exit`
that ends one session rather than the process, and params checked before any handler sees
them (wrong shapes and coerced strings or integers refused with -32602, custom methods too)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from cattrs import ClassValidationError, transform_error
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method

from deskmate.server.lsp import context


class DeskmateProtocol(LanguageServerProtocol):
    """pygls' protocol minus its own copy of open documents: Deskmate keeps one, in
    `Documents`, with LSP line semantics and one conversion per request.

    These handlers call Deskmate's directly instead of yielding to them: pygls keeps the
    future of a generator-run notification forever (it files it under a fresh id that no
    response ever clears), which leaked one future per keystroke (~2.6 MB/min in a soak)."""

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: Any) -> None:
        self._forward(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: Any) -> None:
        self._forward(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: Any) -> None:
        self._forward(types.TEXT_DOCUMENT_DID_CLOSE, params)

    exited = False  # `exit` arrived: the frame loop answers what is due, then ends

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """End this session's frame loop, not the process: pygls called sys.exit here, which
        over TCP ended every connection's session (and over stdio raced the answer to a
        `shutdown` sent just before)."""
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        self.exited = True

    def _forward(self, method: str, params: Any) -> None:
        if (handler := self.fm.features.get(method)) is not None:
            handler(params)

    def structure_message(self, data: dict[str, Any]) -> Any:
        """pygls' own, but params of the wrong shape are refused with -32602 and one line
        naming what is wrong: pygls logged a traceback per such message, and handed a custom
        request's params to its handler unchecked (which then answered -32603, with a
        traceback)."""
        method = data.get("method")
        check = PARAMS_CHECKS.get(method) if isinstance(method, str) else None
        if check is not None and (problem := check(data.get("params"))) is not None:
            raise JsonRpcInvalidParams(message=f"Invalid params: {problem}")
        message_type = self.get_message_type(method) if isinstance(method, str) else None
        if message_type is None or "jsonrpc" not in data or "error" in data:
            return super().structure_message(data)
        try:
            return self._converter.structure(data, message_type)
        except ClassValidationError as exc:
            problems = "; ".join(transform_error(exc)[:3]).replace("$.params.", "").replace(
                "$.params", "params")
            raise JsonRpcInvalidParams(message=f"Invalid params: {problems}") from None


def strict_converter() -> Any:
    """pygls' converter, minus cattrs' coercion of strings and integers (`{"uri": {}}` was
    taken as the URI "{}", `"line": "1"` or `true` as 1): such params are refused with -32602
    like any other wrong shape. The hooks also serve subclasses: bool, and str or int enums."""
    converter = default_converter()  # type: ignore[no-untyped-call]
    for kind in (str, int):
        converter.register_structure_hook(kind, _exactly(kind))
    return converter


def _exactly(kind: type) -> Any:
    def structure(value: Any, cl: type) -> Any:
        base = bool if issubclass(cl, bool) else kind
        if type(value) is not base:
            raise TypeError(f"expected {base.__name__}, got {type(value).__name__}")
        return value if cl is base else cl(value)  # an enum: its member
    return structure


def _uinteger(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 31


def _context_params(params: Any) -> str | None:
    """What is wrong with `deskmate/context` params, if anything."""
    if not isinstance(params, dict):
        return "an object with textDocument and position"
    document, position = params.get("textDocument"), params.get("position")
    if not isinstance(document, dict) or not isinstance(document.get("uri"), str):
        return "textDocument.uri must be a string"
    if not isinstance(position, dict) or not all(
            _uinteger(position.get(k)) for k in ("line", "character")):
        return "position.line and position.character must be integers from 0 to 2^31-1"
    if params.get("budget") is not None and not _uinteger(params["budget"]):
        return "budget must be an integer from 0 (the default) to 2^31-1"
    return None


# Custom methods, which pygls hands over unchecked: what is wrong with their params.
PARAMS_CHECKS: dict[str, Any] = {context.METHOD: _context_params}
