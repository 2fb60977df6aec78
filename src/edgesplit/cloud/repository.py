"""SyncRepository: the cloud's TUF repository of bundles (``edgesplit publish``).

Layout under ``directory``: ``metadata/`` holds ``N.root.json``, ``N.targets.json``,
``N.snapshot.json`` and ``timestamp.json`` (consistent snapshots), ``targets/`` holds every file
under its sha256-prefixed name, so a published file never changes in place and an edge that
resumes a download resumes the same bytes. A publish writes the targets first, then the
versioned metadata, and replaces ``timestamp.json`` last: an edge sees the old bundle or the new
one, never half of one.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edgesplit.errors import ConfigError
from edgesplit.sync.keys import load_signer
from edgesplit.sync.manifest import (
    BUNDLE_TARGET,
    POLICY_KEYS,
    PREPROCESS_KEYS,
    BundleManifest,
    TierFiles,
    overrides_from_toml,
)

__all__ = ["BundleSpec", "SyncRepository", "TierSpec"]

TARGETS_EXPIRY = timedelta(days=90)
SNAPSHOT_EXPIRY = timedelta(days=30)


@dataclass(frozen=True)
class TierSpec:
    """The files one tier gets: a GGUF model (served under ``model_name``) and its router."""

    model: Path | None = None
    model_name: str | None = None
    router: Path | None = None


@dataclass(frozen=True)
class BundleSpec:
    tiers: dict[str, TierSpec] = field(default_factory=dict)  # "device" / "local"
    policy: Path | None = None  # TOML: privacy_* settings
    preprocess: Path | None = None  # TOML: preprocessors, compress_*


class SyncRepository:
    """Publishes bundles and keeps the timestamp fresh; the keys live in ``keys_dir``."""

    def __init__(self, directory: Path, keys_dir: Path, timestamp_expiry_s: float = 86400.0) -> None:
        self.directory = directory
        self.metadata_dir = directory / "metadata"
        self.targets_dir = directory / "targets"
        self.keys_dir = keys_dir
        self.timestamp_expiry = timedelta(seconds=timestamp_expiry_s)

    @property
    def initialised(self) -> bool:
        return (self.metadata_dir / "timestamp.json").is_file()

    def publish(self, spec: BundleSpec) -> BundleManifest:
        """Check the bundle is one consistent set, add its files and sign a new version of it."""
        from tuf.api.metadata import TargetFile

        files = _bundle_files(spec)
        targets = self._open_targets()
        version = targets.signed.version + 1 if self.initialised else targets.signed.version
        manifest = _manifest(spec, version)
        entries = {path: self._add_target(path, source) for path, source in files.items()}
        manifest_bytes = manifest.model_dump_json(indent=1).encode()
        entries[BUNDLE_TARGET] = self._add_target_bytes(BUNDLE_TARGET, manifest_bytes)
        targets.signed.targets = {path: TargetFile.from_dict(info, path) for path, info in entries.items()}
        targets.signed.version = version
        self._sign_and_write(targets, "targets", TARGETS_EXPIRY, versioned=True)
        self._write_snapshot(version)
        self.refresh_timestamp()
        return manifest

    def current_spec(self) -> BundleSpec:
        """The current bundle as a spec over the repository's own files, to republish with a change."""
        manifest = self.current()
        if manifest is None:
            return BundleSpec()
        targets = self._latest("targets").signed.targets

        def stored(path: str | None) -> Path | None:
            return self._target_file(path, targets[path].hashes["sha256"]) if path else None

        tiers: dict[str, TierSpec] = {
            tier: TierSpec(stored(files.model), files.model_name, stored(files.router))
            for tier, files in manifest.tiers.items()
        }
        return BundleSpec(tiers, stored(manifest.policy), stored(manifest.preprocess))

    def current_router(self, tier: str) -> Path | None:
        """The router file the current bundle gives ``tier``, if it gives one."""
        spec = self.current_spec().tiers.get(tier)
        return spec.router if spec is not None else None

    def current(self) -> BundleManifest | None:
        """The manifest of the last published bundle, if any."""
        if not self.initialised:
            return None
        targets = self._open_targets()
        info = targets.signed.targets.get(BUNDLE_TARGET)
        if info is None:
            return None
        digest = info.hashes["sha256"]
        return BundleManifest.model_validate_json((self.targets_dir / f"{digest}.{BUNDLE_TARGET}").read_bytes())

    def refresh_timestamp(self) -> int:
        """Sign a new timestamp for the current snapshot (the cloud does this before it expires)."""
        from tuf.api.metadata import Metadata, MetaFile, Timestamp

        snapshot = self._latest("snapshot")
        previous = self._read("timestamp.json") if self.initialised else None
        version = previous.signed.version + 1 if previous is not None else 1
        timestamp = Metadata(Timestamp(version=version, snapshot_meta=MetaFile(snapshot.signed.version)))
        self._sign_and_write(timestamp, "timestamp", self.timestamp_expiry, versioned=False)
        return version

    def timestamp_expires(self) -> datetime | None:
        if not self.initialised:
            return None
        expires: datetime = self._read("timestamp.json").signed.expires
        return expires

    def _open_targets(self) -> Any:
        from tuf.api.metadata import Metadata, Targets

        self._ensure_root()
        if self.initialised:
            return self._latest("targets")
        return Metadata(Targets(version=1))

    def _ensure_root(self) -> None:
        """The first publish copies the root metadata ``edgesplit keys init`` made."""
        if any(self.metadata_dir.glob("*.root.json")):
            return
        source = self.keys_dir / "root.json"
        if not source.is_file():
            raise ConfigError(f"no root metadata at {source} (create it with: edgesplit keys init {self.keys_dir})")
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.metadata_dir / "1.root.json", source.read_bytes())
        _atomic_write(self.metadata_dir / "root.json", source.read_bytes())

    def _latest(self, role: str) -> Any:
        versions = sorted(int(p.name.split(".", 1)[0]) for p in self.metadata_dir.glob(f"*.{role}.json"))
        if not versions:
            raise ConfigError(f"sync repository {self.directory}: no {role} metadata")
        return self._read(f"{versions[-1]}.{role}.json")

    def _read(self, name: str) -> Any:
        from tuf.api.metadata import Metadata

        return Metadata.from_file(str(self.metadata_dir / name))

    def _write_snapshot(self, targets_version: int) -> None:
        from tuf.api.metadata import Metadata, MetaFile, Snapshot

        version = self._latest("snapshot").signed.version + 1 if self.initialised else 1
        snapshot = Metadata(Snapshot(version=version, meta={"targets.json": MetaFile(targets_version)}))
        self._sign_and_write(snapshot, "snapshot", SNAPSHOT_EXPIRY, versioned=True)

    def _sign_and_write(self, metadata: Any, role: str, expiry: timedelta, versioned: bool) -> None:
        metadata.signed.expires = datetime.now(UTC).replace(microsecond=0) + expiry
        metadata.signatures.clear()
        metadata.sign(load_signer(self.keys_dir, role))
        name = f"{metadata.signed.version}.{role}.json" if versioned else f"{role}.json"
        _atomic_write(self.metadata_dir / name, metadata.to_bytes())

    def _add_target(self, path: str, source: Path) -> dict[str, Any]:
        from tuf.api.metadata import TargetFile

        info = TargetFile.from_file(path, str(source))
        destination = self._target_file(path, info.hashes["sha256"])
        if not destination.exists():
            tmp = destination.with_name(f".{destination.name}.tmp")
            _link_or_copy(source, tmp)
            os.replace(tmp, destination)
        return info.to_dict()

    def _add_target_bytes(self, path: str, data: bytes) -> dict[str, Any]:
        from tuf.api.metadata import TargetFile

        info = TargetFile.from_data(path, data)
        _atomic_write(self._target_file(path, info.hashes["sha256"]), data)
        return info.to_dict()

    def _target_file(self, path: str, digest: str) -> Path:
        directory, _, name = path.rpartition("/")
        folder = self.targets_dir / directory
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{digest}.{name}"


