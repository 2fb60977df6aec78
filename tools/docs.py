"""The generated parts of the docs and the README, from the code and the committed results.

    python tools/docs.py openapi [--check]   # docs/openapi/{edge,cloud}.json from real nodes (loads SmolLM2)
    python tools/docs.py readme    # README.md's generated blocks from bench/results and eval/report

``mkdocs build`` runs :func:`write_pages` (through ``docs/gen_pages.py``, mkdocs-gen-files): the
configuration reference from ``Settings``, the API reference from the committed OpenAPI specs and
the benchmarks page from the committed results. Every figure the README and the docs quote sits
in a generated block (``<!-- generated: name -->`` … ``<!-- /generated -->``);
``tests/test_docs.py`` fails on a figure outside one, and on a block that is not what this
script writes now.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NONE = "\u2013"  # an en dash: no schema
DOCS = ROOT / "docs"
SPECS = DOCS / "openapi"
BLOCK = re.compile(r"<!-- generated: (?P<name>[\w-]+) -->\n.*?<!-- /generated -->", re.S)
# a quoted figure: a number with a unit or a percent sign, or a ratio such as 2.5x
_UNITS = r"%|x\b|\u00d7|ms\b|s\b|min\b|minutes?\b|seconds?\b|hours?\b|tok/s\b|tokens/s\b|[KMG]i?B\b|Mbit/s\b"
FIGURE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?(?:" + _UNITS + ")")


# --- configuration reference -------------------------------------------------------------------


def _field_comments() -> dict[str, str]:
    """Each Settings field's comment in config.py: the line's own, and the comment lines just above."""
    source = (ROOT / "src/edgesplit/config.py").read_text().splitlines()
    tree = ast.parse("\n".join(source))
    settings = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    comments: dict[str, str] = {}
    for node in settings.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above, i = [], node.lineno - 2
        while i >= 0 and source[i].strip().startswith("#"):
            above.insert(0, source[i].strip().lstrip("# "))
            i -= 1
        last = source[(node.end_lineno or node.lineno) - 1]
        own = last.split("  # ", 1)[1] if "  # " in last else ""
        comments[node.target.id] = " ".join([*above, own]).strip()
    return comments


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if not getattr(annotation, "__args__", None) else None
    text = text or str(annotation)
    text = re.sub(r"\b(?:typing|pathlib|pydantic\.types|edgesplit\.[\w.]+)\.", "", text)
    return text.replace("NoneType", "None").replace("<class '", "").replace("'>", "")


def _default(field: Any) -> str:
    from pydantic_core import PydanticUndefined

    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined:
        return "required"
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def config_reference() -> str:
    """Every key of Settings: env var, type, default, the roles that read it, and what it means."""
    from edgesplit.config import ENV_PREFIX, Settings
    from edgesplit.config_roles import roles_of

    comments = _field_comments()
    rows = [
        "# Configuration reference\n",
        "Generated from `edgesplit.config.Settings` by `tools/docs.py`. Precedence, highest first: "
        "command-line flags, `EDGESPLIT_*` environment variables, the TOML file (`--config node.toml`), "
        "then these defaults. A bad value stops the node at start-up with a message naming the key.\n",
        "| key | env var | type | default | roles | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        meaning, kind, default = (_cell(t) for t in (comments.get(name, ""), _type_name(field.annotation),
                                                       _default(field)))  # fmt: skip
        rows.append(f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | `{kind}` | `{default}` "
                    f"| {', '.join(roles_of(name))} | {meaning} |")  # fmt: skip
    return "\n".join(rows) + "\n"


# --- API reference -----------------------------------------------------------------------------


def node_specs() -> dict[str, dict[str, Any]]:
    """The OpenAPI spec of a device with an upstream and of a cloud with split and speculative sessions."""
    from edgesplit.config import load_settings
    from edgesplit.http.app import create_app
    from edgesplit.server import build_node

    specs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for role, extra in (("edge", {"upstream": "http://127.0.0.1:9"}),
                            ("cloud", {"api_token": "docs", "split_model": "smollm2-135m-instruct",
                                       "speculative_model": "smollm2-135m-instruct"})):  # fmt: skip
            settings = load_settings(role=role, port=0, model="smollm2-135m-instruct", data_dir=Path(tmp) / role,
                                     router_packaged=False, answer_check_packaged=False, **extra)  # fmt: skip
            specs[role] = create_app(build_node(settings)).openapi()
    return specs


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return NONE
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[`{name}`](#{name.lower()})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(_schema_name(s) for s in schema[key])
    return f"`{schema.get('type', 'object')}`"


def _field_type(schema: dict[str, Any]) -> str:
    if "$ref" in schema or "anyOf" in schema:
        return _schema_name(schema)
    return f"`{schema.get('type', 'any')}`"


def api_reference(specs: dict[str, dict[str, Any]]) -> str:
    """Every operation of each role's spec, then every schema with its fields."""
    out = ["# API reference\n",
           "Generated by `tools/docs.py` from the OpenAPI specs of real nodes (`docs/openapi/*.json`; "
           "every node also serves its own at `/openapi.json`). Every error is the OpenAI error body "
           "([`ErrorBody`](#errorbody)).\n"]  # fmt: skip
    schemas: dict[str, Any] = {}
    for role, spec in specs.items():
        out += [
            f"## {role.capitalize()} node\n",
            "| method | path | summary | request | success |",
            "|---|---|---|---|---|",
        ]
        for path, item in spec["paths"].items():
            for method, op in item.items():
                body = op.get("requestBody", {}).get("content", {})
                request = next((_schema_name(c.get("schema")) for c in body.values()), NONE)
                ok = next((r for s, r in op["responses"].items() if s.startswith("2")), {})
                content = ok.get("content", {})
                success = next((_schema_name(c.get("schema")) for c in content.values()), NONE)
                summary = _cell(op.get("summary") or "")
                out.append(f"| {method.upper()} | `{path}` | {summary} | {request} | {success} |")
        out.append("")
        schemas.update(spec.get("components", {}).get("schemas", {}))
    out.append("## Schemas\n")
    for name in sorted(schemas):
        schema = schemas[name]
        out.append(f"### {name}\n\n{(schema.get('description') or '').strip()}\n")
        props = schema.get("properties", {})
        if props:
            required = set(schema.get("required", []))
            out += ["| field | type | required |", "|---|---|---|"]
            out += [f"| `{k}` | {_field_type(v)} | {'yes' if k in required else ''} |" for k, v in props.items()]
            out.append("")
    return "\n".join(out) + "\n"


