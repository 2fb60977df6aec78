"""``edgesplit keys init``, ``edgesplit publish`` and ``edgesplit sync status|pull|rollback``.

``keys`` and ``publish`` work on the cloud's files directly (the repository is served by the
running cloud node from the same directory); ``sync`` talks to a running edge or local node,
which holds the models in memory and does the swap itself.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import httpx
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from edgesplit.cli.common import ConfigOpt, console

__all__ = ["keys_app", "publish", "sync_app"]

keys_app = typer.Typer(help="Signing keys for the sync repository.", no_args_is_help=True)
sync_app = typer.Typer(help="A node's synced bundle: status, pull now, roll back.", no_args_is_help=True)

UrlOpt = Annotated[str, typer.Option(help="the edge or local node")]
TokenOpt = Annotated[Optional[str], typer.Option(envvar="EDGESPLIT_CLIENT_TOKEN", help="the node's token")]  # noqa: UP045


@keys_app.command("init")
def keys_init(
    directory: Annotated[Path, typer.Argument(help="where the keys go (keep it outside the repository)")],
    overwrite: Annotated[bool, typer.Option(help="replace existing keys")] = False,
) -> None:
    """Create root, targets, snapshot and timestamp keys and the root.json every edge trusts."""
    from edgesplit.errors import EdgesplitError
    from edgesplit.sync.keys import init_keys

    try:
        root = init_keys(directory, overwrite)
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"keys in {directory}; give the edges {root} (sync_root)")


def publish(
    device_model: Annotated[Optional[str], typer.Option(help="device model: registry name or .gguf")] = None,  # noqa: UP045
    device_router: Annotated[Optional[Path], typer.Option(help="router artifact for the device model")] = None,  # noqa: UP045
    local_model: Annotated[Optional[str], typer.Option(help="local-tier model: registry name or .gguf")] = None,  # noqa: UP045
    local_router: Annotated[Optional[Path], typer.Option(help="router artifact for the local model")] = None,  # noqa: UP045
    policy: Annotated[Optional[Path], typer.Option(help="TOML of privacy_* settings")] = None,  # noqa: UP045
    preprocess: Annotated[Optional[Path], typer.Option(help="TOML of preprocessors/compress_* settings")] = None,  # noqa: UP045
    config: ConfigOpt = None,
) -> None:
    """Publish one bundle (models, routers, policy) into the cloud's sync repository."""
    from edgesplit.cloud.repository import BundleSpec, SyncRepository
    from edgesplit.config import load_settings
    from edgesplit.errors import EdgesplitError

    try:
        settings = load_settings(config, role="cloud")
        tiers = {
            tier: _tier_spec(model, router)
            for tier, model, router in (("device", device_model, device_router), ("local", local_model, local_router))
            if model or router
        }
        data = settings.resolved_data_dir()
        repo = SyncRepository(data / "sync", settings.sync_keys_dir or data / "keys", settings.sync_timestamp_expiry_s)
        manifest = repo.publish(BundleSpec(tiers, policy, preprocess))
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"published bundle {manifest.version}: {', '.join(manifest.targets()) or 'no files'}")


def _tier_spec(model: str | None, router: Path | None) -> Any:
    from edgesplit.cloud.repository import TierSpec
    from edgesplit.models import locate_model, model_id
    from edgesplit.routing.artifact import load_artifact

    if model is None:
        name = load_artifact(router).edge_model if router else None
        return TierSpec(model_name=name, router=router)
    return TierSpec(model=locate_model(model), model_name=model_id(model), router=router)


@sync_app.command("status")
def sync_status(url: UrlOpt = "http://127.0.0.1:8000", token: TokenOpt = None) -> None:
    """The bundle a node serves, the one pending, the last check and the last refusal."""
    _show(_call("GET", f"{url}/v1/sync/status", token))


@sync_app.command("pull")
def sync_pull(url: UrlOpt = "http://127.0.0.1:8000", token: TokenOpt = None) -> None:
    """Pull now: verify, download, smoke-test and swap in a newer bundle if there is one."""
    with ThreadPoolExecutor(1) as pool:
        pulling = pool.submit(_call, "POST", f"{url}/v1/sync/pull", token)
        _follow(pulling, url, token)
        _show(pulling.result())


def _follow(pulling: Future[dict[str, Any]], url: str, token: str | None) -> None:
    """A progress bar per file the node downloads, read from its status while the pull runs."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("checking for a newer bundle", total=None)
        while not pulling.done():
            time.sleep(0.5)
            try:
                file = _call("GET", f"{url}/v1/sync/status", token, quiet=True).get("downloading")
            except typer.Exit:
                continue
            if file:
                bar.update(task, description=file["target"], total=file["length"], completed=file["bytes"])


@sync_app.command("rollback")
def sync_rollback(url: UrlOpt = "http://127.0.0.1:8000", token: TokenOpt = None) -> None:
    """Serve the previous bundle again."""
    _show(_call("POST", f"{url}/v1/sync/rollback", token))


def _call(method: str, url: str, token: str | None, quiet: bool = False) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    timeout_s = float(os.environ.get("EDGESPLIT_SYNC_CLI_TIMEOUT_S", "3600"))  # a pull may download a model
    try:
        response = httpx.request(method, url, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        if not quiet:
            console.print(f"[red]error:[/red] cannot reach {url}: {exc}")
        raise typer.Exit(1) from None
    body: dict[str, Any] = response.json()
    if response.status_code >= 400:
        error = body.get("error", {})
        console.print(f"[red]refused ({error.get('param') or response.status_code}):[/red] {error.get('message')}")
        raise typer.Exit(1)
    return body


def _show(status: dict[str, Any]) -> None:
    table = Table("", "value")
    checked = status.get("last_check")
    rows = {
        "current version": status.get("current"),
        "previous version": status.get("previous"),
        "pending version": status.get("pending"),
        "last check": datetime.fromtimestamp(checked).isoformat(timespec="seconds") if checked else None,
        "last error": status.get("last_error"),
        "refused, by reason": ", ".join(f"{k} {v}" for k, v in status.get("rejected", {}).items()) or None,
        "bytes over the link / reused": "{wire} / {reused}".format(**status.get("bytes", {"wire": 0, "reused": 0})),
    }
    for name, value in rows.items():
        table.add_row(name, "-" if value is None else str(value))
    console.print(table)
