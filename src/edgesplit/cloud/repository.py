"""SyncRepository: the cloud's TUF repository of bundles (``edgesplit publish``).

Layout under ``directory``: ``metadata/`` holds ``N.root.json``, ``N.targets.json``,
``N.snapshot.json`` and ``timestamp.json`` (consistent snapshots), ``targets/`` holds every file
under its sha256-prefixed name, so a published file never changes in place and an edge that
resumes a download resumes the same bytes.

A publish copies the targets in (verified against their digest; a damaged copy already there is
replaced), signs the targets metadata with the *targets* key, then the snapshot and timestamp
with the online keys when they are at hand, replacing ``timestamp.json`` last: an edge sees the
old bundle or the new one, never half of one. On an operator machine without the online keys,
publish stops after the targets; the serving cloud's :mod:`~edgesplit.cloud.freshness` loop
signs the snapshot and timestamp for it (see :mod:`edgesplit.cloud.online_signing`).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgesplit.cloud.online_signing import OnlineSigner, signed_by
from edgesplit.errors import ConfigError
from edgesplit.sync.files import atomic_write, file_digest
from edgesplit.sync.keys import OFFLINE_ROLES
from edgesplit.sync.manifest import (
    BUNDLE_TARGET,
    POLICY_KEYS,
    PREPROCESS_KEYS,
    BundleManifest,
    TierFiles,
    overrides_from_toml,
)

if TYPE_CHECKING:
    from edgesplit.config import Settings

__all__ = ["TARGETS_EXPIRY", "BundleSpec", "SyncRepository", "TierSpec", "repository_for", "warn_of_offline_keys"]

log = logging.getLogger("edgesplit.cloud.sync")

TARGETS_EXPIRY = timedelta(days=90)


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


class SyncRepository(OnlineSigner):
    """Publishes bundles (targets key) and keeps snapshot and timestamp fresh (online keys);
    the keys live in ``keys_dir``."""

    def publish(self, spec: BundleSpec, passphrase: str | None = None) -> BundleManifest:
        """Check the bundle is one consistent set, add its files and sign a new version of it."""
        with self.lock:
            return self._publish(spec, passphrase)

    def _publish(self, spec: BundleSpec, passphrase: str | None) -> BundleManifest:
        from tuf.api.metadata import TargetFile

        self.import_roots()
        files = _bundle_files(spec, self._published_spec())
        targets = self._open_targets()
        version = targets.signed.version + 1 if self.initialised else targets.signed.version
        manifest = _manifest(spec, version)
        entries = {path: self._add_target(path, source) for path, source in files.items()}
        manifest_bytes = manifest.model_dump_json(indent=1).encode()
        entries[BUNDLE_TARGET] = self._add_target_bytes(BUNDLE_TARGET, manifest_bytes)
        targets.signed.targets = {path: TargetFile.from_dict(info, path) for path, info in entries.items()}
        self._sign_targets(targets, version, passphrase)
        return manifest

    def resign(self, passphrase: str | None = None) -> int:
        """Sign the current bundle again, unchanged, with a fresh expiry (and the current targets
        key, after a rotation); returns the new targets version. Edges download nothing."""
        with self.lock:
            return self._resign(passphrase)

    def _resign(self, passphrase: str | None) -> int:
        self.import_roots()
        if not self.initialised:
            raise ConfigError(f"sync repository {self.directory}: nothing published to re-sign")
        targets = self._trusted_targets()
        version: int = targets.signed.version + 1
        self._sign_targets(targets, version, passphrase)
        return version

    def current_spec(self) -> BundleSpec:
        """The current bundle as a spec over the repository's own files, each checked against the
        signed digest (ConfigError for one that changed on disk), to republish with one change."""
        manifest = self.current()
        if manifest is None:
            return BundleSpec()
        targets = self._trusted_targets().signed.targets

        def stored(path: str | None) -> Path | None:
            return self._verified_target(path, targets[path]) if path else None

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
        info = self._trusted_targets().signed.targets.get(BUNDLE_TARGET)
        if info is None:
            return None
        return BundleManifest.model_validate_json(self._verified_target(BUNDLE_TARGET, info).read_bytes())

    def _sign_targets(self, targets: Any, version: int, passphrase: str | None) -> None:
        targets.signed.version = version
        signer = self.trusted_signer("targets", self.latest("root"), passphrase)
        self.sign_and_write(targets, "targets", TARGETS_EXPIRY, signer)
        if self.has_online_keys():
            self.refresh_online(force=True)
        else:
            log.info("targets v%d signed; the serving cloud signs its snapshot and timestamp", version)

    def _published_spec(self) -> BundleSpec | None:
        try:
            return self.current_spec() if self.initialised else None
        except ConfigError:
            return None  # a damaged current bundle: the new one must then name its models itself

    def _open_targets(self) -> Any:
        from tuf.api.metadata import Metadata, Targets

        self.ensure_root()
        if self.initialised:
            return self._trusted_targets()
        return Metadata(Targets(version=1))

    def _trusted_targets(self) -> Any:
        """The newest targets metadata, its signature checked against the root chain (newest first:
        before a re-sign, the last targets key may be a rotated one)."""
        targets = self.latest("targets")
        if not any(signed_by(root, "targets", targets) for root in self.roots()):
            raise ConfigError(f"sync repository {self.directory}: targets metadata not signed by any root")
        return targets

    def _verified_target(self, path: str, info: Any) -> Path:
        stored = self._target_file(path, info.hashes["sha256"])
        if not stored.is_file() or file_digest(stored) != (info.hashes["sha256"], info.length):
            raise ConfigError(f"sync repository: the stored {path} is missing or differs from what was signed")
        return stored

    def _add_target(self, path: str, source: Path) -> dict[str, Any]:
        """Copy ``source`` in under its digest; a stored file with that name but other bytes is replaced."""
        from tuf.api.metadata import TargetFile

        info = TargetFile.from_file(path, str(source))
        digest = info.hashes["sha256"]
        destination = self._target_file(path, digest)
        if destination.is_file() and file_digest(destination) == (digest, info.length):
            return info.to_dict()
        if destination.exists():
            log.warning("sync: stored target %s was damaged; replacing it", destination.name)
        tmp = destination.with_name(f".{destination.name}.tmp")
        shutil.copyfile(source, tmp)  # a copy: editing the source later cannot change what was published
        if file_digest(tmp) != (digest, info.length):
            tmp.unlink()
            raise ConfigError(f"publish: {source} changed while it was being copied; publish again")
        os.chmod(tmp, 0o644)
        os.replace(tmp, destination)
        return info.to_dict()

    def _add_target_bytes(self, path: str, data: bytes) -> dict[str, Any]:
        from tuf.api.metadata import TargetFile

        info = TargetFile.from_data(path, data)
        atomic_write(self._target_file(path, info.hashes["sha256"]), data)
        return info.to_dict()

    def _target_file(self, path: str, digest: str) -> Path:
        directory, _, name = path.rpartition("/")
        folder = self.targets_dir / directory
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{digest}.{name}"


def repository_for(settings: Settings) -> SyncRepository:
    """The sync repository a configuration names: ``data_dir/sync``, keys in ``sync_keys_dir``."""
    data = settings.resolved_data_dir()
    return SyncRepository(
        data / "sync",
        settings.sync_keys_dir or data / "keys",
        settings.sync_timestamp_expiry_s,
        settings.sync_snapshot_expiry_s,
    )


def warn_of_offline_keys(keys_dir: Path) -> None:
    """A serving cloud needs only the online keys; say so when the offline ones sit beside them."""
    found = [role for role in OFFLINE_ROLES if (keys_dir / f"{role}.pem").is_file()]
    if found:
        log.warning(
            "sync: the %s key(s) are on this serving host (%s); keep them offline and give the cloud only "
            "the snapshot and timestamp keys (edgesplit keys init --online)",
            " and ".join(found),
            keys_dir,
        )


def _bundle_files(spec: BundleSpec, published: BundleSpec | None) -> dict[str, Path]:
    """target path -> local file, after the edge's own checks: each router fits its tier's model
    (name and feature size), each file exists, the TOML files set only their own keys and validate."""
    files: dict[str, Path] = {}
    for tier, tier_spec in spec.tiers.items():
        if tier_spec.router is not None:
            _check_router(tier, tier_spec, published.tiers.get(tier) if published else None)
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


def _check_router(tier: str, spec: TierSpec, published: TierSpec | None) -> None:
    from edgesplit.routing.artifact import ArtifactError, load_artifact

    assert spec.router is not None
    try:
        load_artifact(spec.router, spec.model_name, _hidden_size(spec, published))
    except ArtifactError as exc:
        raise ConfigError(f"publish: the {tier} router does not fit the {tier} model: {exc}") from None


def _hidden_size(spec: TierSpec, published: TierSpec | None) -> int | None:
    """The embedding width of the model the router will run beside: the bundle's own model file,
    else the one already published for the tier, else the registry model of that name."""
    from edgesplit.model_info import read_gguf_info
    from edgesplit.models import MODELS, locate_model

    model = spec.model
    if model is None and published is not None and published.model_name == spec.model_name:
        model = published.model
    if model is None and spec.model_name in MODELS:
        try:
            model = locate_model(spec.model_name)
        except Exception:  # not installed here: the edge checks it when it loads
            return None
    return read_gguf_info(model).hidden_size if model is not None else None


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
    from edgesplit.sync.clock import now

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
        created_at=now().isoformat(timespec="seconds"),
        tiers=tiers,  # type: ignore[arg-type]
        policy="policy.toml" if spec.policy else None,
        preprocess="preprocess.toml" if spec.preprocess else None,
    )
