"""`python -m deskmate.server` is the `deskmate` command."""

from deskmate.server.cli import main

raise SystemExit(main())
