"""The ``edgesplit`` command: thin wrappers over library functions, one module per group of commands."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import httpx
import typer
from rich.table import Table

from edgesplit.config import Role, load_settings
from edgesplit.errors import EdgesplitError
from edgesplit.transport.netem import LinkEmulator

if TYPE_CHECKING:
    pass

from edgesplit.cli import cascade, demo, evaluation, feedback, report, split, sync
from edgesplit.cli.common import ConfigOpt, console, offline
from edgesplit.cli.models import models

__all__ = ["app", "main"]

app = typer.Typer(help="Split LLM work between the edge and the cloud.", no_args_is_help=True, add_completion=False)


@app.command()
def serve(
    role: Annotated[Optional[str], typer.Option(help="edge (device), local or cloud; default: the config's")] = None,  # noqa: UP045
    upstream: Annotated[Optional[str], typer.Option(help="URL of the next tier (edge, local)")] = None,  # noqa: UP045
    host: Annotated[Optional[str], typer.Option(help="bind address (default 127.0.0.1)")] = None,  # noqa: UP045
    port: Annotated[Optional[int], typer.Option(help="port (default 8000)")] = None,  # noqa: UP045
    model: Annotated[Optional[str], typer.Option(help="registry name (edgesplit models) or a .gguf path")] = None,  # noqa: UP045
    engine: Annotated[Optional[str], typer.Option(help="cloud: uvicorn (default) or ray (Ray Serve)")] = None,  # noqa: UP045
    replicas: Annotated[Optional[int], typer.Option(help="cloud on Ray: replica count")] = None,  # noqa: UP045
    config: ConfigOpt = None,
) -> None:
    """Start a device (edge), local or cloud node (uvicorn, or Ray Serve for the cloud)."""
    from edgesplit.server import serve as serve_node

    offline()
    try:
        settings = load_settings(
            config, role=_chosen_role(role, config), upstream=upstream, host=host, port=port, model=model,
            engine=engine, ray_replicas=replicas,
        )  # fmt: skip
        serve_node(settings)
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


_ROLES: dict[str, Role] = {"edge": "edge", "device": "edge", "local": "local", "cloud": "cloud"}


def _chosen_role(flag: str | None, config: Path | None) -> Role | None:
    """``--role`` if given, checked against the config file's ``role``: a disagreement is an error,
    not a silent win for either. None leaves the role to the file, the environment, or "edge"."""
    import tomllib

    if flag is not None and flag not in _ROLES:
        raise typer.BadParameter("role must be edge (device), local or cloud", param_hint="--role")
    in_file = None
    if config is not None and config.is_file():
        try:
            in_file = tomllib.loads(config.read_text()).get("role")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            in_file = None  # load_settings says what is wrong with the file
    if flag is not None and in_file is not None and _ROLES.get(str(in_file)) != _ROLES[flag]:
        raise typer.BadParameter(f"--role {flag} disagrees with role = {in_file!r} in {config}", param_hint="--role")
    return _ROLES[flag] if flag is not None else None


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

    offline()
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


def main() -> None:  # pragma: no cover
    app()


app.command()(demo.demo)
app.command("eval")(evaluation.eval_)
app.command()(evaluation.calibrate)
app.command("calibrate-ladder")(evaluation.calibrate_ladder)
app.command("calibrate-cascade")(cascade.calibrate_cascade)
app.command()(report.report)
app.command()(split.profile)
app.command()(split.plan)
app.command()(models)
app.command()(sync.publish)
app.add_typer(sync.keys_app, name="keys")
app.add_typer(sync.sync_app, name="sync")
app.add_typer(feedback.feedback_app, name="feedback")
