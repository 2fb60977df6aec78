"""Traces across tiers (OpenTelemetry): a span per request stage on every tier, one trace per request.

Each node makes a server span for every HTTP request it handles (``edgesplit.http``: method and
path kind, status), continuing the caller's trace from its W3C ``traceparent`` header. Inside it
the request pipeline adds its stages (``admit``, ``classify``, ``redact``, ``route``, ``dispatch``,
``restore``, ``respond``, ``record``), and every call to the tier above carries ``traceparent``
(an ``httpx`` request hook on the one upstream client), so device → local → cloud is one trace.
The cloud's split and verify session calls are server spans of their own in that trace.

Attributes are about the request, never its content: tier, role, route, rule, status, counts and
entity *types*. No prompt, answer, placeholder value or token goes into a span.

``trace_exporter`` (config) picks the exporter, once per process: ``none`` (the default: no span
work at all, since nothing would record it; an incoming ``traceparent`` is still passed on),
``console`` or ``otlp`` (HTTP/protobuf to ``trace_otlp_endpoint``; needs the ``otlp`` extra).
:func:`use_exporter` installs any SDK exporter, as tests do with the in-memory one.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context, propagate, trace

from edgesplit.errors import ConfigError

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.trace.export import SpanExporter

    from edgesplit.config import Settings

__all__ = ["inject_traceparent", "open_span", "server_span", "setup_tracing", "stage", "use_exporter"]

_installed: list[str] = []  # the exporter this process installed ("" = none yet)


@functools.cache
def _tracer() -> trace.Tracer:
    return trace.get_tracer("edgesplit")


def setup_tracing(settings: Settings) -> None:
    """Install the exporter ``settings.trace_exporter`` names (the first node of a process decides)."""
    if settings.trace_exporter == "none" or _installed:
        return
    if settings.trace_exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        use_exporter(ConsoleSpanExporter(), batch=False, name="console")
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigError("trace_exporter = 'otlp' needs the otlp extra: pip install 'edgesplit[otlp]'") from None
    use_exporter(OTLPSpanExporter(endpoint=settings.trace_otlp_endpoint), batch=True, name="otlp")


def use_exporter(exporter: SpanExporter, batch: bool = True, name: str = "custom") -> None:
    """Send every span of this process to ``exporter`` (an SDK provider, set once per process)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "edgesplit"}))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _installed.append(name)


def _recording() -> bool:
    """Whether spans go anywhere: without an exporter they are skipped (bench/gateway_profile.py)."""
    return bool(_installed)


@contextlib.contextmanager
def server_span(name: str, headers: Mapping[str, str], **attributes: Any) -> Iterator[trace.Span]:
    """A server span continuing the trace of an incoming ``traceparent`` (or starting one)."""
    if not _recording():  # no span; the caller's trace context alone, so the next tier continues it
        if "traceparent" not in headers:
            yield trace.INVALID_SPAN
            return
        token = context.attach(propagate.extract(dict(headers)))
        try:
            yield trace.INVALID_SPAN
        finally:
            context.detach(token)
        return
    parent = propagate.extract(dict(headers))
    with _tracer().start_as_current_span(name, context=parent, kind=trace.SpanKind.SERVER) as span:
        _set_attributes(span, attributes)
        yield span


@contextlib.contextmanager
def stage(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """One pipeline stage as a child span of the current one."""
    if not _recording():
        yield trace.INVALID_SPAN
        return
    with _tracer().start_as_current_span(name) as span:
        _set_attributes(span, attributes)
        yield span


def open_span(name: str, **attributes: Any) -> trace.Span:
    """A child of the current span that the caller ends: for a stage that lives across a generator's
    yields (a stream's restore), where a context manager would leave its context in another task."""
    if not _recording():
        return trace.INVALID_SPAN
    span = _tracer().start_span(name)
    _set_attributes(span, attributes)
    return span


def _set_attributes(span: trace.Span, attributes: dict[str, Any]) -> None:
    span.set_attributes({k: v for k, v in attributes.items() if v is not None})  # None: nothing to say


async def inject_traceparent(request: httpx.Request) -> None:
    """An ``httpx`` request hook: the current span's ``traceparent`` goes with every upstream call."""
    if not _recording() and not trace.get_current_span().get_span_context().is_valid:
        return  # no trace to continue
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    request.headers.update(carrier)
