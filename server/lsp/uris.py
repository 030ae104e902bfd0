"""Which file a document's URI stands for, as the privacy rules must judge it.

Editors open more than files: `git:` and `gitlens:` views of a file at a commit (VS Code's diff
views), `untitled:` buffers, `vscode-notebook-cell:` cells of a notebook, `vscode-remote:` and
`vscode-vfs:` files elsewhere, `output:` panels. Whatever the scheme, the rules judge the file
the document shows, never the URI as a string (`git:/ws/.env.git?{"path":"/ws/.env"}` is a
`.env`), and never a path resolved against the server's working directory (`Untitled-1` is no
file of the workspace, even when the server was started in it):

- `file:` — the file itself, the only kind of document that is a workspace file: indexed,
  prepared, and read into other documents' prompts.
- any other scheme — the path in the URI (`/ws/nb.ipynb` for a notebook cell, the remote path
  for `vscode-remote://host/...`), percent-decoded, and the `"path"` of a JSON query when it
  names a file too (VS Code's `git:` and GitLens' views: the URI's own path may carry an extra
  `.git` extension). A path that is not absolute (`untitled:Untitled-1`) is judged by its
  names alone. Such a document may get completions of its own, but its text never reaches
  another document's prompt.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from pygls.uris import to_fs_path

__all__ = ["is_file", "judged_paths"]

# A JSON query longer than this is not parsed (editors' view queries are a few hundred bytes).
_QUERY_LIMIT = 64 * 1024


def is_file(uri: str) -> bool:
    """Whether `uri` names a file on this machine (`file:`), not a view or a buffer."""
    parts = urlsplit(uri)
    return parts.scheme.lower() == "file" and to_fs_path(uri) is not None


def judged_paths(uri: str) -> tuple[Path, ...]:
    """The paths the privacy rules judge for the document at `uri`: one or more, the first the
    one the document is shown under; the document is excluded if any of them is."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file" and (fs_path := to_fs_path(uri)) is not None:
        return (Path(fs_path),)
    if len(scheme) == 1:  # `C:\dir\file.py` handed over as if it were a URI
        return (Path(uri),)
    paths: list[Path] = []
    if (named := _query_path(parts.query)) is not None:
        paths.append(named)
    paths.append(_path_in(parts.path))
    return tuple(dict.fromkeys(paths))


def _path_in(encoded: str) -> Path:
    """The URI path as a file path: absolute as `file:` would spell it, else a bare name."""
    if encoded.startswith("/") and (fs := to_fs_path(urlunsplit(("file", "", encoded, "", "")))):
        return Path(fs)
    return Path(unquote(encoded))


def _query_path(query: str) -> Path | None:
    """The absolute `"path"` of a JSON query (`{"path": "/ws/.env", "ref": "HEAD"}`), or None."""
    if not query or len(query) > _QUERY_LIMIT:
        return None
    try:
        found = json.loads(unquote(query))
    except (ValueError, RecursionError):
        return None
    named = found.get("path") if isinstance(found, dict) else None
    if isinstance(named, str) and named and "\0" not in named:
        path = Path(named)
        return path if path.is_absolute() else None
    return None
