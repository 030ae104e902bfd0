"""Evidence 3: recently edited regions — a few lines around each of the user's last edits
(`ContextEngine.note_edit`), worth less as they age; those next to the cursor are already in
the prompt."""

from __future__ import annotations

from deskmate.context.evidence import Candidate, Request

RECENT_EDIT = 0.3  # halved after a minute, a third after two…
AROUND = 8  # lines each side of the edited line
NEAR_CURSOR = 20  # an edit this close to the cursor (or selection) is in the prompt already


def recent_edits(request: Request) -> None:
    cursor = request.cursor
    for edit in request.recent_edits:
        line = edit.line
        if edit.path == cursor.path:
            line -= cursor.first_line - 1  # the cursor's text may start further down
            if request.line - NEAR_CURSOR < line < request.end_line + NEAR_CURSOR:
                continue
        source = request.text_of(edit.path)
        if source is None:
            continue
        start, end = max(line - AROUND, 1), min(line + AROUND, source.lines.count)
        if start <= end:
            # Cut from the redacted text: an edit inside a private key sends none of it.
            text, redactions = source.between(start, end)
            request.found.add(Candidate("recent", edit.path, start, end, text,
                                        RECENT_EDIT / (1 + edit.age_s / 60), "recently edited",
                                        redactions=redactions))
