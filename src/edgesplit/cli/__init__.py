"""The ``edgesplit`` command (typer): ``edgesplit.cli:app`` is the console script."""

from edgesplit.cli.app import app, main

__all__ = ["app", "main"]
