"""Full-generation runtime: llama.cpp builds side by side, and llama.cpp vs transformers, same GGUF weights.

For each model: time to first token (prefill + first sample) and decode tokens/s, greedy,
same chat-templated prompt, median over repeats, in one run.

- Builds: the installed llama.cpp (edgesplit's runtime-dispatch build) against each
  ``--alt-lib NAME=DIR`` (a llama.cpp library folder, run through ``LLAMA_CPP_LIB_PATH``),
  each in its own child process, rounds interleaved so drift hits every build alike.
- Runtimes: llama.cpp against transformers' generate (skip with ``--no-transformers``).

Prints Markdown tables with ratios and writes bench/results/engine.md, engine.json and engine.png.

    make bench    # builds the -march=native alternative once (tools/llama_build.py native), then runs this
    .venv/bin/python bench/engine.py --alt-lib native=DIR [--models ...] [--repeats 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.admission import ModelQueue
from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.generation import GenerationParams, Prompt, TokenEvent
from edgesplit.llama.backend import LocalBackend
from edgesplit.models import locate_model

OUT = RESULTS  # committed (bench/results); bench/out is scratch
PROMPT = "Explain in detail how a refrigerator works, step by step."
NEW_TOKENS = 64


@dataclass
class Run:
    ttft_s: float
    decode_tok_s: float
    tokens: int


def run_llamacpp(model: str, repeats: int, quiet: bool = False) -> list[Run]:
    backend = LocalBackend(model, locate_model(model), ModelQueue(model, 1, 1), n_ctx=2048, n_threads=2)
    params = GenerationParams(max_tokens=NEW_TOKENS, temperature=0.0)
    prompt = Prompt(messages=(("user", PROMPT),))

    async def once() -> Run:
        start = time.perf_counter()
        stamps: list[float] = []
        async for event in backend.stream(prompt, params):
            if isinstance(event, TokenEvent) and event.logprob is not None:
                stamps.append(time.perf_counter())
        return _run(start, stamps)

    # a different first prompt, so llama.cpp's prefix cache does not flatter the timed prefills
    asyncio.run(_warm(backend))
    runs = []
    for i in range(repeats):
        backend._llm.reset()  # no prompt cache between repeats: every run pays its prefill
        runs.append(asyncio.run(once()))
        if not quiet:
            print(f"  llama.cpp {model} run {i + 1}: {runs[-1]}")
    backend.close()
    return runs


async def _warm(backend: LocalBackend) -> None:
    async for _ in backend.stream(Prompt(messages=(("user", "Hi"),)), GenerationParams(max_tokens=4, temperature=0.0)):
        pass


def run_transformers(model: str, repeats: int) -> list[Run]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.generation.streamers import BaseStreamer

    path = locate_model(model)
    torch.set_num_threads(2)
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    lm = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    lm.eval()
    print(f"  transformers load {model}: {time.perf_counter() - start:.1f} s")
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], tokenize=False, add_generation_prompt=True
    )
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)

    class Clock(BaseStreamer):  # type: ignore[misc]
        def __init__(self) -> None:
            self.stamps: list[float] = []
            self.prompt_seen = False

        def put(self, value: object) -> None:
            if not self.prompt_seen:  # generate() first hands the streamer the prompt ids
                self.prompt_seen = True
                return
            self.stamps.append(time.perf_counter())

        def end(self) -> None:
            pass

    runs = []
    with torch.inference_mode():
        lm.generate(**inputs, max_new_tokens=2, do_sample=False)  # warm-up
        for i in range(repeats):
            clock = Clock()
            start = time.perf_counter()
            lm.generate(**inputs, max_new_tokens=NEW_TOKENS, do_sample=False, streamer=clock)
            runs.append(_run(start, clock.stamps))
            print(f"  transformers {model} run {i + 1}: {runs[-1]}")
    del lm
    return runs


def _run(start: float, stamps: list[float]) -> Run:
    if len(stamps) < 2:
        raise RuntimeError("need at least two generated tokens to time decoding")
    return Run(
        ttft_s=stamps[0] - start,
        decode_tok_s=(len(stamps) - 1) / (stamps[-1] - stamps[0]),
        tokens=len(stamps),
    )


def _median(runs: list[Run]) -> Run:
    return Run(
        ttft_s=statistics.median(r.ttft_s for r in runs),
        decode_tok_s=statistics.median(r.decode_tok_s for r in runs),
        tokens=int(statistics.median(r.tokens for r in runs)),
    )


def table(results: dict[str, dict[str, Run]]) -> str:
    lines = [
        "| model | runtime | TTFT ms | decode tok/s | tokens "
        "| TTFT ratio (tf / llama.cpp) | decode ratio (llama.cpp / tf) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for model, by_runtime in results.items():
        cpp, tf = by_runtime["llama.cpp"], by_runtime["transformers"]
        for name, run in by_runtime.items():
            ratios = (
                (f"{tf.ttft_s / cpp.ttft_s:.1f}x", f"{cpp.decode_tok_s / tf.decode_tok_s:.1f}x")
                if name == "llama.cpp"
                else ("", "")
            )
            lines.append(
                f"| {model} | {name} | {run.ttft_s * 1000:.0f} | {run.decode_tok_s:.1f} | {run.tokens} "
                f"| {ratios[0]} | {ratios[1]} |"
            )
    return "\n".join(lines)


def plot(results: dict[str, dict[str, Run]], path: Path) -> None:
    plt = pyplot()

    fig, (ax_ttft, ax_tps) = plt.subplots(1, 2, figsize=(10, 4))
    models = list(results)
    width = 0.38
    for offset, runtime in ((-width / 2, "llama.cpp"), (width / 2, "transformers")):
        xs = [i + offset for i in range(len(models))]
        ax_ttft.bar(xs, [results[m][runtime].ttft_s * 1000 for m in models], width, label=runtime)
        ax_tps.bar(xs, [results[m][runtime].decode_tok_s for m in models], width, label=runtime)
    for ax, title in (
        (ax_ttft, "time to first token (ms, lower is better)"),
        (ax_tps, "decode tokens/s (higher is better)"),
    ):
        ax.set_xticks(range(len(models)), models, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.legend()
    fig.suptitle(f"Full generation, 2 CPU threads, greedy, {NEW_TOKENS} new tokens")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run_build_child(model: str, repeats: int, lib_dir: str | None) -> tuple[str, list[Run]]:
    """llama.cpp runs of one build, in a child process (a process loads one llama.cpp)."""
    env = {k: v for k, v in os.environ.items() if k != "LLAMA_CPP_LIB_PATH"}
    if lib_dir:
        env["LLAMA_CPP_LIB_PATH"] = lib_dir
    cmd = [sys.executable, __file__, "--child", model, "--repeats", str(repeats)]
    child = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    payload = json.loads(child.stdout.strip().splitlines()[-1])
    return payload["cpu_library"], [Run(**r) for r in payload["runs"]]


def child_main(model: str, repeats: int) -> None:
    from edgesplit.llama.runtime import ensure_llama

    library = ensure_llama().cpu_library
    runs = run_llamacpp(model, repeats, quiet=True)
    print(json.dumps({"cpu_library": library, "runs": [asdict(r) for r in runs]}))


def compare_builds(models: list[str], builds: dict[str, str | None], repeats: int, rounds: int) -> list[dict]:
    rows: list[dict] = []
    for model in models:
        runs: dict[str, list[Run]] = {name: [] for name in builds}
        libraries: dict[str, str] = {}
        for round_ in range(rounds):
            for name, lib_dir in builds.items():
                libraries[name], got = run_build_child(model, repeats, lib_dir)
                runs[name].extend(got)
                print(f"  {model} round {round_ + 1} {name} ({libraries[name]}): {_median(got)}")
        medians = {name: _median(r) for name, r in runs.items()}
        fastest = max(m.decode_tok_s for m in medians.values())
        quickest = min(m.ttft_s for m in medians.values())
        for name, m in medians.items():
            rows.append(
                {
                    "model": model,
                    "build": name,
                    "cpu_library": libraries[name],
                    "ttft_ms": m.ttft_s * 1000,
                    "decode_tok_s": m.decode_tok_s,
                    "decode_vs_fastest": m.decode_tok_s / fastest,
                    "ttft_vs_quickest": m.ttft_s / quickest,
                    "runs": len(runs[name]),
                }
            )
    return rows


def builds_table(rows: list[dict]) -> str:
    lines = [
        "| model | build | CPU library | TTFT ms | decode tok/s | decode vs fastest | TTFT vs quickest |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['build']} | {r['cpu_library']} | {r['ttft_ms']:.0f} | {r['decode_tok_s']:.1f} "
            f"| {r['decode_vs_fastest']:.3f}x | {r['ttft_vs_quickest']:.3f}x |"
        )
    return "\n".join(lines)


def _alt_libs(specs: list[str]) -> dict[str, str | None]:
    builds: dict[str, str | None] = {"installed (dispatch)": None}
    for spec in specs:
        name, _, lib_dir = spec.partition("=")
        if not lib_dir or not (Path(lib_dir) / "libllama.so").exists():
            raise SystemExit(f"--alt-lib {spec}: expected NAME=DIR with DIR/libllama.so")
        builds[name] = lib_dir
    return builds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per build (each a child process)")
    parser.add_argument("--alt-lib", action="append", default=[], metavar="NAME=DIR", help="another llama.cpp build")
    parser.add_argument("--no-transformers", action="store_true", help="skip the transformers comparison")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.repeats)
        return
    OUT.mkdir(exist_ok=True)
    build_rows = compare_builds(args.models, _alt_libs(args.alt_lib), args.repeats, args.rounds)
    report = "## llama.cpp builds\n\n" + builds_table(build_rows)
    results: dict[str, dict[str, Run]] = {}
    if not args.no_transformers:
        for model in args.models:
            print(f"{model}:")
            results[model] = {
                "llama.cpp": _median(run_llamacpp(model, args.repeats)),
                "transformers": _median(run_transformers(model, args.repeats)),
            }
        report += "\n\n## llama.cpp vs transformers\n\n" + table(results)
        plot(results, OUT / "engine.png")
    print()
    print(report)
    runtimes = {m: {k: asdict(v) for k, v in by.items()} for m, by in results.items()}
    write_result(OUT, "engine", report, {"builds": build_rows, "runtimes": runtimes})
    print(f"\nwrote {OUT / 'engine.md'}, engine.json" + (" and engine.png" if results else ""))


if __name__ == "__main__":
    main()
