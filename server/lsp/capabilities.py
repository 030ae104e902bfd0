"""What the client can do, resolved once at `initialize` into one typed object that handlers
ask by name. Client quirks are named here too — the only place that looks at the client's
name — so no handler ever checks which editor it talks to."""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types


@dataclass(frozen=True, kw_only=True)
class ClientFeatures:
    position_encoding: str = types.PositionEncodingKind.Utf16
    inline_completion: bool = False  # textDocument/inlineCompletion (else a completion item)
    configuration: bool = False  # workspace/configuration
    watched_files: bool = False  # dynamic registration of workspace/didChangeWatchedFiles
    work_done_progress: bool = False  # window/workDoneProgress/create
    document_changes: bool = False  # versioned edits (WorkspaceEdit.documentChanges)
    change_annotations: bool = False  # edits the user confirms one by one
    code_action_resolve: bool = False  # codeAction/resolve computes the edit later
    # Quirk: Neovim 0.12 overlays the ghost text of a ranged inline item on the text after it
    # (hiding the rest of the line); without a range it draws the text inline at the cursor.
    inline_items_without_range: bool = False

    @classmethod
    def resolve(cls, params: types.InitializeParams, *, position_encoding: str | None
                ) -> ClientFeatures:
        caps = params.capabilities
        text = caps.text_document
        workspace = caps.workspace
        window = caps.window
        edit = workspace.workspace_edit if workspace else None
        action = text.code_action if text else None
        resolve = action.resolve_support if action else None
        client = params.client_info.name if params.client_info else ""
        return cls(
            position_encoding=position_encoding or types.PositionEncodingKind.Utf16,
            inline_completion=text is not None and text.inline_completion is not None,
            configuration=bool(workspace and workspace.configuration),
            watched_files=bool(workspace and workspace.did_change_watched_files
                               and workspace.did_change_watched_files.dynamic_registration),
            work_done_progress=bool(window and window.work_done_progress),
            document_changes=bool(edit and edit.document_changes),
            change_annotations=bool(edit and edit.change_annotation_support is not None),
            code_action_resolve=bool(resolve and "edit" in resolve.properties),
            inline_items_without_range=client == "Neovim",
        )
