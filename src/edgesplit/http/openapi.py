"""The OpenAPI spec every node publishes (``/openapi.json``): real request bodies and error bodies.

The routes read and validate their bodies themselves (one body parser, OpenAI-style errors), so
FastAPI cannot see them. :func:`json_body` is the ``openapi_extra`` a route passes to declare its
pydantic body model; :func:`install_openapi` puts every declared model into
``components/schemas`` (nested models too) and gives every operation its error response: the
OpenAI error body, for 4xx and 5xx alike. What the routes accept does not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ErrorBody", "binary_body", "install_openapi", "json_body", "sse_response"]

_MODELS: dict[str, type[BaseModel]] = {}  # every model a route declared, by schema name
_REF = "#/components/schemas/{model}"


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """Every error, whatever its status: OpenAI's error object."""

    error: ErrorDetail


def _ref(model: type[BaseModel]) -> dict[str, str]:
    _MODELS[model.__name__] = model
    return {"$ref": _REF.format(model=model.__name__)}


def json_body(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is ``model``."""
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": _ref(model)}}}}


def binary_body(description: str) -> dict[str, Any]:
    """``openapi_extra`` for a route whose body is raw bytes (a tensor frame)."""
    schema = {"type": "string", "format": "binary"}
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/octet-stream": {"schema": schema}}}}  # fmt: skip


def sse_response(model: type[BaseModel], answer: type[BaseModel], chunk: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a generation route: its request body ``model``, the JSON ``answer``, and with
    ``stream: true`` server-sent events whose data is a JSON ``chunk`` (``[DONE]`` last)."""
    extra = json_body(model)
    json_chunk = {"contentMediaType": "application/json", "contentSchema": _ref(chunk)}
    data = {
        "type": "string",
        "description": f"a JSON {chunk.__name__}, or [DONE] at the end",
        "oneOf": [{"const": "[DONE]"}, json_chunk],
    }
    event = {"type": "object", "required": ["data"], "properties": {"data": data}}
    extra["responses"] = {
        "200": {
            "description": f"The {answer.__name__}; with stream: true, server-sent events of {chunk.__name__}s",
            "content": {"application/json": {"schema": _ref(answer)}, "text/event-stream": {"schema": event}},
        }
    }
    return extra


def install_openapi(app: FastAPI, model_ids: list[str]) -> None:
    """Replace ``app.openapi`` with one that adds the declared models and the error body; a request's
    ``model`` is one this node serves (``model_ids``)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            models: list[type[BaseModel]] = [*_MODELS.values(), ErrorBody]
            for model in models:
                schema = model.model_json_schema(ref_template=_REF)
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            error = {
                "description": "An OpenAI-style error",
                "content": {"application/json": {"schema": _ref(ErrorBody)}},
            }
            for name in ("ChatCompletionRequest", "CompletionRequest"):
                if name in schemas:
                    schemas[name]["properties"]["model"]["enum"] = model_ids
            for item in spec.get("paths", {}).values():
                for operation in item.values():
                    operation.setdefault("responses", {}).setdefault("default", error)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
