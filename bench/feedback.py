"""Feedback loop benchmark: held-out edge share at a fixed quality floor, before and after rounds.

Each round: a real device edge (SmolLM2, its router from the current bundle or the packaged one)
answers prompts it has never seen (ShareGPT, unlabelled in the eval store); what it escalates,
a sample of what it keeps (shadow) are sent up through the outbox as candidates; the cloud side
labels them with the eval harness (device model vs Qwen2.5-Coder-1.5B, judged by the 1.5B),
refits the router and publishes it only when it is not worse on the eval's fixed held-out split;
the edge pulls the new bundle. The held-out numbers are reported per round, side by side with
round 0, as ratios: the packaged router, and a refit on the eval store alone (no feedback) at the
same single-hop target. The packaged router was calibrated for the whole ladder (the device gets
half the loss budget), so the refit-without-feedback row is the baseline that isolates what the
candidates add.

The cloud node itself serves SmolLM2 (its answers are not what is measured; the labels are).
Works on a copy of eval/results.db. Writes bench/results/feedback.md and feedback.json.

    .venv/bin/python bench/feedback.py [--rounds 3] [--prompts 12] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.cloud.repository import BundleSpec, TierSpec
from edgesplit.config import load_settings
from edgesplit.evaluation.bench_report import RESULTS, write_result
from edgesplit.evaluation.datasets import load_sharegpt
from edgesplit.evaluation.feedback import compare, label_candidates, refit
from edgesplit.evaluation.harness import EvalConfig
from edgesplit.evaluation.runner import EvalModels
from edgesplit.routing.artifact import load_artifact, save_artifact
from edgesplit.routing.learned import packaged_router
from edgesplit.server import NodeServer, build_node
from edgesplit.sync.keys import init_keys
from edgesplit.transport.upstream import bearer_headers

ROOT = Path(__file__).parent.parent
OUT = RESULTS  # committed (bench/results); bench/out is scratch
DEVICE = "smollm2-135m-instruct"
LABELLER = "qwen2.5-coder-1.5b-instruct"
TOKEN = "bench-feedback-token"
MIN_QUALITY = 0.98


ADMIN_TOKEN = "bench-admin-token"  # the edges' admin_token, for their sync pull route


def start(work: Path, keys: Path) -> tuple[NodeServer, NodeServer]:
    cloud = NodeServer(build_node(load_settings(
        role="cloud", port=0, model=DEVICE, api_token=TOKEN, data_dir=work / "cloud", sync_keys_dir=keys,
    ))).start()  # fmt: skip
    edge = NodeServer(build_node(load_settings(
        role="edge", port=0, model=DEVICE, upstream=cloud.url, upstream_token=TOKEN, data_dir=work / "edge",
        sync_root=keys / "root.json", sync_interval_s=0, link_probe_interval_s=0,
        admin_token=ADMIN_TOKEN, feedback_shadow_rate=0.25,
        feedback_batch=4, feedback_flush_s=1,
    ))).start()  # fmt: skip
    return cloud, edge


def send_traffic(edge: NodeServer, prompts: list[str]) -> dict[str, int]:
    routes: dict[str, int] = {}
    for prompt in prompts:
        body = {"model": "edgesplit/auto", "messages": [{"role": "user", "content": prompt}], "max_tokens": 48}
        info = httpx.post(f"{edge.url}/v1/chat/completions", json=body, timeout=600).json()["edgesplit"]
        routes[info["rule"]] = routes.get(info["rule"], 0) + 1
    return routes


def wait_delivered(cloud: NodeServer, edge: NodeServer, timeout_s: float = 120) -> None:
    recorder = edge.node.feedback  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sent = sum(recorder.recorded.values())
        counts = cloud.node.feedback_store.stats()["candidates"]  # type: ignore[attr-defined]
        arrived = sum(row["unused"] + row["used"] for row in counts.values())
        if arrived >= sent and not recorder.stats()["pending"]:
            return
        time.sleep(0.5)
    raise RuntimeError("feedback candidates did not arrive")


def one_round(cloud: NodeServer, edge: NodeServer, db: Path, work: Path, max_tokens: int) -> dict[str, Any]:
    store, repo = cloud.node.feedback_store, cloud.node.repository  # type: ignore[attr-defined]
    candidates = store.unused(DEVICE)
    models = EvalModels(edge=DEVICE, cloud=LABELLER, local=None)
    labelled = asyncio.run(label_candidates(candidates, db, models, EvalConfig(max_tokens=max_tokens)))
    running = repo.current_router("device") or packaged_router(DEVICE)
    current = load_artifact(running) if running is not None else None
    calibration, current_outcome = refit(db, current, DEVICE, MIN_QUALITY)
    better, reason = compare(calibration.heldout, current_outcome, MIN_QUALITY)
    store.mark_used([c.id for c in candidates])
    published = None
    if better:
        path = work / f"router-{calibration.artifact.version}.json"
        save_artifact(calibration.artifact, path)
        published = repo.publish(BundleSpec(tiers={"device": TierSpec(model_name=DEVICE, router=path)})).version
        httpx.post(f"{edge.url}/v1/sync/pull", headers=bearer_headers(ADMIN_TOKEN), timeout=600).raise_for_status()
    return {
        "candidates": labelled,
        "kinds": sorted({c.kind for c in candidates}),
        "current": vars(current_outcome) if current_outcome else None,
        "refit": vars(calibration.heldout),
        "published": published,
        "reason": reason,
        "edge_router": edge.node.router.current.version if edge.node.router.current else None,  # type: ignore[attr-defined]
    }


def baseline(db: Path) -> dict[str, Any]:
    """Round 0: the packaged router, and a refit on the eval store alone at the same target."""
    packaged = packaged_router(DEVICE)
    current = load_artifact(packaged) if packaged is not None else None
    calibration, current_outcome = refit(db, current, DEVICE, MIN_QUALITY)
    return {"packaged": vars(current_outcome) if current_outcome else None, "refit": vars(calibration.heldout)}


def report(base: dict[str, Any], rounds: list[dict[str, Any]]) -> str:
    ref = base["refit"]["edge_share"]
    lines = ["# Feedback loop (bench/feedback.py)", "",
             f"Held-out split of the eval store ({base['refit']['items']} items), quality floor {MIN_QUALITY:.0%} "
             "of cloud-only; edge share of the router each round ends with, vs the refit without feedback.", "",
             "| round | candidates (total) | edge share | quality | published | vs refit without feedback |",
             "|---|---:|---:|---:|---|---:|"]  # fmt: skip
    if base["packaged"]:
        p = base["packaged"]
        lines.append(f"| 0: packaged router | - | {p['edge_share']:.1%} | {p['quality']:.1%} | - | "
                     f"{p['edge_share'] / ref:.2f}x |")  # fmt: skip
    lines.append(f"| 0: refit, no feedback | 0 | {ref:.1%} | {base['refit']['quality']:.1%} | - | 1.00x |")
    total = 0
    for i, r in enumerate(rounds, 1):
        total += r["candidates"]
        new = r["refit"] if r["published"] else r["current"]
        lines.append(f"| {i} | {r['candidates']} ({total}) | {new['edge_share']:.1%} | {new['quality']:.1%} | "
                     f"{r['published'] or 'no'} | {new['edge_share'] / ref:.2f}x |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=12, help="new prompts sent per round")
    parser.add_argument("--max-tokens", type=int, default=128, help="answer length while labelling")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    prompts = [item.prompt for item in load_sharegpt()]
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edgesplit-bench-feedback-") as tmp:
        work = Path(tmp)
        db = work / "results.db"
        shutil.copy(ROOT / "eval" / "results.db", db)
        base = baseline(db)
        keys = work / "keys"
        init_keys(keys)
        cloud, edge = start(work, keys)
        try:
            for n in range(args.rounds):
                before = edge.node.router.current.version if edge.node.router.current else None  # type: ignore[attr-defined]
                routes = send_traffic(edge, prompts[n * args.prompts : (n + 1) * args.prompts])
                wait_delivered(cloud, edge)
                result = one_round(cloud, edge, db, work, args.max_tokens)
                result |= {"routes": routes, "edge_router_before": before}
                rounds.append(result)
                print(f"round {n + 1}: {result}", flush=True)
                (OUT / "feedback.json").write_text(json.dumps({"baseline": base, "rounds": rounds}, indent=1))
        finally:
            edge.stop()
            cloud.stop()
    text = report(base, rounds)
    write_result(OUT, "feedback", text, {"baseline": base, "rounds": rounds})
    print(text)


if __name__ == "__main__":
    main()