# --- results: the benchmarks page and the README's figures ----------------------------------------


def _results() -> list[Any]:
    from edgesplit.evaluation.bench_report import EVAL_REPORT, RESULTS, load_results

    return load_results(RESULTS, EVAL_REPORT)


def benchmarks_page(results: list[Any]) -> str:
    """Every committed result, as the report shows it, its plots under ``img/``."""
    from edgesplit.evaluation.bench_report import result_section

    out = ["# Benchmarks\n",
           "Generated by `tools/docs.py` from the stamped results committed in `bench/results/` and "
           "`eval/report/`; `edgesplit report` builds the same page locally. Each bench script "
           "(`bench/*.py`) prints its table and rewrites its result; a figure here is only ever one "
           "of those files.\n"]  # fmt: skip
    out += [result_section(result, f"## {result.title}", images="img/") for result in results]
    return "\n".join(out) + "\n"


def _table_rows(markdown: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines()
            if line.startswith("|") and not set(line) <= set("|-: ")]  # fmt: skip


def _headline() -> str:
    """The README's headline figures, each row taken from one committed result."""
    by_name = {r.name: r for r in _results()}
    rows = ["| what | figure | result |", "|---|---|---|"]
    ladder = by_name.get("ladder")
    if ladder is not None:
        mix = next(r for r in _table_rows(ladder.markdown) if r[0] == "heldout/mix")
        rows.append(f"| requests that never reach the cloud, oracle ladder (held-out mix, n={mix[1]}) | {mix[7]} "
                    f"| [`eval/report/ladder.md`](eval/report/ladder.md) |")  # fmt: skip
    routed = by_name.get("ladder_router")
    if routed is not None:
        held = next(r for r in _table_rows(routed.markdown) if r[0] == "heldout")
        rows.append(f"| requests that never reach the cloud, routers fitted by `calibrate-ladder` "
                    f"(held-out, n={held[1]}; "
                    f"goal about 80%) | {held[5]} at {held[6]} of cloud-only quality "
                    f"| [`eval/report/ladder_router.md`](eval/report/ladder_router.md) |")  # fmt: skip
    redact = by_name.get("redact")
    if redact is not None:
        corpus = redact.markdown.split("### ")[-1]  # the corpus written last: nothing was tuned on it
        overall = next(r for r in _table_rows(corpus) if r[0] == "**overall**")
        name = corpus.split("\n", 1)[0].split(" (")[0]
        rows.append(f"| PII on the last-written corpus ({name}, {overall[1]} values): precision / recall / "
                    f"false positives / leaked, edgesplit vs Presidio | {overall[2]} vs {overall[4]} "
                    f"| [`bench/results/redact.md`](bench/results/redact.md) |")  # fmt: skip
    sync = by_name.get("sync")
    if sync is not None:
        year = next(r for r in _table_rows(sync.markdown) if r[0].startswith("weekly publish"))
        rows.append(f"| a simulated year of sync ({year[1]} days, {year[5]} attacks): refused that should pass, "
                    f"accepted that should fail | {year[6]}, {year[7]} "
                    f"| [`bench/results/sync.md`](bench/results/sync.md) |")  # fmt: skip
    gateway = by_name.get("gateway")
    if gateway is not None:
        for row in _table_rows(gateway.markdown)[1:]:
            if row[0].startswith(("edge (default", "bare proxy")):
                rows.append(f"| gateway overhead over a direct call, {row[0]}: added p50 | {row[3]} ms "
                            f"| [`bench/results/gateway.md`](bench/results/gateway.md) |")  # fmt: skip
    return "\n".join(rows)


