"""Eval sets from installed packages, fixed splits, and user JSONL with bad lines."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edgesplit.errors import ConfigError
from edgesplit.evaluation.datasets import load_jsonl_items, load_set, set_name, split_of


def test_builtin_sets_load_offline() -> None:
    humaneval = load_set("humaneval")
    assert len(humaneval) == 164 and humaneval[0].key == "humaneval/0"
    assert humaneval[0].label_kind == "tests" and humaneval[0].test["entry_point"] == "has_close_elements"
    mtbench = load_set("mtbench")
    assert len(mtbench) == 80 and len({i.category for i in mtbench}) == 8
    with_reference = {i.category for i in mtbench if i.label_kind == "judge-reference"}
    assert with_reference == {"math", "reasoning", "coding"}
    assert all(i.reference for i in mtbench if i.label_kind == "judge-reference")


def test_sharegpt_sample_is_fixed() -> None:
    first, second = load_set("sharegpt"), load_set("sharegpt")
    assert [i.key for i in first] == [i.key for i in second]
    assert len(first) == 64 and all(20 <= len(i.prompt) <= 1500 for i in first)


def test_splits_are_fixed_and_about_half() -> None:
    keys = [f"set/{i}" for i in range(1000)]
    calib = sum(split_of(k) == "calib" for k in keys)
    assert 440 < calib < 560
    assert [split_of(k) for k in keys] == [split_of(k) for k in keys]
    assert split_of("humaneval/0") == load_set("humaneval")[0].split


def test_malformed_lines_are_reported_one_by_one_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "my prompts.jsonl"
    path.write_text(
        '{"id": "a", "prompt": "What is the capital of France?"}\n'
        "{broken\n"
        '["a", "list"]\n'
        "null\n"
        '{"id": "b"}\n'
        "\n"
        '{"id": "a", "prompt": "again"}\n'
        '{"id": "c", "prompt": "Write a haiku.", "category": "writing"}\n'
    )
    with caplog.at_level(logging.WARNING):
        items = load_jsonl_items(path)
    assert [i.id for i in items] == ["a", "c"]
    assert items[1].category == "writing" and items[0].set == set_name(str(path)) == "my-prompts"
    checks = {
        2: "not JSON (",
        3: "not a JSON object",
        4: "not a JSON object",
        5: "missing a non-empty string 'prompt'",
        7: "duplicate id 'a'",
    }
    for line, reason in checks.items():
        assert f"line {line} skipped: {reason}" in caplog.text


def test_unknown_set_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown eval set"):
        load_set("mmlu")
