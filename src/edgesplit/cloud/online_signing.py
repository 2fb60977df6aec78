"""OnlineSigner: what the serving cloud signs by itself, with the online keys only.

The snapshot and timestamp keys are the only ones a serving cloud needs. :meth:`refresh_online`
re-signs the snapshot when a new targets version appeared (published on an operator machine),
when the root changed its key, or when less than half of its lifetime is left; then the
timestamp, on the same rules. With the default lifetimes (snapshot 30 days, timestamp 1 day)
that leaves 15 days and 12 hours of margin for a stopped cloud or a skewed clock.

Roots come from the keys folder: ``edgesplit keys rotate`` writes ``N.root.json`` there, and
:meth:`import_roots` copies every newer one into ``metadata/`` so edges can walk the chain.
Root and targets expiry the cloud cannot renew without the offline keys: :meth:`expiries`
says when each runs out, for the metric, the log and the dashboard.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from edgesplit.errors import ConfigError
from edgesplit.sync.clock import now
from edgesplit.sync.files import atomic_write
from edgesplit.sync.keys import ONLINE_ROLES, load_signer

__all__ = ["SNAPSHOT_EXPIRY", "OnlineSigner", "signed_by"]

log = logging.getLogger("edgesplit.cloud.sync")

SNAPSHOT_EXPIRY = timedelta(days=30)


class OnlineSigner:
    def __init__(
        self,
        directory: Path,
        keys_dir: Path,
        timestamp_expiry_s: float = 86400.0,
        snapshot_expiry_s: float = SNAPSHOT_EXPIRY.total_seconds(),
    ) -> None:
        self.directory = directory
        self.metadata_dir = directory / "metadata"
        self.targets_dir = directory / "targets"
        self.keys_dir = keys_dir
        self.timestamp_expiry = timedelta(seconds=timestamp_expiry_s)
        self.snapshot_expiry = timedelta(seconds=snapshot_expiry_s)
        self.lock = threading.RLock()  # one signer at a time in this process: the loop, a publish

    @property
    def initialised(self) -> bool:
        """Has a bundle been published (targets metadata exists)?"""
        return any(self.metadata_dir.glob("*.targets.json"))

    def has_online_keys(self) -> bool:
        return all((self.keys_dir / f"{role}.pem").is_file() for role in ONLINE_ROLES)

    def refresh_online(self, force: bool = False) -> list[str]:
        """Re-sign snapshot and timestamp where due (all of them with ``force``); the roles signed."""
        with self.lock:
            return self._refresh_online(force)

    def _refresh_online(self, force: bool) -> list[str]:
        self.import_roots()
        if not self.initialised:
            return []
        root, targets = self.latest("root"), self.latest("targets")
        snapshot = self._newest("snapshot")
        signed: list[str] = []
        stale_snapshot = snapshot is None or snapshot.signed.meta["targets.json"].version != targets.signed.version
        if force or stale_snapshot or self._due(snapshot, "snapshot", root, self.snapshot_expiry):
            self._write_snapshot(root, targets.signed.version, snapshot)
            signed.append("snapshot")
        timestamp = self._timestamp()
        if signed or self._due(timestamp, "timestamp", root, self.timestamp_expiry):
            self._write_timestamp(root, timestamp)
            signed.append("timestamp")
        return signed

    def expiries(self) -> dict[str, datetime]:
        """When each role's newest metadata expires (roles not yet written are left out)."""
        found = {role: self._newest(role) for role in ("root", "targets", "snapshot")}
        found["timestamp"] = self._timestamp()
        return {role: metadata.signed.expires for role, metadata in found.items() if metadata is not None}

    def ensure_root(self) -> None:
        """The first publish copies the root chain ``edgesplit keys init`` (and rotate) made."""
        if not (self.keys_dir / "root.json").is_file() and not any(self.metadata_dir.glob("*.root.json")):
            where = self.keys_dir / "root.json"
            raise ConfigError(f"no root metadata at {where} (create it with: edgesplit keys init {self.keys_dir})")
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        self.import_roots()

    def import_roots(self) -> list[int]:
        """Copy every root in the keys folder newer than the repository's newest; their versions."""
        have = self._versions("root")
        newest = have[-1] if have else 0
        chain = [(version, self.keys_dir / f"{version}.root.json") for version in _versions(self.keys_dir, "root")]
        if not chain and not have and (self.keys_dir / "root.json").is_file():  # keys from before the chain
            chain = [(1, self.keys_dir / "root.json")]
        added = []
        for version, path in chain:
            if version > newest:
                self.metadata_dir.mkdir(parents=True, exist_ok=True)
                atomic_write(self.metadata_dir / f"{version}.root.json", path.read_bytes())
                added.append(version)
        if added:
            atomic_write(self.metadata_dir / "root.json", (self.metadata_dir / f"{added[-1]}.root.json").read_bytes())
            log.warning("sync: root metadata v%d imported from %s", added[-1], self.keys_dir)
        return added

    def latest(self, role: str) -> Any:
        metadata = self._newest(role)
        if metadata is None:
            raise ConfigError(f"sync repository {self.directory}: no {role} metadata")
        return metadata

    def roots(self) -> list[Any]:
        """Every root in the repository's chain, newest first."""
        return [self._read(f"{version}.root.json") for version in reversed(self._versions("root"))]

    def sign_and_write(self, metadata: Any, role: str, expiry: timedelta, signer: Any) -> None:
        metadata.signed.expires = now().replace(microsecond=0) + expiry
        metadata.signatures.clear()
        metadata.sign(signer)
        name = f"{metadata.signed.version}.{role}.json" if role != "timestamp" else "timestamp.json"
        atomic_write(self.metadata_dir / name, metadata.to_bytes())

    def _write_snapshot(self, root: Any, targets_version: int, previous: Any) -> None:
        from tuf.api.metadata import Metadata, MetaFile, Snapshot

        version = previous.signed.version + 1 if previous is not None else 1
        snapshot = Metadata(Snapshot(version=version, meta={"targets.json": MetaFile(targets_version)}))
        self.sign_and_write(snapshot, "snapshot", self.snapshot_expiry, self.trusted_signer("snapshot", root))

    def _write_timestamp(self, root: Any, previous: Any) -> int:
        from tuf.api.metadata import Metadata, MetaFile, Timestamp

        snapshot = self.latest("snapshot")
        version = previous.signed.version + 1 if previous is not None else 1
        timestamp = Metadata(Timestamp(version=version, snapshot_meta=MetaFile(snapshot.signed.version)))
        self.sign_and_write(timestamp, "timestamp", self.timestamp_expiry, self.trusted_signer("timestamp", root))
        return version

    def trusted_signer(self, role: str, root: Any, passphrase: str | None = None) -> Any:
        """The role's key from the keys folder, refused unless the newest root names it."""
        signer = load_signer(self.keys_dir, role, passphrase)
        if signer.public_key.keyid not in root.signed.roles[role].keyids:
            raise ConfigError(
                f"the {role} key in {self.keys_dir} is not the one root v{root.signed.version} names "
                "(after edgesplit keys rotate, copy the new key here)"
            )
        return signer

    def _due(self, metadata: Any, role: str, root: Any, lifetime: timedelta) -> bool:
        """Missing, past half its lifetime, or signed by a key the newest root no longer names."""
        if metadata is None or metadata.signed.expires - now() < lifetime / 2:
            return True
        return not signed_by(root, role, metadata)

    def _timestamp(self) -> Any:
        return self._read("timestamp.json") if (self.metadata_dir / "timestamp.json").is_file() else None

    def _newest(self, role: str) -> Any:
        versions = self._versions(role)
        return self._read(f"{versions[-1]}.{role}.json") if versions else None

    def _versions(self, role: str) -> list[int]:
        return _versions(self.metadata_dir, role)

    def _read(self, name: str) -> Any:
        from tuf.api.metadata import Metadata

        return Metadata.from_file(str(self.metadata_dir / name))


def signed_by(root: Any, role: str, metadata: Any) -> bool:
    """Does ``root`` vouch for ``metadata`` as ``role`` (its keys, its threshold)?"""
    from tuf.api.exceptions import UnsignedMetadataError

    try:
        root.verify_delegate(role, metadata)
    except UnsignedMetadataError:
        return False
    return True


def _versions(folder: Path, role: str) -> list[int]:
    """The versions of ``N.<role>.json`` files in ``folder``, oldest first."""
    names = (p.name.split(".", 1)[0] for p in folder.glob(f"*.{role}.json"))
    return sorted(int(name) for name in names if name.isdigit())