GENERATORS: dict[str, Callable[[], str]] = {"headline": _headline}


def fill_blocks(text: str) -> str:
    """``text`` with each generated block rewritten by its generator."""

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        return f"<!-- generated: {name} -->\n{GENERATORS[name]()}\n<!-- /generated -->"

    return BLOCK.sub(fill, text)


def figures_outside_blocks(text: str) -> list[str]:
    """Every figure ``text`` quotes outside a generated block (code spans and blocks aside)."""
    bare = BLOCK.sub("", text)
    bare = re.sub(r"```.*?```", "", bare, flags=re.S)
    bare = re.sub(r"`[^`\n]*`", "", bare)
    return FIGURE.findall(bare)


def write_pages(write: Callable[[str, str], None], copy: Callable[[Path, str], None]) -> None:
    """The generated pages, for mkdocs-gen-files: ``write(path, text)``, ``copy(file, path)``."""
    write("reference/config.md", config_reference())
    write("reference/api.md", api_reference({p.stem: json.loads(p.read_text()) for p in sorted(SPECS.glob("*.json"))}))
    results = _results()
    write("benchmarks.md", benchmarks_page(results))
    for result in results:
        for plot, name in result.images:
            copy(plot, f"img/{name}")


def main(argv: list[str]) -> int:
    if argv in (["openapi"], ["openapi", "--check"]):
        SPECS.mkdir(parents=True, exist_ok=True)
        stale = []
        for role, spec in node_specs().items():
            text = json.dumps(spec, indent=1, sort_keys=True) + "\n"
            path = SPECS / f"{role}.json"
            if "--check" not in argv:
                path.write_text(text)
            elif not path.exists() or path.read_text() != text:
                stale.append(role)
        if stale:
            print(f"docs/openapi: {', '.join(stale)} differ from the nodes' own; run: python tools/docs.py openapi")
        return 1 if stale else 0
    if argv == ["readme"]:
        readme = ROOT / "README.md"
        readme.write_text(fill_blocks(readme.read_text()))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main(sys.argv[1:]))
