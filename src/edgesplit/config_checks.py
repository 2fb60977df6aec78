"""Checks and messages for config.py: model references, loopback hosts, validation errors named by key."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import ValidationError

__all__ = ["check_model_reference", "describe_error", "is_loopback"]

ENV_PREFIX = "EDGESPLIT_"


def check_model_reference(reference: str) -> None:
    from edgesplit.models import MODELS, is_model_path

    if is_model_path(reference):
        if not Path(reference).expanduser().is_file():
            raise ValueError(f"model: no GGUF file at {reference!r}")
    elif reference not in MODELS:
        raise ValueError(f"model: unknown model {reference!r}; registry models: {', '.join(MODELS)} (or a .gguf path)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def describe_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or _key_from_message(err["msg"])
        env = f"{ENV_PREFIX}{key.upper()}" if key else ""
        where = f"config key {key!r} (env {env})" if key else "config"
        lines.append(f"{where}: {err['msg']}")
    return "invalid settings: " + "; ".join(lines)


def _key_from_message(message: str) -> str:
    # model-level validators put the key before the first colon: "upstream: must be ..."
    head = message.removeprefix("Value error, ").split(":", 1)[0]
    return head if head.isidentifier() else ""
