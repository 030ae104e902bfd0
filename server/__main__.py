"""`python -m deskmate.server` is the `deskmate` command."""

from deskmate.server.cli import main

# Guarded: the index's worker processes start by importing the main module.
if __name__ == "__main__":
    raise SystemExit(main())
