"""tools/docs.py and the docs: generated blocks up to date, no figure without a result behind it,
the committed OpenAPI specs are the nodes' own, and the site builds with ``mkdocs build --strict``."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from edgesplit.config import Settings
from edgesplit.config_roles import _BY_NAME, ALL_ROLES, roles_of

ROOT = Path(__file__).resolve().parents[1]
HAND_WRITTEN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("edgesplit_docs_tool", ROOT / "tools" / "docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs = _tool()


def test_the_readme_is_a_front_page_whose_blocks_are_what_the_generator_writes() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    assert docs.fill_blocks(text) == text, "run: python tools/docs.py readme"
    for link in re.findall(r"\]\(((?:docs|bench|eval)/[^)#]*)\)", text):
        assert (ROOT / link).exists(), link


@pytest.mark.parametrize("page", HAND_WRITTEN, ids=lambda p: p.name)
def test_no_figure_is_quoted_outside_a_generated_block(page: Path) -> None:
    assert docs.figures_outside_blocks(page.read_text()) == []


def test_the_figure_check_catches_a_quoted_figure() -> None:
    assert docs.figures_outside_blocks("the edge adds 3.59 ms and keeps 80% local, 2.5x faster") == [
        "3.59 ms", "80%", "2.5x"]  # fmt: skip
    assert docs.figures_outside_blocks("`timeout 5 s` in code, a model of 1.5B, 3 tiers") == []
    block = "<!-- generated: headline -->\n| a | 3.59 ms |\n<!-- /generated -->"
    assert docs.figures_outside_blocks(block) == []


def test_every_generated_figure_is_in_the_result_it_links() -> None:
    text = (ROOT / "README.md").read_text()
    block = docs.BLOCK.search(text)
    assert block is not None
    rows = [r for r in block.group(0).splitlines() if r.startswith("| ") and "`" in r]
    assert len(rows) >= 4
    for row in rows:
        figures = re.findall(r"\d[\d,]*(?:\.\d+)?", row.split("|")[2])
        source = (ROOT / re.search(r"\]\(([^)]+)\)", row).group(1)).read_text()  # type: ignore[union-attr]
        assert figures and all(f in source for f in figures), row


def test_the_committed_openapi_specs_are_the_nodes_own() -> None:
    """In a process of its own, as the tool runs: the spec lists the schemas declared in its
    process, and a test worker has built many other nodes."""
    command = [sys.executable, str(ROOT / "tools" / "docs.py"), "openapi", "--check"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_the_config_reference_has_every_key_with_its_env_var_and_roles() -> None:
    page = docs.config_reference()
    for name in Settings.model_fields:
        assert f"| `{name}` | `EDGESPLIT_{name.upper()}` |" in page
        assert set(roles_of(name)) <= set(ALL_ROLES) and roles_of(name)
    assert set(_BY_NAME) <= set(Settings.model_fields)  # no stale names
    assert roles_of("ray_replicas") == ("cloud",) and roles_of("privacy_mode") == ("edge", "local")
    assert "| `upstream_timeout_s` | `EDGESPLIT_UPSTREAM_TIMEOUT_S` | `float` | `30.0` | edge, local |" in page


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    done = subprocess.run([str(mkdocs), "build", "--strict", "-d", str(tmp_path / "site")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for page in ("reference/config", "reference/api", "benchmarks", "quickstart", "concepts", "deployment",
                 "troubleshooting"):  # fmt: skip
        assert (tmp_path / "site" / page / "index.html").exists(), page
    bench = (tmp_path / "site" / "benchmarks" / "index.html").read_text()
    assert "Gateway" in bench and "<img" in bench
