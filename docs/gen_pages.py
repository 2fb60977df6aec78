"""mkdocs-gen-files: the configuration reference, the API reference and the benchmarks page (tools/docs.py)."""

import importlib.util
import shutil
import sys
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
spec = importlib.util.spec_from_file_location("edgesplit_docs", ROOT / "tools" / "docs.py")
assert spec is not None and spec.loader is not None
docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs)


def write(path: str, text: str) -> None:
    with mkdocs_gen_files.open(path, "w") as f:
        f.write(text)


def copy(source: Path, path: str) -> None:
    with mkdocs_gen_files.open(path, "wb") as f, source.open("rb") as g:
        shutil.copyfileobj(g, f)


docs.write_pages(write, copy)
