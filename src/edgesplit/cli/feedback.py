"""``edgesplit feedback stats`` and ``edgesplit feedback refit``: the cloud's side of the feedback loop."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from edgesplit.cli.common import ConfigOpt, console, offline

__all__ = ["feedback_app"]

feedback_app = typer.Typer(help="Hard cases the edges sent up, and refitting the router on them.", no_args_is_help=True)


def _cloud_files(config: Path | None) -> tuple[Any, Any, Any]:
    from edgesplit.cloud.feedback import FeedbackStore
    from edgesplit.cloud.repository import repository_for
    from edgesplit.config import load_settings

    settings = load_settings(config, role="cloud")
    data = settings.resolved_data_dir()
    store = FeedbackStore(data / "feedback.sqlite")
    return settings, store, repository_for(settings)


@feedback_app.command("stats")
def stats(config: ConfigOpt = None) -> None:
    """Candidates stored on this cloud, by kind, used in a refit or not yet."""
    _, store, _ = _cloud_files(config)
    try:
        counts = store.stats()
    finally:
        store.close()
    table = Table("kind", "not used yet", "used", title=f"{counts['batches']} batches received")
    for kind, row in sorted(counts["candidates"].items()):
        table.add_row(kind, str(row["unused"]), str(row["used"]))
    console.print(table)


@feedback_app.command("refit")
def refit(
    db: Annotated[Path, typer.Option(help="the eval results store the router was fitted on")] = Path("eval/results.db"),
    tier: Annotated[str, typer.Option(help="whose router: device or local")] = "device",
    edge_model: Annotated[Optional[str], typer.Option(help="that tier's model (default: its default)")] = None,  # noqa: UP045
    cloud_model: Annotated[Optional[str], typer.Option(help="the labelling tier (default: the cloud's)")] = None,  # noqa: UP045
    min_quality: Annotated[float, typer.Option(min=0.0, max=1.0, help="quality floor vs cloud-only")] = 0.98,
    max_tokens: Annotated[int, typer.Option(min=1, help="answer length while labelling")] = 192,
    publish: Annotated[bool, typer.Option(help="publish the router when it is not worse held out")] = True,
    config: ConfigOpt = None,
) -> None:
    """Label unused candidates, refit the router, publish it if it is not worse on the held-out split."""
    from edgesplit.config import DEFAULT_MODELS
    from edgesplit.errors import EdgesplitError

    offline()
    settings, store, repo = _cloud_files(config)
    model = edge_model or DEFAULT_MODELS["edge" if tier == "device" else "local"]
    try:
        result, version, out = _run_refit(settings, store, repo, db, tier, model, cloud_model, min_quality, max_tokens,
                                          publish)  # fmt: skip
    except EdgesplitError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    _print_refit(result, version, out)


def _run_refit(
    settings: Any, store: Any, repo: Any, db: Path, tier: str, model: str, cloud_model: str | None,
    min_quality: float, max_tokens: int, publish: bool,
) -> tuple[Any, int | None, Path]:  # fmt: skip
    from edgesplit.cloud.repository import TierSpec
    from edgesplit.evaluation.feedback import compare, label_candidates, refit
    from edgesplit.evaluation.harness import EvalConfig
    from edgesplit.evaluation.runner import EvalModels
    from edgesplit.routing.artifact import load_artifact, save_artifact
    from edgesplit.routing.learned import packaged_router

    candidates = store.unused(model)
    models = EvalModels(edge=model, cloud=cloud_model or settings.model, local=None)
    config = EvalConfig(max_tokens=max_tokens)
    with console.status(f"labelling {len(candidates)} candidates at every tier…"):
        labelled = asyncio.run(label_candidates(candidates, db, models, config))
    running = repo.current_router(tier) or packaged_router(model)
    current = load_artifact(running) if running is not None else None
    calibration, current_outcome = refit(db, current, model, min_quality, "edge" if tier == "device" else "local")
    better, reason = compare(calibration.heldout, current_outcome, min_quality)
    store.mark_used([c.id for c in candidates])
    out = settings.resolved_data_dir() / "routers" / f"{model}-{calibration.artifact.version}.json"
    save_artifact(calibration.artifact, out)
    version = None
    if better and publish:
        spec = repo.current_spec()
        tiers = dict(spec.tiers)
        old = tiers.get(tier, TierSpec())
        tiers[tier] = TierSpec(old.model, model, out)
        version = repo.publish(replace(spec, tiers=tiers)).version
    return (labelled, calibration, current_outcome, better, reason), version, out


def _print_refit(result: Any, version: int | None, out: Path) -> None:
    labelled, calibration, current, better, reason = result
    table = Table("router", "held-out edge share", "held-out quality", title=f"{labelled} candidates labelled")
    if current is not None:
        table.add_row("running now", f"{current.edge_share:.1%}", f"{current.quality:.1%}")
    table.add_row(f"refit {calibration.artifact.version}", f"{calibration.heldout.edge_share:.1%}",
                  f"{calibration.heldout.quality:.1%}")  # fmt: skip
    console.print(table)
    verdict = f"published as bundle {version}" if version else ("not published (--no-publish)" if better else "kept")
    console.print(f"{'better or equal' if better else 'worse'}: {reason}; {verdict}; artifact {out}")
