"""Signing keys for the sync repository: one ed25519 key per TUF role, kept outside the repository.

``edgesplit keys init DIR`` writes ``<role>.pem`` (the private key, mode 0600) and
``<role>.pub.json`` for root, targets, snapshot and timestamp, plus ``root.json``: version 1 of
the root metadata, signed by the root key. ``root.json`` is what every edge is given as its
trust anchor (``sync_root``); the private keys stay with whoever publishes.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edgesplit.errors import ConfigError

__all__ = ["ROLES", "init_keys", "load_signer", "trusted_root"]

ROLES = ("root", "targets", "snapshot", "timestamp")
ROOT_EXPIRY = timedelta(days=365)


def init_keys(directory: Path, overwrite: bool = False) -> Path:
    """Generate the four role keys and a signed root.json in ``directory``; returns root.json's path."""
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata, Root

    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "root.pem").exists() and not overwrite:
        raise ConfigError(f"keys already exist in {directory}; refusing to replace them (--overwrite)")
    signers = {role: CryptoSigner.generate_ed25519() for role in ROLES}
    for role, signer in signers.items():
        _write_private(directory / f"{role}.pem", signer.private_bytes)
        public = {"keyid": signer.public_key.keyid, **signer.public_key.to_dict()}
        (directory / f"{role}.pub.json").write_text(json.dumps(public, indent=1))
    root = Root(expires=datetime.now(UTC) + ROOT_EXPIRY, consistent_snapshot=True)
    for role, signer in signers.items():
        root.add_key(signer.public_key, role)
    metadata = Metadata(root)
    metadata.sign(signers["root"])
    path = directory / "root.json"
    metadata.to_file(str(path))
    return path


def load_signer(directory: Path, role: str) -> object:
    """The ``CryptoSigner`` for ``role`` from ``directory`` (raises ConfigError naming the file)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.signer import CryptoSigner

    path = directory / f"{role}.pem"
    try:
        private = load_pem_private_key(path.read_bytes(), None)
    except FileNotFoundError:
        raise ConfigError(f"no {role} signing key at {path} (create keys with: edgesplit keys init)") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not a PEM private key ({exc})") from None
    return CryptoSigner(private)


def trusted_root(path: Path) -> bytes:
    """The root metadata an edge trusts (``sync_root``), as bytes for the TUF Updater."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config key 'sync_root': cannot read {path}: {exc}") from None
    if not data.strip().startswith(b"{"):
        raise ConfigError(f"config key 'sync_root': {path} is not TUF root metadata")
    return data


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
