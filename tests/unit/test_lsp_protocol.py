"""pygls dispatch details Deskmate depends on."""

from __future__ import annotations

import json

from deskmate.server.lsp import build_server


def test_document_notifications_leave_no_pending_futures_behind() -> None:
    # pygls files the future of a generator-run notification under a fresh id and never
    # clears it: one future per keystroke, a leak of ~2.6 MB/min in a soak, until
    # DeskmateProtocol stopped dispatching document notifications that way.
    server = build_server()
    protocol = server.protocol
    uri = "file:///tmp/leak-check.py"
    messages = [{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x\n"}}}]
    messages += [{"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": uri, "version": version},
        "contentChanges": [{"range": {"start": {"line": 0, "character": 1},
                                      "end": {"line": 0, "character": 1}}, "text": "y"}]}}
        for version in range(2, 202)]
    messages.append({"jsonrpc": "2.0", "method": "textDocument/didClose",
                     "params": {"textDocument": {"uri": uri}}})

    for message in messages:
        protocol.handle_message(json.loads(json.dumps(message),
                                           object_hook=protocol.structure_message))

    assert protocol._request_futures == {}
