"""edgesplit: split large-language-model work between the edge and the cloud.

The public API: settings, nodes, backends, routing, the model registry and the errors. Names
are imported on first use (PEP 562), so ``import edgesplit`` or ``import edgesplit.errors``
does not load FastAPI, torch or llama.cpp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "AppServer": "edgesplit.server",
    "AuthError": "edgesplit.errors",
    "Backend": "edgesplit.backends.base",
    "CascadePolicy": "edgesplit.routing.router",
    "ChatCompletionRequest": "edgesplit.schemas",
    "CloudNode": "edgesplit.nodes.cloud",
    "CompletionRequest": "edgesplit.schemas",
    "ConfigError": "edgesplit.errors",
    "ContextOverflow": "edgesplit.errors",
    "EdgeNode": "edgesplit.nodes.edge",
    "EdgesplitError": "edgesplit.errors",
    "Finish": "edgesplit.backends.base",
    "GenerationParams": "edgesplit.backends.base",
    "IntegrityError": "edgesplit.errors",
    "InvalidRequest": "edgesplit.errors",
    "LinkEmulator": "edgesplit.netem",
    "LinkProfile": "edgesplit.netem",
    "LocalBackend": "edgesplit.backends.local",
    "MODELS": "edgesplit.models",
    "ModelError": "edgesplit.errors",
    "ModelQueue": "edgesplit.admission",
    "ModelSpec": "edgesplit.models",
    "NodeServer": "edgesplit.server",
    "PROFILES": "edgesplit.netem",
    "Prompt": "edgesplit.backends.base",
    "QueueFull": "edgesplit.errors",
    "RemoteBackend": "edgesplit.backends.remote",
    "RouteInfo": "edgesplit.schemas",
    "Settings": "edgesplit.config",
    "SpeculativeBackend": "edgesplit.backends.speculative",
    "SpeculativeStats": "edgesplit.backends.speculative",
    "TokenEvent": "edgesplit.backends.base",
    "UnknownModel": "edgesplit.errors",
    "UpstreamError": "edgesplit.errors",
    "UpstreamTimeout": "edgesplit.errors",
    "Verifier": "edgesplit.speculative.verifier",
    "build_node": "edgesplit.server",
    "create_app": "edgesplit.nodes.http",
    "load_settings": "edgesplit.config",
    "locate_model": "edgesplit.models",
    "resolve_route": "edgesplit.routing.router",
    "serve": "edgesplit.server",
}

__all__ = [
    "MODELS",
    "PROFILES",
    "AppServer",
    "AuthError",
    "Backend",
    "CascadePolicy",
    "ChatCompletionRequest",
    "CloudNode",
    "CompletionRequest",
    "ConfigError",
    "ContextOverflow",
    "EdgeNode",
    "EdgesplitError",
    "Finish",
    "GenerationParams",
    "IntegrityError",
    "InvalidRequest",
    "LinkEmulator",
    "LinkProfile",
    "LocalBackend",
    "ModelError",
    "ModelQueue",
    "ModelSpec",
    "NodeServer",
    "Prompt",
    "QueueFull",
    "RemoteBackend",
    "RouteInfo",
    "Settings",
    "SpeculativeBackend",
    "SpeculativeStats",
    "TokenEvent",
    "UnknownModel",
    "UpstreamError",
    "UpstreamTimeout",
    "Verifier",
    "build_node",
    "create_app",
    "load_settings",
    "locate_model",
    "resolve_route",
    "serve",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edgesplit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from edgesplit.admission import ModelQueue
    from edgesplit.backends.base import Backend, Finish, GenerationParams, Prompt, TokenEvent
    from edgesplit.backends.local import LocalBackend
    from edgesplit.backends.remote import RemoteBackend
    from edgesplit.backends.speculative import SpeculativeBackend, SpeculativeStats
    from edgesplit.config import Settings, load_settings
    from edgesplit.errors import (
        AuthError,
        ConfigError,
        ContextOverflow,
        EdgesplitError,
        IntegrityError,
        InvalidRequest,
        ModelError,
        QueueFull,
        UnknownModel,
        UpstreamError,
        UpstreamTimeout,
    )
    from edgesplit.models import MODELS, ModelSpec, locate_model
    from edgesplit.netem import PROFILES, LinkEmulator, LinkProfile
    from edgesplit.nodes.cloud import CloudNode
    from edgesplit.nodes.edge import EdgeNode
    from edgesplit.nodes.http import create_app
    from edgesplit.routing.router import CascadePolicy, resolve_route
    from edgesplit.schemas import ChatCompletionRequest, CompletionRequest, RouteInfo
    from edgesplit.server import AppServer, NodeServer, build_node, serve
    from edgesplit.speculative.verifier import Verifier
