"""The ``edgesplit`` command: thin wrappers over library functions."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgesplit.config import Role, load_settings
from edgesplit.demo import DEMO_PROMPTS, DemoResult, SpeculativeCheck, percentile, run_demo
from edgesplit.errors import EdgesplitError
from edgesplit.transport.netem import LinkEmulator

if TYPE_CHECKING:
    from edgesplit.planner.split import LinkEstimate, SplitPlan

app = typer.Typer(help="Split LLM work between the edge and the cloud.", no_args_is_help=True, add_completion=False)
console = Console()

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file")]  # noqa: UP045


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@app.command()
def serve(
    role: Annotated[str, typer.Option(help="edge or cloud")] = "edge",
    upstream: Annotated[Optional[str], typer.Option(help="URL of the next tier (edge only)")] = None,  # noqa: UP045
    host: Annotated[Optional[str], typer.Option(help="bind address (default 127.0.0.1)")] = None,  # noqa: UP045
    port: Annotated[Optional[int], typer.Option(help="port (default 8000)")] = None,  # noqa: UP045
    model: Annotated[Optional[str], typer.Option(help="model name from the registry")] = None,  # noqa: UP045
    config: ConfigOpt = None,
) -> None:
    """Start an edge or cloud node (uvicorn)."""
    from edgesplit.server import serve as serve_node

    _offline()
    if role not in ("edge", "cloud"):
        raise typer.BadParameter("role must be edge or cloud", param_hint="--role")
    try:
        role_value: Role = "cloud" if role == "cloud" else "edge"
        settings = load_settings(config, role=role_value, upstream=upstream, host=host, port=port, model=model)
        serve_node(settings)
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def chat(
    prompt: str,
    url: Annotated[str, typer.Option(help="edge node URL")] = "http://127.0.0.1:8000",
    route: Annotated[str, typer.Option(help="auto, edge or cloud")] = "auto",
    max_tokens: Annotated[int, typer.Option()] = 256,
    api_key: Annotated[str, typer.Option(envvar="EDGESPLIT_CLIENT_TOKEN", help="bearer token for the node")] = "none",
) -> None:
    """Send one prompt to a node and stream the answer to the terminal, with its route."""
    body = {
        "model": f"edgesplit/{route}",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "stream": True,
    }
    headers = {"authorization": f"Bearer {api_key}"}
    meta: dict[str, object] = {}
    try:
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=600) as response:
            if response.status_code >= 400:
                console.print(f"[red]error {response.status_code}:[/red] {response.read().decode()}")
                raise typer.Exit(1)
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                meta = chunk.get("edgesplit", meta)
                for choice in chunk.get("choices", []):
                    console.print(choice.get("delta", {}).get("content") or "", end="", markup=False, highlight=False)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {url}:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print()
    console.print(f"[dim]route: {meta.get('route')} ({meta.get('rule')}): {meta.get('reason')}[/dim]")


@app.command()
def demo(
    max_tokens: Annotated[int, typer.Option(help="max tokens per answer")] = 96,
    config: ConfigOpt = None,
) -> None:
    """Start a cloud and an edge node on loopback, send mixed traffic, print a routing summary."""
    _offline()
    try:
        edge_settings = load_settings(config, role="edge", port=0)
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _print_llama_runtime()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("starting", total=len(DEMO_PROMPTS))

        def stage(text: str) -> None:
            console.print(f"demo: {text}")  # a line per stage, so a crash shows where it happened
            bar.update(task, description=text)

        def result(r: DemoResult) -> None:
            bar.update(task, advance=1, description=f"answered on the {r.route}: {r.prompt[:40]}")

        checks: list[SpeculativeCheck] = []
        results = run_demo(
            edge_settings, max_tokens=max_tokens, on_stage=stage, on_result=result, on_check=checks.append
        )
    console.print(_results_table(results))
    console.print(_summary_table(results))
    console.print(_summary_line(results))
    if checks:
        console.print(_speculative_line(checks))


def _print_llama_runtime() -> None:
    from edgesplit.llama.runtime import ensure_llama

    try:
        runtime = ensure_llama()
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    build = "runtime CPU dispatch" if runtime.dispatch else "[yellow]one CPU backend, not edgesplit's build[/yellow]"
    console.print(f"demo: llama.cpp from {runtime.lib_dir} ({build}), CPU backend {runtime.cpu_library}")


@app.command("eval")
def eval_(
    sets: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--set", help="humaneval, mtbench, sharegpt or a .jsonl file; repeatable (default: all three)"),
    ] = None,
    limit: Annotated[Optional[int], typer.Option(help="only the first N items of each set (a quick run)")] = None,  # noqa: UP045
    db: Annotated[Path, typer.Option(help="results store (SQLite); a rerun resumes")] = Path("eval/results.db"),
    out: Annotated[Path, typer.Option(help="report directory (markdown + PNG)")] = Path("eval/report"),
    generate: Annotated[bool, typer.Option(help="run the models; --no-generate only reports")] = True,
) -> None:
    """Run eval sets through the edge and cloud models, label the answers, report the routers."""
    import asyncio

    from edgesplit.evaluation.datasets import BUILTIN_SETS, set_name
    from edgesplit.evaluation.harness import EvalConfig
    from edgesplit.evaluation.runner import EvalModels, load_items, run_sets

    _offline()
    try:
        chosen = sets or list(BUILTIN_SETS)
        if generate:
            items = load_items(chosen, limit)
            columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
                task = bar.add_task("loading models", total=len(items))
                asyncio.run(
                    run_sets(
                        items, db, EvalModels(), EvalConfig(),
                        lambda item: bar.update(task, advance=1, description=item.key),
                    )
                )  # fmt: skip
        _report(db, out, [set_name(name) for name in chosen])
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _report(db: Path, out: Path, sets: list[str]) -> None:
    from edgesplit.evaluation.report import write_report
    from edgesplit.evaluation.results import EvalResults

    results = EvalResults(db)
    try:
        records, timings = results.records(sets), results.timings()
    finally:
        results.close()
    if not records:
        raise EdgesplitError(f"no labelled items of {', '.join(sets)} in {db}: run without --no-generate")
    reports = write_report(records, out, timings, _embedder(records[0].edge.model))
    table = Table(title=f"held-out items: edge share at >=98% of cloud-only quality (AUROC) -> {out / 'report.md'}")
    names = [p.name for p in reports[-1].policies if p.name != "random"]
    table.add_column("set")
    table.add_column("n", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for r in reports:
        cells = [f"{p.share_at_target:.0%}" + (f" ({p.auroc:.2f})" if p.auroc == p.auroc else "") for p in r.policies]
        table.add_row(r.name, str(r.n_heldout), *[c for p, c in zip(r.policies, cells, strict=True) if p.name in names])
    console.print(table)
    console.print(f"plot: {out / 'router.png'}")


def _embedder(edge_model: str) -> Callable[[str], Any] | None:
    """Token-embedding features of eval prompts, when the edge model the eval ran is installed here."""
    from edgesplit.models import locate_model
    from edgesplit.routing.embedding import prompt_embedder

    try:
        return prompt_embedder(locate_model(edge_model))
    except EdgesplitError as exc:
        console.print(f"[yellow]no token-embedding scorer:[/yellow] {exc}")
        return None


@app.command()
def calibrate(
    target_edge_share: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(min=0.0, max=1.0, help="keep this share of requests on the edge"),
    ] = None,
    min_quality: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(min=0.0, max=1.0, help="most edge share with at least this fraction of cloud-only quality"),
    ] = None,
    db: Annotated[Path, typer.Option(help="results store written by `edgesplit eval`")] = Path("eval/results.db"),
    out: Annotated[Path, typer.Option(help="router artifact to write")] = Path("eval/router.json"),
    features: Annotated[str, typer.Option(help="hidden+cues, embed+cues or cues")] = "hidden+cues",
    edge_model: Annotated[str, typer.Option(help="the edge model the eval ran")] = "smollm2-135m-instruct",
    max_edge_prompt_tokens: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="rule: longer prompts go to the cloud"),
    ] = None,
) -> None:
    """Fit the learned router on the calibration split, pick its threshold, write the artifact."""
    from edgesplit.evaluation.calibrate import calibrate as run_calibration
    from edgesplit.evaluation.results import EvalResults
    from edgesplit.routing.artifact import save_artifact
    from edgesplit.routing.scorer import FEATURE_KINDS

    if features not in FEATURE_KINDS:
        raise typer.BadParameter(f"must be one of {', '.join(FEATURE_KINDS)}", param_hint="--features")
    try:
        results = EvalResults(db)
        try:
            records = results.records()
        finally:
            results.close()
        kind = next(k for k in FEATURE_KINDS if k == features)
        embed = _embedder(edge_model) if kind == "embed+cues" else None
        done = run_calibration(records, edge_model, kind, target_edge_share, min_quality, max_edge_prompt_tokens, embed)
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    save_artifact(done.artifact, out)
    table = Table(title=f"router {done.artifact.version}, threshold {done.artifact.threshold:.4f} -> {out}")
    for column in ("split", "items", "edge share", "quality vs cloud-only", "oracle share at that quality"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for name, o in (("calibration", done.calib), ("held-out", done.heldout)):
        table.add_row(name, str(o.items), f"{o.edge_share:.1%}", f"{o.quality:.1%}", f"{o.oracle_share_at_quality:.1%}")
    console.print(table)
    console.print(f"serve with it: EDGESPLIT_ROUTER_ARTIFACT={out} edgesplit serve --role edge ...")


@app.command()
def jobs(
    job_id: Annotated[Optional[str], typer.Argument(help="a job id to inspect; omit to list")] = None,  # noqa: UP045
    url: Annotated[str, typer.Option(help="edge node URL")] = "http://127.0.0.1:8000",
    status: Annotated[Optional[str], typer.Option(help="queued, delivering, done or failed")] = None,  # noqa: UP045
    api_key: Annotated[str, typer.Option(envvar="EDGESPLIT_CLIENT_TOKEN", help="bearer token for the node")] = "none",
) -> None:
    """List the edge's deferred jobs, or show one with its result."""
    headers = {"authorization": f"Bearer {api_key}"}
    path = f"/v1/jobs/{job_id}" if job_id else "/v1/jobs"
    params = {"status": status} if status else {}
    try:
        response = httpx.get(f"{url}{path}", params=params, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {url}:[/red] {exc}")
        raise typer.Exit(1) from None
    body = response.json()
    if response.status_code >= 400:
        console.print(f"[red]error {response.status_code}:[/red] {body['error']['message']}")
        raise typer.Exit(1)
    if job_id:
        console.print_json(data=body)
        return
    table = Table(title=f"Jobs at {url}  {body['counts']}")
    table.add_column("id", no_wrap=True)
    for col in ("status", "attempts", "created", "last error"):
        table.add_column(col, overflow="fold")
    for job in body["data"]:
        created = time.strftime("%H:%M:%S", time.localtime(job["created"]))
        table.add_row(job["id"], job["status"], str(job["attempts"]), created, job.get("last_error") or "")
    console.print(table)


@app.command()
def redact(
    file: Annotated[Optional[Path], typer.Argument(help="text file; omit to read stdin")] = None,  # noqa: UP045
    config: ConfigOpt = None,
    ner: Annotated[bool, typer.Option(help="run spaCy NER for names, places, organisations")] = True,
) -> None:
    """Print the redacted text and the entity table, using the node's privacy settings."""
    from edgesplit.privacy.detectors import Detector
    from edgesplit.privacy.redactor import redact_text
    from edgesplit.privacy.vault import Mapping

    _offline()
    try:
        settings = load_settings(config, role="edge")
        text = file.read_text(encoding="utf-8") if file is not None else sys.stdin.read()
    except (EdgesplitError, OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    entities = Detector.from_settings(settings, ner=ner).detect(text)
    mapping = Mapping()
    console.print(redact_text(text, entities, mapping), markup=False, highlight=False)
    table = Table(title=f"{len(entities)} entities")
    for col in ("placeholder", "type", "value", "start", "end", "found by"):
        table.add_column(col)
    for e in entities:
        table.add_row(mapping.placeholder(e.type, e.value), e.type, e.value, str(e.start), str(e.end), e.source)
    console.print(table)


@app.command()
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

    _offline()
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


@app.command()
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
    from edgesplit.planner.split import LinkEstimate, SpeculativeEstimate, fetch_profile, measure_link
    from edgesplit.planner.split import plan as make_plan

    _offline()
    if objective not in ("fastest", "least-cloud"):
        raise typer.BadParameter("fastest or least-cloud", param_hint="--objective")
    with console.status("measuring"):
        if edge_profile is not None:
            edge = NodeProfile.model_validate_json(edge_profile.read_text())
        else:
            path = locate_model(model)
            edge = profile_node(model, load_gguf(path, max_seq_len=prompt_tokens + 64), str(path), prompt_tokens)
        cloud = fetch_profile(upstream, token)
        measured = measure_link(upstream, token)
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


@app.command()
def netem(
    target: Annotated[str, typer.Option(help="HOST:PORT to forward to, e.g. the cloud node")],
    profile: Annotated[str, typer.Option(help="lan, 4g, satellite, flaky or down")] = "lan",
    listen: Annotated[str, typer.Option(help="HOST to listen on (the port is picked and printed)")] = "127.0.0.1",
) -> None:
    """Run the link emulator; type `profile NAME`, `outage refuse|cut|blackhole`, `restore` or `quit`."""
    from edgesplit.transport.netem import PROFILES

    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter("expected HOST:PORT", param_hint="--target")
    try:
        link = LinkEmulator(host, int(port), profile, listen_host=listen).start()
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"forwarding {link.url} -> {target} as {link.profile.name!r}; profiles: {', '.join(PROFILES)}")
    try:
        for line in iter(input, "quit"):
            _netem_command(link, line.split())
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        link.stop()


def _netem_command(link: LinkEmulator, words: list[str]) -> None:
    try:
        if words[:1] == ["profile"] and len(words) == 2:
            link.set_profile(words[1])
        elif words[:1] == ["outage"] and len(words) == 2 and words[1] in ("refuse", "cut", "blackhole"):
            link.outage(words[1])  # type: ignore[arg-type]
        elif words == ["restore"]:
            link.restore()
        elif words:
            console.print("commands: profile NAME | outage refuse|cut|blackhole | restore | quit")
            return
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return
    console.print(f"link: {link.profile}")


def _results_table(results: list[DemoResult]) -> Table:
    table = Table(title="Demo requests (edgesplit/auto)")
    for col in ("kind", "prompt", "route", "reason", "latency s", "tok/s"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.kind, r.prompt[:60], r.route, r.reason, f"{r.latency_s:.2f}", f"{r.tokens_per_s:.1f}")
    return table


def _summary_table(results: list[DemoResult]) -> Table:
    table = Table(title="Summary")
    for col in ("route", "requests", "share", "p50 latency s", "p95 latency s"):
        table.add_column(col)
    for route in ("edge", "cloud"):
        lat = sorted(r.latency_s for r in results if r.route == route)
        share = len(lat) / len(results) if results else 0.0
        table.add_row(route, str(len(lat)), f"{share:.0%}", f"{percentile(lat, 50):.2f}", f"{percentile(lat, 95):.2f}")
    return table


def _summary_line(results: list[DemoResult]) -> str:
    """Edge share, fallbacks, and how the router treated the easy and the hard prompts."""
    edge_share = sum(r.route == "edge" for r in results) / max(1, len(results))
    easy = [r for r in results if r.kind == "easy"]
    hard = [r for r in results if r.kind == "hard"]
    router = "learned router" if any(r.rule.startswith("learned") for r in results) else "confidence cascade"
    return (
        f"{router}: edge share {edge_share:.0%}; fallbacks {sum(r.rule == 'fallback' for r in results)}; "
        f"easy kept on the edge {sum(r.route == 'edge' for r in easy)}/{len(easy)}; "
        f"hard sent to the cloud {sum(r.route == 'cloud' for r in hard)}/{len(hard)}"
    )


def _speculative_line(checks: list[SpeculativeCheck]) -> str:
    same = sum(c.identical for c in checks)
    cloud_s = sum(c.cloud_s for c in checks)
    speculative_s = sum(c.speculative_s for c in checks)
    return (
        f"speculative decoding (edge drafts, cloud verifies): {same}/{len(checks)} answers identical to the "
        f"cloud's own; {speculative_s:.1f} s vs {cloud_s:.1f} s cloud-only on loopback (no link delay, where "
        "drafting cannot pay; see bench/speculative.py)"
    )


def main() -> None:  # pragma: no cover
    app()
