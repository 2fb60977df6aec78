"""``edgesplit models``: the registry's models and any GGUF files named, with what their headers say."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from edgesplit.cli.common import console
from edgesplit.errors import EdgesplitError

__all__ = ["models"]


def models(
    files: Annotated[Optional[list[Path]], typer.Argument(help="GGUF files to describe too")] = None,  # noqa: UP045
    assemble: Annotated[bool, typer.Option(help="assemble and verify models shipped in parts now")] = False,
) -> None:
    """List installed models: size, architecture, layers, context length, chat template."""
    from edgesplit.model_info import read_gguf_info
    from edgesplit.models import MODELS, locate_model

    table = Table(title="models")
    for column in ("model", "status", "size", "architecture", "layers", "hidden", "context", "vocab", "chat template"):
        table.add_column(column, justify="left" if column in ("model", "status", "architecture") else "right")
    for name, spec in MODELS.items():
        if not spec.installed():
            table.add_row(name, "not installed (make install)", *[""] * 7)
            continue
        try:
            if assemble:
                locate_model(name)  # assembles once, then checks the sha256
            status = _status(spec.assembled(), bool(spec.size_bytes), verified=assemble)
            path = spec.header_file()
            size = spec.size_bytes or path.stat().st_size
            table.add_row(name, status, *_facts(read_gguf_info(path), size))
        except EdgesplitError as exc:
            table.add_row(name, f"[red]{exc}[/red]", *[""] * 7)
    for file in files or []:
        try:
            locate_model(str(file))  # a GGUF file at all?
            table.add_row(file.stem, "file", *_facts(read_gguf_info(file), file.stat().st_size))
        except EdgesplitError as exc:
            table.add_row(file.stem, f"[red]{exc}[/red]", *[""] * 7)
    console.print(table)


def _status(assembled: Path | None, in_parts: bool, verified: bool) -> str:
    check = ", sha256 ok" if verified else ""
    if not in_parts:
        return f"installed{check}"
    return f"assembled{check}" if assembled is not None else "in parts (assembled on first use)"


def _facts(info: object, size_bytes: int) -> list[str]:
    from edgesplit.model_info import GGUFInfo

    assert isinstance(info, GGUFInfo)
    return [
        f"{size_bytes / 1e6:,.0f} MB",
        info.architecture,
        str(info.n_layers or "?"),
        str(info.hidden_size or "?"),
        f"{info.context_length:,}" if info.context_length else "?",
        f"{info.vocab_size:,}" if info.vocab_size else "?",
        "yes" if info.has_chat_template else "no",
    ]
