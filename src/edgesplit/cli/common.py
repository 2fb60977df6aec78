"""What every edgesplit command shares: the console, the config option, offline mode."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

__all__ = ["ConfigOpt", "console", "offline"]

console = Console()

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file")]  # noqa: UP045


def offline() -> None:
    """Nothing is downloaded at run time (models ship in packages)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
