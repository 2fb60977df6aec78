"""Sealed mappings: encrypted at rest, expiring, unreadable with another key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from edgesplit.errors import ConfigError
from edgesplit.privacy.sealed import SealedMappings, load_key
from edgesplit.privacy.vault import Mapping


def _mapping() -> Mapping:
    mapping = Mapping()
    mapping.placeholder("PERSON", "Alice Walker")
    mapping.placeholder("EMAIL_ADDRESS", "alice@example.com")
    return mapping


def test_a_sealed_mapping_round_trips_and_is_encrypted(tmp_path: Path) -> None:
    sealed = SealedMappings(tmp_path / "vault.sqlite", load_key(tmp_path / "vault.key"), ttl_s=60)
    sealed.seal("c:1", _mapping())
    opened = sealed.open("c:1")
    assert opened is not None and opened.value_of == _mapping().value_of
    assert opened.placeholder("PERSON", "Alice Walker") == "<PERSON_1>"  # same value, same placeholder
    assert opened.placeholder("PERSON", "Bob Stone") == "<PERSON_2>"  # counters carried on
    sealed.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("vault.sqlite*"))
    assert b"Alice Walker" not in on_disk and b"alice@example.com" not in on_disk


def test_the_key_file_is_private_and_reused(tmp_path: Path) -> None:
    key = load_key(tmp_path / "vault.key")
    assert stat.S_IMODE((tmp_path / "vault.key").stat().st_mode) == 0o600
    assert load_key(tmp_path / "vault.key") == key
    configured = Fernet.generate_key().decode()
    assert load_key(tmp_path / "vault.key", configured) == configured.encode()
    with pytest.raises(ConfigError, match="vault_key"):
        load_key(tmp_path / "other.key", "not-a-key")


def test_expiry_still_applies(tmp_path: Path) -> None:
    now = [1000.0]
    sealed = SealedMappings(tmp_path / "v.sqlite", load_key(tmp_path / "k"), ttl_s=10, clock=lambda: now[0])
    sealed.seal("c:1", _mapping())
    sealed.seal("c:2", _mapping())
    now[0] += 11
    assert sealed.open("c:1") is None
    assert sealed.purge() == 1  # c:2 expired too; c:1 was deleted when read
    assert sealed.open("c:2") is None


def test_a_mapping_sealed_with_another_key_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    first = SealedMappings(path, Fernet.generate_key(), ttl_s=60)
    first.seal("c:1", _mapping())
    first.close()
    assert SealedMappings(path, Fernet.generate_key(), ttl_s=60).open("c:1") is None
