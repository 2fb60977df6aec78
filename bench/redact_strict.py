"""Strict mode against standard mode: what leaks, what is over-redacted, what it costs, side by side.

Both modes run on the strict corpus (edgesplit.evaluation.pii_strict_corpus: written before any
detector ran on it, its first measurement is the one this script printed first) and, for
regression, on the six older corpora (the tuning corpus was tuned on; each later one had its
misses read after its first measurement). Per type and mode:

- **recall** = share of labelled values of which no letter or digit reaches the upstream (a value
  counts as caught whatever type its placeholder has: what matters is that it never leaves).
  ``recall (any char)`` counts a space or a ``#`` left between two placeholders as a leak too
  (the older bench's definition: "12 <LOCATION>" and "<NUMBER> <LOCATION>" both leak there);
- **precision** = share of placeholders that cover part of some labelled value.

Then placeholders per general question (pii_strict_corpus.general_questions: no personal data,
so every placeholder is a false one), and the request path's privacy step per mode (p50 ms, 200
calls, 500-character messages): an answer kept on the tier (the decision only) and a request sent
up (decision and redaction). Prints the tables, writes bench/results/redact_strict.{md,json,png}.

    .venv/bin/python bench/redact_strict.py [--messages 300] [--corpora strict unseen ...]
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.evaluation.pii_corpus import (
    Message,
    blind_corpus,
    field_corpus,
    holdout_corpus,
    intake_corpus,
    tuning_corpus,
    unseen_corpus,
)
from edgesplit.evaluation.pii_strict_corpus import general_questions, strict_corpus
from edgesplit.privacy.detectors import Detector, Entity
from redact import request_path_ms

OUT = RESULTS  # committed (bench/results); bench/out is scratch
MODES = ("standard", "strict")


@dataclass
class LeakScore:
    labels: Counter[str] = field(default_factory=Counter)
    leaked: Counter[str] = field(default_factory=Counter)  # a letter or digit reaches the upstream
    leaked_chars: Counter[str] = field(default_factory=Counter)  # any character does (a space between two)
    placeholders: int = 0
    false_placeholders: int = 0

    def recall(self, kinds: list[str], chars: bool = False) -> float:
        n = sum(self.labels[k] for k in kinds)
        leaked = self.leaked_chars if chars else self.leaked
        return 1 - sum(leaked[k] for k in kinds) / n if n else float("nan")

    @property
    def precision(self) -> float:
        return 1 - self.false_placeholders / self.placeholders if self.placeholders else 1.0


def leak_score(corpus: list[Message], detector: Detector) -> LeakScore:
    s = LeakScore()
    for message in corpus:
        found = detector.detect(message.text)
        covered = {i for e in found for i in range(e.start, e.end)}
        for label in message.labels:
            s.labels[label.type] += 1
            uncovered = [message.text[i] for i in range(label.start, label.end) if i not in covered]
            if uncovered:
                s.leaked_chars[label.type] += 1
            if any(ch.isalnum() for ch in uncovered):
                s.leaked[label.type] += 1
        s.placeholders += len(found)
        s.false_placeholders += sum(1 for e in found if not _hits(e, message))
    return s


def _hits(entity: Entity, message: Message) -> bool:
    return any(entity.start < g.end and g.start < entity.end for g in message.labels)


def corpora(messages: int) -> dict[str, list[Message]]:
    return {
        "strict (seed 6006, written before any detector ran on it)": strict_corpus(messages // 2),
        "tuning (seed 1234, tuned on)": tuning_corpus(messages, seed=1234),
        "unseen (seed 2026, its misses read)": unseen_corpus(messages, seed=2026),
        "holdout (seed 31337, its misses read)": holdout_corpus(messages // 2, seed=31337),
        "blind (seed 4242, its misses read)": blind_corpus(messages // 2, seed=4242),
        "field (seed 9091, its misses read)": field_corpus(messages // 2, seed=9091),
        "intake (seed 5150, its misses read)": intake_corpus(messages // 2, seed=5150),
    }


def corpus_table(title: str, scores: dict[str, LeakScore]) -> str:
    kinds = sorted(scores["standard"].labels)
    head = "| type | labels | standard recall | strict recall | standard (any char) | strict (any char) |"
    lines = [f"### {title}", "", head, "|---|---:|---:|---:|---:|---:|"]
    for kind in [*kinds, "**all**"]:
        ks = kinds if kind == "**all**" else [kind]
        n = sum(scores["standard"].labels[k] for k in ks)
        cells = [f"{scores[m].recall(ks):.3f}" for m in MODES] + [f"{scores[m].recall(ks, True):.3f}" for m in MODES]
        lines.append(f"| {kind} | {n} | {' | '.join(cells)} |")
    leaked = [f"{sum(scores[m].leaked.values())}" for m in MODES] + [
        f"{sum(scores[m].leaked_chars.values())}" for m in MODES
    ]
    lines.append(f"| values leaked | | {' | '.join(leaked)} |")
    precision = " | ".join(f"{scores[m].precision:.3f} ({scores[m].placeholders})" for m in MODES)
    lines.append(f"| precision (placeholders) | | {precision} | | |")
    return "\n".join(lines)


def general_table(detectors: dict[str, Detector]) -> tuple[str, dict[str, object]]:
    questions = general_questions()
    lines = [
        "| mode | questions | with a placeholder | placeholders | per 10 questions | which |",
        "|---|---:|---:|---:|---:|---|",
    ]
    data: dict[str, object] = {}
    for mode, detector in detectors.items():
        found = [detector.detect(q) for q in questions]
        total = sum(len(f) for f in found)
        which = "; ".join(f"{e.value!r} {e.type}" for f in found for e in f)
        lines.append(
            f"| {mode} | {len(questions)} | {sum(1 for f in found if f)} | {total} | "
            f"{10 * total / len(questions):.2f} | {which} |"
        )
        data[mode] = {"questions": len(questions), "placeholders": total, "which": which}
    return "\n".join(lines), data


def cost_table() -> tuple[str, dict[str, float]]:
    rows = {
        "standard, kept on the tier (decision)": request_path_ms(True, False),
        "strict, kept on the tier (decision)": request_path_ms(True, False, mode="strict"),
        "standard, sent up (decision + NER redaction)": request_path_ms(True, True),
        "strict, sent up (decision + strict redaction)": request_path_ms(True, True, mode="strict"),
        "standard, sent up, everyday question": request_path_ms(True, True, personal=False),
        "strict, sent up, everyday question": request_path_ms(True, True, personal=False, mode="strict"),
    }
    base = rows["standard, sent up (decision + NER redaction)"]
    lines = ["| privacy step, 500-character message | p50 ms | vs standard sent up |", "|---|---:|---:|"]
    lines += [f"| {what} | {ms:.3f} | {ms / base:.2f}x |" for what, ms in rows.items()]
    return "\n".join(lines), rows


def plot(results: dict[str, dict[str, LeakScore]], path: Path) -> None:
    plt = pyplot()
    first = results[next(iter(results))]
    kinds = sorted(first["standard"].labels)
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for j, mode in enumerate(MODES):
        xs = [i + (j - 0.5) * 0.4 for i in range(len(kinds))]
        ax.bar(xs, [first[mode].recall([k]) for k in kinds], 0.4, label=mode)
    ax.set_xticks(range(len(kinds)), kinds, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share never leaked")
    ax.set_title("Strict vs standard redaction, strict corpus (first measurement)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _counts(s: LeakScore) -> dict[str, object]:
    return {
        "labels": dict(s.labels), "leaked": dict(s.leaked), "leaked_chars": dict(s.leaked_chars),
        "placeholders": s.placeholders, "false_placeholders": s.false_placeholders,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300, help="messages per older corpus (half for most)")
    parser.add_argument("--corpora", nargs="+", help="first words of the corpora to score (default: all)")
    args = parser.parse_args()
    detectors = {"standard": Detector(), "strict": Detector(mode="strict")}
    for detector in detectors.values():
        detector.detect("warm up John Smith in Boston")
    chosen = {n: c for n, c in corpora(args.messages).items() if not args.corpora or n.split()[0] in args.corpora}
    results = {name: {m: leak_score(corpus, d) for m, d in detectors.items()} for name, corpus in chosen.items()}
    sections = [corpus_table(name, scores) for name, scores in results.items()]
    general, general_data = general_table(detectors)
    cost, cost_data = cost_table()
    text = "\n\n".join([*sections, "### General questions (no personal data)", general, "### Cost", cost])
    print(text)
    OUT.mkdir(exist_ok=True)
    payload: dict[str, object] = {name: {m: _counts(s) for m, s in scores.items()} for name, scores in results.items()}
    payload |= {"general_questions": general_data, "request_path_ms": cost_data}
    write_result(OUT, "redact_strict", text, payload)
    plot(results, OUT / "redact_strict.png")
    print(f"\nwrote {OUT / 'redact_strict.md'}, .json and .png")


if __name__ == "__main__":
    main()
