"""The only part of Deskmate that knows LSP (pygls, lsprotocol, URIs, position encodings)."""

from deskmate.server.lsp.server import build_server

__all__ = ["build_server"]
