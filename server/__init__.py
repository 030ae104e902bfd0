"""Deskmate's server side: the LSP server, the CLI, jobs, routing and model backends."""
