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
    "Backend": "edgesplit.generation",
    "CascadePolicy": "edgesplit.routing.router",
    "ChatCompletionRequest": "edgesplit.schemas",
    "CloudNode": "edgesplit.cloud.node",
    "CompletionRequest": "edgesplit.schemas",
    "ConfigError": "edgesplit.errors",
    "ContextOverflow": "edgesplit.errors",
    "EdgeNode": "edgesplit.edge.node",
    "EdgesplitError": "edgesplit.errors",
    "Finish": "edgesplit.generation",
    "GenerationParams": "edgesplit.generation",
    "IntegrityError": "edgesplit.errors",
    "InvalidRequest": "edgesplit.errors",
    "LinkEmulator": "edgesplit.transport.netem",
    "LinkProfile": "edgesplit.transport.netem",
    "LocalBackend": "edgesplit.llama.backend",
    "MODELS": "edgesplit.models",
    "ModelError": "edgesplit.errors",
    "ModelQueue": "edgesplit.admission",
    "ModelSpec": "edgesplit.models",
    "NodeServer": "edgesplit.server",
    "PROFILES": "edgesplit.transport.netem",
    "Prompt": "edgesplit.generation",
    "QueueFull": "edgesplit.errors",
    "RemoteBackend": "edgesplit.transport.remote",
    "RouteInfo": "edgesplit.schemas",
    "Settings": "edgesplit.config",
    "SpeculativeBackend": "edgesplit.edge.speculative",
    "SpeculativeStats": "edgesplit.edge.speculative",
    "TokenEvent": "edgesplit.generation",
    "UnknownModel": "edgesplit.errors",
    "UpstreamError": "edgesplit.errors",
    "UpstreamTimeout": "edgesplit.errors",
    "Verifier": "edgesplit.cloud.verifier",
    "build_node": "edgesplit.server",
    "create_app": "edgesplit.http.app",
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
    from edgesplit.cloud.node import CloudNode
    from edgesplit.cloud.verifier import Verifier
    from edgesplit.config import Settings, load_settings
    from edgesplit.edge.node import EdgeNode
    from edgesplit.edge.speculative import SpeculativeBackend, SpeculativeStats
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
    from edgesplit.generation import Backend, Finish, GenerationParams, Prompt, TokenEvent
    from edgesplit.http.app import create_app
    from edgesplit.llama.backend import LocalBackend
    from edgesplit.models import MODELS, ModelSpec, locate_model
    from edgesplit.routing.router import CascadePolicy, resolve_route
    from edgesplit.schemas import ChatCompletionRequest, CompletionRequest, RouteInfo
    from edgesplit.server import AppServer, NodeServer, build_node, serve
    from edgesplit.transport.netem import PROFILES, LinkEmulator, LinkProfile
    from edgesplit.transport.remote import RemoteBackend
