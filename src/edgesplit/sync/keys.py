"""Signing keys for the sync repository: one ed25519 key per TUF role, and the root chain.

``edgesplit keys init DIR`` writes ``<role>.pem`` (the private key) and ``<role>.pub.json`` for
root, targets, snapshot and timestamp, plus ``root.json`` and ``1.root.json``: version 1 of the
root metadata, signed by the root key. ``root.json`` is what every edge is given as its trust
anchor (``sync_root``).

The keys split the TUF way. Root and targets are *offline* keys: they sign a new root and a new
bundle, on the operator's machine, and may be encrypted with a passphrase. Snapshot and
timestamp are *online* keys: the serving cloud re-signs with them on a schedule, unattended, so
``init --online DIR2`` puts them in a folder of their own, the only one the cloud needs.

``edgesplit keys rotate`` writes root N+1: new keys for the roles named (the old ones revoked),
a fresh expiry, signed by the old root key and the new one. An edge that was offline for any
number of rotations walks the chain ``2.root.json``, ``3.root.json``, … on its next pull.

Private keys are written 0600 (replaced, never widened), folders 0700, metadata 0644.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from edgesplit.errors import ConfigError
from edgesplit.sync.clock import now
from edgesplit.sync.files import atomic_write

__all__ = [
    "OFFLINE_ROLES",
    "ONLINE_ROLES",
    "PASSPHRASE_ENV",
    "ROLES",
    "ROOT_EXPIRY",
    "init_keys",
    "load_signer",
    "rotate_keys",
    "trusted_root",
    "write_public",
]

ROLES = ("root", "targets", "snapshot", "timestamp")
OFFLINE_ROLES = ("root", "targets")  # sign roots and bundles: kept off the serving host
ONLINE_ROLES = ("snapshot", "timestamp")  # re-signed by the serving cloud on a schedule
ROOT_EXPIRY = timedelta(days=365)
PASSPHRASE_ENV = "EDGESPLIT_KEY_PASSPHRASE"


def init_keys(
    directory: Path, overwrite: bool = False, online_dir: Path | None = None, passphrase: str | None = None
) -> Path:
    """Generate the four role keys and a signed root.json in ``directory``; returns root.json's path.

    ``online_dir`` takes the snapshot and timestamp keys (default: ``directory``); ``passphrase``
    encrypts the offline (root and targets) keys."""
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata, Root

    online = online_dir or directory
    for folder in {directory, online}:
        _secure_dir(folder)
    if (directory / "root.pem").exists() and not overwrite:
        raise ConfigError(f"keys already exist in {directory}; refusing to replace them (--overwrite)")
    signers = {role: CryptoSigner.generate_ed25519() for role in ROLES}
    for role, signer in signers.items():
        _write_key(directory, online, role, signer, passphrase)
    root = Root(expires=_expiry(ROOT_EXPIRY), consistent_snapshot=True)
    for role, signer in signers.items():
        root.add_key(signer.public_key, role)
    metadata = Metadata(root)
    metadata.sign(signers["root"])
    return _write_root(directory, metadata)


def rotate_keys(
    directory: Path,
    roles: tuple[str, ...] = ("root",),
    online_dir: Path | None = None,
    passphrase: str | None = None,
    expiry: timedelta = ROOT_EXPIRY,
) -> Path:
    """Write root N+1 with new keys for ``roles`` (none: only a fresh expiry), signed by the old and
    the new root key; returns the new root.json's path. The replaced private keys are deleted."""
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata

    if bad := sorted(set(roles) - set(ROLES)):
        raise ConfigError(f"keys rotate: no TUF role named {', '.join(bad)} (roles: {', '.join(ROLES)})")
    online = online_dir or directory
    current = Metadata.from_file(str(_root_path(directory)))
    old_root = load_signer(directory, "root", passphrase)
    _check_is_root_key(current, old_root)
    new = Metadata.from_bytes(current.to_bytes())
    new.signed.version += 1
    new.signed.expires = _expiry(expiry)
    replacements = {role: CryptoSigner.generate_ed25519() for role in roles}
    for role, signer in replacements.items():
        for keyid in list(new.signed.roles[role].keyids):
            new.signed.revoke_key(keyid, role)
        new.signed.add_key(signer.public_key, role)
    new.signatures.clear()
    new.sign(replacements.get("root", old_root), append=True)
    if "root" in replacements:
        new.sign(old_root, append=True)  # the old root vouches for the new one
    path = _write_root(directory, new)  # first: a crash after it leaves the old keys usable for a retry
    for role, signer in replacements.items():
        _write_key(directory, online, role, signer, passphrase)
    return path


def load_signer(directory: Path, role: str, passphrase: str | None = None) -> Any:
    """The ``CryptoSigner`` for ``role`` from ``directory`` (raises ConfigError naming the file).

    An encrypted key is opened with ``passphrase`` or, failing that, ``EDGESPLIT_KEY_PASSPHRASE``."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.signer import CryptoSigner

    path = directory / f"{role}.pem"
    secret = passphrase or os.environ.get(PASSPHRASE_ENV)
    try:
        data = path.read_bytes()
        encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0]
        private = load_pem_private_key(data, secret.encode() if secret and encrypted else None)
    except FileNotFoundError:
        raise ConfigError(f"no {role} signing key at {path} (create keys with: edgesplit keys init)") from None
    except TypeError:
        raise ConfigError(f"{path} is encrypted: give its passphrase ({PASSPHRASE_ENV})") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not a PEM private key, or a wrong passphrase ({exc})") from None
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


def write_public(path: Path, data: bytes) -> None:
    """Metadata and public keys: replaced atomically, mode 0644 whatever the umask."""
    atomic_write(path, data, 0o644)


def _write_key(directory: Path, online: Path, role: str, signer: Any, passphrase: str | None) -> None:
    from cryptography.hazmat.primitives import serialization

    folder = online if role in ONLINE_ROLES else directory
    private = signer.private_bytes
    if passphrase and role in OFFLINE_ROLES:
        key = serialization.load_pem_private_key(private, None)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
    atomic_write(folder / f"{role}.pem", private, 0o600)
    public = {"keyid": signer.public_key.keyid, **signer.public_key.to_dict()}
    write_public(folder / f"{role}.pub.json", json.dumps(public, indent=1).encode())


def _write_root(directory: Path, metadata: Any) -> Path:
    data = metadata.to_bytes()
    write_public(directory / f"{metadata.signed.version}.root.json", data)
    path = directory / "root.json"
    write_public(path, data)
    return path


def _root_path(directory: Path) -> Path:
    path = directory / "root.json"
    if not path.is_file():
        raise ConfigError(f"no root metadata at {path} (create it with: edgesplit keys init {directory})")
    return path


def _check_is_root_key(root: Any, signer: Any) -> None:
    if signer.public_key.keyid not in root.signed.roles["root"].keyids:
        raise ConfigError(f"the root key in this folder is not one root v{root.signed.version} trusts")


def _expiry(lifetime: timedelta) -> Any:
    return now().replace(microsecond=0) + lifetime


def _secure_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