def _bundle_files(spec: BundleSpec) -> dict[str, Path]:
    """target path -> local file, after checking each router was fitted for its tier's model."""
    from edgesplit.routing.artifact import ArtifactError, load_artifact

    files: dict[str, Path] = {}
    for tier, tier_spec in spec.tiers.items():
        if tier_spec.router is not None:
            try:
                load_artifact(tier_spec.router, tier_spec.model_name)
            except ArtifactError as exc:
                raise ConfigError(f"publish: the {tier} router does not fit the {tier} model: {exc}") from None
            files[_target_path(tier_spec)[1]] = tier_spec.router
        if tier_spec.model is not None:
            files[_target_path(tier_spec)[0]] = tier_spec.model
    for path in (*files.values(), spec.policy, spec.preprocess):
        if path is not None and not path.is_file():
            raise ConfigError(f"publish: no file at {path}")
    for name, path, allowed in (("policy", spec.policy, POLICY_KEYS), ("preprocess", spec.preprocess, PREPROCESS_KEYS)):
        if path is not None:
            _check_settings_file(path, allowed, name)
            files[f"{name}.toml"] = path
    return files


def _check_settings_file(path: Path, allowed: tuple[str, ...], what: str) -> None:
    """A policy or pre-processor file must parse, set only its own keys, and validate as settings."""
    import tomllib

    from edgesplit.config import load_settings

    try:
        overrides = overrides_from_toml(path.read_text(), allowed, what)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"publish: {path}: {exc}") from None
    load_settings(role="edge", **overrides)  # raises ConfigError naming the bad key


def _target_path(spec: TierSpec) -> tuple[str, str]:
    name = spec.model_name or "model"
    return f"models/{name}.gguf", f"routers/{name}.json"


def _manifest(spec: BundleSpec, version: int) -> BundleManifest:
    tiers = {}
    for tier, tier_spec in spec.tiers.items():
        model_path, router_path = _target_path(tier_spec)
        tiers[tier] = TierFiles(
            model=model_path if tier_spec.model else None,
            model_name=tier_spec.model_name,
            router=router_path if tier_spec.router else None,
        )
    return BundleManifest(
        version=version,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        tiers=tiers,  # type: ignore[arg-type]
        policy="policy.toml" if spec.policy else None,
        preprocess="preprocess.toml" if spec.preprocess else None,
    )


def _link_or_copy(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
