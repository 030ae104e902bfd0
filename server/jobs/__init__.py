"""Jobs: one user-visible piece of work each, on one path (runner.py) whichever face asked.
Nothing here knows LSP: jobs take snapshots and return plain results."""
