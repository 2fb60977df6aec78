"""A year of simulated clock for bench/sync.py: weekly publishes, one key rotation, daily pulls.

One real cloud (its repository and MetadataKeeper) and one edge's real SyncClient and
BundleStore, in this process, with ``edgesplit.sync.clock.simulated`` moving both our clock and
the TUF client's, one day per step. Each day the cloud's keeper ticks (what its loop does every
``sync_refresh_check_s``), the edge pulls, and the pull is scored against what it should do:

* should pass: every ordinary day (a publish or not, before and after the rotation, and through
  60 days without any publish, days 100-159, longer than the snapshot's 30-day life);
* should fail: on each 30th day a mirror replays an old ``timestamp.json`` (rollback) and, on
  each 45th, answers with timestamp metadata signed by a key nobody trusts (bad signature).

On day 200 the operator renews the root and rotates the timestamp key (``keys rotate``);
snapshot and timestamp are never re-signed by hand. The row counts pulls refused that should have
passed and pulls accepted that should have failed (goal: 0 and 0).
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from edgesplit.cloud.repository import BundleSpec
from edgesplit.edge.bundles import BundleStore, SyncState
from edgesplit.edge.sync import SyncClient
from edgesplit.errors import BundleRejected
from edgesplit.server import NodeServer
from edgesplit.sync.clock import simulated
from edgesplit.sync.keys import init_keys, load_signer, rotate_keys

__all__ = ["simulate_year"]

QUIET_FROM, QUIET_TO = 100, 160  # 60 days with no publish: the snapshot (30 days) must be re-signed by the cloud


def _forged_timestamp(metadata_dir: Path, stranger: Path) -> bytes:
    from tuf.api.metadata import Metadata

    forged = Metadata.from_file(str(metadata_dir / "timestamp.json"))
    forged.signed.version += 1
    forged.sign(load_signer(stranger, "timestamp"))
    return forged.to_bytes()


def _pull(client: SyncClient, store: BundleStore) -> tuple[bool, str | None]:
    try:
        manifest = client.pull(store.state().floor)
    except BundleRejected as exc:
        return False, exc.reason
    if manifest is not None:
        store.set_state(SyncState(manifest.version, store.state().current, None))
    return True, None


def simulate_year(
    work: Path, keys: Path, cloud: NodeServer, token: str, bundle: Any, days: int = 366
) -> dict[str, Any]:
    """Score ``days`` simulated days; ``bundle(work, n)`` makes the n-th weekly BundleSpec."""
    repo = cloud.node.repository  # type: ignore[attr-defined]
    keeper = cloud.node.keeper  # type: ignore[attr-defined]
    stranger = work / "stranger-keys"
    init_keys(stranger)
    store = BundleStore(work / "year-edge")
    client = SyncClient(store, cloud.url, token, (keys / "root.json").read_bytes(), "device")
    timestamp = repo.metadata_dir / "timestamp.json"
    counts = {"pulls": 0, "publishes": 0, "rotations": 0, "wrongly_refused": 0, "wrongly_accepted": 0, "attacks": 0}
    refusals: list[str] = []
    for day in range(days):
        with simulated(timedelta(days=day, hours=1)):
            if day % 7 == 0 and not QUIET_FROM <= day < QUIET_TO:
                spec: BundleSpec = bundle(work, 1000 + day)
                repo.publish(spec)
                counts["publishes"] += 1
            if day == 200:
                rotate_keys(keys, roles=("root", "timestamp"))
                counts["rotations"] += 1
            keeper.tick()
            if day == 0:
                first_timestamp = timestamp.read_bytes()
            attack = None
            if day and day % 30 == 0:
                attack = ("rollback", first_timestamp)
            elif day and day % 45 == 0:
                attack = ("bad_signature", _forged_timestamp(repo.metadata_dir, stranger))
            if attack is not None:
                saved = timestamp.read_bytes()
                timestamp.write_bytes(attack[1])
                ok, reason = _pull(client, store)
                timestamp.write_bytes(saved)
                counts["attacks"] += 1
                counts["pulls"] += 1
                if ok:
                    counts["wrongly_accepted"] += 1
            ok, reason = _pull(client, store)
            counts["pulls"] += 1
            if not ok:
                counts["wrongly_refused"] += 1
                refusals.append(f"day {day}: {reason}")
    client.close()
    shutil.rmtree(store.directory, ignore_errors=True)
    return {**counts, "days": days, "final_version": store.state().current, "refusals": refusals[:10]}
