"""edgesplit: split large-language-model work between the edge and the cloud.

The public API: settings, nodes, backends, routing, the model registry and the errors.
"""

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

__version__ = "0.1.0"

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
