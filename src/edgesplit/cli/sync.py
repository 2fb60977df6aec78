"""``edgesplit keys init|rotate``, ``edgesplit publish`` and ``edgesplit sync status|pull|rollback``.

``keys`` and ``publish`` work on files: the keys folder and the repository (``data_dir/sync``),
which the running cloud serves from the same directory, or which an operator machine writes and
copies to the cloud. ``sync`` talks to a running edge or local node, which holds the models in
memory and does the swap itself; pull and rollback need the node's admin token.
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
AdminOpt = Annotated[Optional[str], typer.Option(envvar="EDGESPLIT_ADMIN_TOKEN", help="the node's admin_token")]  # noqa: UP045
KeysDir = Annotated[Path, typer.Argument(help="the offline keys folder (root, targets; keep it off the cloud)")]
OnlineOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(help="a separate folder for the online snapshot and timestamp keys: all the serving cloud needs"),
]
EncryptOpt = Annotated[bool, typer.Option(help="encrypt root and targets keys (EDGESPLIT_KEY_PASSPHRASE or a prompt)")]


@keys_app.command("init")
def keys_init(
    directory: KeysDir,
    overwrite: Annotated[bool, typer.Option(help="replace existing keys")] = False,
    online: OnlineOpt = None,
    encrypt: EncryptOpt = False,
) -> None:
    """Create root, targets, snapshot and timestamp keys and the root.json every edge trusts."""
    from edgesplit.sync.keys import init_keys

    root = _run(lambda: init_keys(directory, overwrite, online, _passphrase(encrypt)))
    console.print(f"keys in {directory}" + (f", online keys in {online}" if online else ""))
    console.print(f"give the edges {root} (sync_root)")


@keys_app.command("rotate")
def keys_rotate(
    directory: KeysDir,
    role: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(help="the role whose key is replaced (repeat it); none: only renew the root's expiry"),
    ] = None,
    online: OnlineOpt = None,
    encrypt: EncryptOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Write root N+1 (new keys for --role, a fresh expiry), signed by the old and the new root key;
    then, where this machine has the repository, re-sign what the new keys must sign."""
    from edgesplit.cloud.repository import repository_for
    from edgesplit.config import load_settings
    from edgesplit.sync.keys import rotate_keys

    roles = tuple(role or ())
    root = _run(lambda: rotate_keys(directory, roles, online, _passphrase(encrypt)))
    console.print(f"root v{_root_version(root)} written: {root}; edges walk to it on their next pull")
    repo = _run(lambda: repository_for(load_settings(config, role="cloud", sync_keys_dir=directory)))
    if repo.initialised:
        repo.import_roots()
        if "targets" in roles:
            console.print(f"targets re-signed as v{_run(repo.resign)}")
        if repo.has_online_keys():
            console.print(f"re-signed: {', '.join(_run(lambda: repo.refresh_online(force=True)))}")
    if set(roles) & {"snapshot", "timestamp"}:
        console.print(f"copy the new online keys from {online or directory} to the serving cloud's sync_keys_dir")


def _root_version(path: Path) -> int:
    import json

    return int(json.loads(path.read_text())["signed"]["version"])


def _passphrase(encrypt: bool) -> str | None:
    from edgesplit.sync.keys import PASSPHRASE_ENV

    if not encrypt:
        return None
    return os.environ.get(PASSPHRASE_ENV) or typer.prompt("passphrase", hide_input=True, confirmation_prompt=True)


def _run(step: Any) -> Any:
    """``step()``, with an edgesplit error printed and exit code 2."""
    from edgesplit.errors import EdgesplitError

    try:
        return step()
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def publish(
    device_model: Annotated[Optional[str], typer.Option(help="device model: registry name or .gguf")] = None,  # noqa: UP045
    device_router: Annotated[Optional[Path], typer.Option(help="router artifact for the device model")] = None,  # noqa: UP045
    local_model: Annotated[Optional[str], typer.Option(help="local-tier model: registry name or .gguf")] = None,  # noqa: UP045
    local_router: Annotated[Optional[Path], typer.Option(help="router artifact for the local model")] = None,  # noqa: UP045
    policy: Annotated[Optional[Path], typer.Option(help="TOML of privacy_* settings")] = None,  # noqa: UP045
    preprocess: Annotated[Optional[Path], typer.Option(help="TOML of preprocessors/compress_* settings")] = None,  # noqa: UP045
    resign: Annotated[bool, typer.Option(help="sign the current bundle again, unchanged, with a fresh expiry")] = False,
    config: ConfigOpt = None,
) -> None:
    """Publish one bundle (models, routers, policy) into the sync repository, signed with the targets key.

    Every file not given is left out of the bundle: a bundle is one whole, consistent set."""
    from edgesplit.cloud.repository import BundleSpec, repository_for
    from edgesplit.config import load_settings

    repo = _run(lambda: repository_for(load_settings(config, role="cloud")))
    if resign:
        console.print(f"re-signed the current bundle as targets v{_run(repo.resign)}")
    else:
        tiers = {
            tier: _run(lambda m=model, r=router: _tier_spec(m, r))
            for tier, model, router in (("device", device_model, device_router), ("local", local_model, local_router))
            if model or router
        }
        manifest = _run(lambda: repo.publish(BundleSpec(tiers, policy, preprocess)))
        console.print(f"published bundle {manifest.version}: {', '.join(manifest.targets()) or 'no files'}")
    if not repo.has_online_keys():
        console.print("no online keys here: copy the repository to the cloud, which signs its snapshot and timestamp")


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
def sync_pull(url: UrlOpt = "http://127.0.0.1:8000", token: TokenOpt = None, admin_token: AdminOpt = None) -> None:
    """Pull now: verify, download, smoke-test and swap in a newer bundle if there is one."""
    with ThreadPoolExecutor(1) as pool:
        pulling = pool.submit(_call, "POST", f"{url}/v1/sync/pull", admin_token)
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
def sync_rollback(url: UrlOpt = "http://127.0.0.1:8000", admin_token: AdminOpt = None) -> None:
    """Serve the previous bundle again (at once, or refused while a pull runs)."""
    _show(_call("POST", f"{url}/v1/sync/rollback", admin_token))


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


def _when(unix_s: float | None) -> str | None:
    return datetime.fromtimestamp(unix_s).isoformat(timespec="seconds") if unix_s else None


def _show(status: dict[str, Any]) -> None:
    table = Table("", "value")
    checked = status.get("last_check")
    rows = {
        "current version": status.get("current"),
        "previous version": status.get("previous"),
        "pending version": status.get("pending"),
        "last check": _when(checked),
        "last verified fresh": _when(status.get("last_fresh")),
        "stale for": f"{status.get('stale_s', 0):.0f} s" + ("  [red]ALARM[/red]" if status.get("stale") else ""),
        "expires in": ", ".join(f"{r} {s / 86400:.1f} d" for r, s in status.get("expires_in_s", {}).items()) or None,
        "warnings": "; ".join(status.get("warnings", [])) or None,
        "last error": status.get("last_error"),
        "refused, by reason": ", ".join(f"{k} {v}" for k, v in status.get("rejected", {}).items()) or None,
        "bytes over the link / reused": "{wire} / {reused}".format(**status.get("bytes", {"wire": 0, "reused": 0})),
    }
    for name, value in rows.items():
        table.add_row(name, "-" if value is None else str(value))
    console.print(table)
