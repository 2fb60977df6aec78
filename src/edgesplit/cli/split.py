"""``edgesplit profile`` and ``edgesplit plan``: measured per-layer costs and the split point they give."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

if TYPE_CHECKING:
    from edgesplit.planner.split import LinkEstimate, SplitPlan

from edgesplit.cli.common import console, offline

__all__ = ["plan", "profile"]


def profile(
    model: Annotated[str, typer.Option(help="model to profile")] = "smollm2-135m-instruct",
    prompt_tokens: Annotated[int, typer.Option(help="prefill length to time")] = 64,
    out: Annotated[Optional[Path], typer.Option(help="write the profile JSON here")] = None,  # noqa: UP045
) -> None:
    """Measure per-layer compute time (engine) and whole-model time (llama.cpp) on this node."""
    from edgesplit.engine.codec import CODECS, frame_bytes
    from edgesplit.engine.profile import profile_node
    from edgesplit.engine.weights import load_gguf
    from edgesplit.models import locate_model

    offline()
    path = locate_model(model)
    with console.status(f"profiling {model}"):
        measured = profile_node(model, load_gguf(path, max_seq_len=prompt_tokens + 64), str(path), prompt_tokens)
    table = Table(title=f"{model}: {prompt_tokens}-token prefill and one decode step, ms")
    for col in ("layer", "prefill ms", "decode ms"):
        table.add_column(col, justify="right")
    table.add_row("embed", f"{measured.embed_ms:.3f}", f"{measured.embed_ms:.3f}")
    for i, (p, d) in enumerate(zip(measured.layer_prefill_ms, measured.layer_decode_ms, strict=True)):
        table.add_row(str(i), f"{p:.2f}", f"{d:.2f}")
    table.add_row("head", f"{measured.head_prefill_ms:.2f}", f"{measured.head_decode_ms:.2f}")
    table.add_row("whole model, llama.cpp", f"{measured.full_prefill_ms:.1f}", f"{measured.full_decode_ms:.2f}")
    console.print(table)
    sizes = ", ".join(f"{c} {frame_bytes(c, 1, measured.dim)} B" for c in CODECS)
    console.print(f"bytes per token on the wire: {sizes}")
    if out is not None:
        out.write_text(measured.model_dump_json(indent=1))
        console.print(f"wrote {out}")


def plan(
    upstream: Annotated[str, typer.Option(help="cloud node URL (serves the split model)")],
    model: Annotated[str, typer.Option(help="split model")] = "smollm2-135m-instruct",
    token: Annotated[Optional[str], typer.Option(envvar="EDGESPLIT_UPSTREAM_TOKEN")] = None,  # noqa: UP045
    edge_profile: Annotated[Optional[Path], typer.Option(help="profile JSON from `edgesplit profile`")] = None,  # noqa: UP045
    rtt_ms: Annotated[Optional[float], typer.Option(help="override the measured round trip")] = None,  # noqa: UP045
    bandwidth_mbps: Annotated[Optional[float], typer.Option(help="override the measured bandwidth")] = None,  # noqa: UP045
    prompt_tokens: Annotated[int, typer.Option()] = 64,
    answer_tokens: Annotated[int, typer.Option()] = 64,
    objective: Annotated[str, typer.Option(help="fastest or least-cloud")] = "fastest",
    budget_ms: Annotated[Optional[float], typer.Option(help="latency budget for least-cloud")] = None,  # noqa: UP045
    acceptance: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="speculative drafts' per-token acceptance rate; adds speculative options", min=0, max=1),
    ] = None,
    draft_model: Annotated[
        str, typer.Option(help="the edge's draft model (speculative options)")
    ] = "smollm2-135m-instruct",
) -> None:
    """Predict every way to serve a request (edge, cloud, split at each k and codec, speculative) and pick one."""
    from edgesplit.engine.profile import NodeProfile, profile_llamacpp, profile_node
    from edgesplit.engine.weights import load_gguf
    from edgesplit.models import locate_model
    from edgesplit.planner.split import LinkEstimate, SpeculativeEstimate, measure_upstream
    from edgesplit.planner.split import plan as make_plan

    offline()
    if objective not in ("fastest", "least-cloud"):
        raise typer.BadParameter("fastest or least-cloud", param_hint="--objective")
    with console.status("measuring"):
        if edge_profile is not None:
            edge = NodeProfile.model_validate_json(edge_profile.read_text())
        else:
            path = locate_model(model)
            edge = profile_node(model, load_gguf(path, max_seq_len=prompt_tokens + 64), str(path), prompt_tokens)
        cloud, measured = asyncio.run(measure_upstream(upstream, token))
        speculative = None
        if acceptance is not None:
            _, draft_ms = profile_llamacpp(str(locate_model(draft_model)), prompt_tokens)
            speculative = SpeculativeEstimate(draft_ms, acceptance)
    link = LinkEstimate(
        rtt_ms if rtt_ms is not None else measured.rtt_ms,
        bandwidth_mbps if bandwidth_mbps is not None else measured.bandwidth_mbps,
    )
    result = make_plan(
        edge,
        cloud,
        link,
        prompt_tokens,
        answer_tokens,
        objective,  # type: ignore[arg-type]
        budget_ms,
        speculative=speculative,
    )
    console.print(_plan_table(result, link))


def _plan_table(result: SplitPlan, link: LinkEstimate) -> Table:
    table = Table(
        title=f"link {link.rtt_ms:.1f} ms RTT, {link.bandwidth_mbps:.0f} Mbit/s; objective {result.objective}"
    )
    for col in (
        "option",
        "TTFT ms",
        "per-token ms",
        f"total ms ({result.answer_tokens} tok)",
        "cloud ms/token",
        "B/token",
    ):
        table.add_column(col, justify="right")
    shown = sorted(result.options, key=lambda o: o.total_ms(result.answer_tokens))
    best_split = [o for o in shown if o.k is not None][:5]
    best_speculative = [o for o in shown if o.name.startswith("speculative")][:3]
    for option in [o for o in shown if o.name in ("edge", "cloud")] + best_split + best_speculative:
        mark = " <- choice" if option == result.choice else ""
        table.add_row(
            option.name + mark,
            f"{option.ttft_ms:.1f}",
            f"{option.per_token_ms:.2f}",
            f"{option.total_ms(result.answer_tokens):.0f}",
            f"{option.cloud_ms_per_token:.2f}",
            str(option.bytes_per_token),
        )
    return table
