"""Labelled PII corpora for the detectors: the one they were tuned on, and one they never saw.

A message is text plus the span and type of every personal value in it. Both corpora are
generated with Faker from fixed seeds, so a run is reproducible.

- :func:`tuning_corpus` (seed 1234): the templates and generators the detectors were developed
  against (chat lines, tickets, medical notes, payments; English and Portuguese).
- :func:`unseen_corpus`: kept apart on purpose. Other templates (clinical notes, maintenance
  work orders, billing and HR messages, general questions with no personal data), other
  locales (en_US, en_GB, pt_BR), Faker's own phone formats (extensions, international
  prefixes), dates of visits, reports and labs as well as births, identifiers written the way
  sites write them, street addresses. Its templates must not be used to tune a detector; when
  a detector changes because of a miss here, the change is for a documented format, and a
  property test (tests/test_detectors_properties.py) pins that format.

- :func:`holdout_corpus`: templates written after the detectors' last change for the unseen
  corpus (whose misses were read once, to pick the street-type lists and role cues), measured
  once: insurance claims, pharmacy, logistics, field service, HR. Its misses were then read (the
  gazetteer and the everyday-word rule of ``privacy/ner.py`` and the claim label came from them),
  so it is no longer blind.
- :func:`blind_corpus`: templates written after those changes, before any detector ran on them:
  telehealth, utility billing, aircraft maintenance, payroll, school and vaccination messages,
  and general questions that name public places, people and companies. Measured once (overall
  P/R 0.94/0.93, 23 of 416 values leaked); its misses were then read, and the cues, the
  "Hospital No" label, the street fix and the everyday-words rule came from them.

Label types are the detector's entity types; ``DATE`` is any date tied to a person that is not
a birth date (HIPAA Safe Harbor treats every such date element as an identifier).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Message", "Span", "blind_corpus", "fill", "holdout_corpus", "tuning_corpus", "unseen_corpus"]

_SLOT = re.compile(r"\{([A-Z_0-9]+)\}")
# Slot names that carry a format variant but label the same type.
_LABEL = {"DOB_PLAIN": "DATE_OF_BIRTH", "ADDRESS": "LOCATION", "PERSON2": "PERSON", "DATE2": "DATE"}


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


# The tuning corpus's templates: literal text and {TYPE} slots.
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


def _tuning_values(rng: random.Random) -> dict[str, dict[str, Callable[[], str]]]:
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


def tuning_corpus(n: int = 300, seed: int = 1234) -> list[Message]:
    """The corpus the detectors were tuned on (seed 1234): English and Portuguese, alternating."""
    rng = random.Random(seed)
    values = _tuning_values(rng)
    corpus = []
    for i in range(n):
        lang = "en" if i % 2 == 0 else "pt"
        template = rng.choice(EN if lang == "en" else PT)
        corpus.append(fill(template, values[lang], lang))
    return corpus


def fill(template: str, values: dict[str, Callable[[], str]], lang: str) -> Message:
    """A message from a template: each {TYPE} slot gets a generated value and a label over its span."""
    text, labels, last = "", [], 0
    for m in _SLOT.finditer(template):
        text += template[last : m.start()]
        value = values[m.group(1)]()
        labels.append(Span(_LABEL.get(m.group(1), m.group(1)), len(text), len(text) + len(value)))
        text += value
        last = m.end()
    return Message(text + template[last:], labels, lang)


# -- the unseen corpus: never tune a detector on these templates (see the module docstring) ----

UNSEEN_TEMPLATES: dict[str, list[str]] = {
    "en_US": [
        "Discharge summary: {PERSON}, MRN-{MEDICAL_RECORD}, admitted {DATE} and discharged {DATE2}. "
        "Follow-up with Dr. {PERSON2} at {PHONE_NUMBER}.",
        "Lab results for patient {PERSON} (birthdate {DOB_PLAIN}) came back on {DATE}; the specimen was "
        "drawn {DATE2}. Chart: MRN {MEDICAL_RECORD}.",
        "Work order 88-1192: the conveyor PLC at {IP_ADDRESS} faulted twice overnight. Technician {PERSON} "
        "replaced the relay. Call the plant office at {PHONE_NUMBER} with questions.",
        "Billing: please charge {CREDIT_CARD} for the March invoice and send the receipt to {EMAIL_ADDRESS}. "
        "Cardholder {PERSON}, {ADDRESS}.",
        "HR update: {PERSON} (SSN {US_SSN}) starts Monday; emergency contact {PERSON2}, {PHONE_NUMBER}.",
        "Radiology report dated {DATE} for {PERSON}, MRN: {MEDICAL_RECORD}. Prior study on {DATE2} showed no change.",
        "Ship the replacement scanner to {PERSON}, {ADDRESS}; they can be reached at {EMAIL_ADDRESS}.",
        "What is the difference between TCP and UDP, and when should a PLC use each?",
        "Who founded Microsoft, and in which city is its headquarters?",
        "The 4.2 firmware released on {NONPERSONAL_DATE} fixes the calibration drift on model X-300 units.",
    ],
    "en_GB": [
        "Clinic letter: {PERSON}, seen in outpatients on {DATE}, medical record no. {MEDICAL_RECORD}. "
        "Next appointment {DATE2}. Surgery telephone {PHONE_NUMBER}.",
        "Engineer {PERSON} attended site at {ADDRESS} on {DATE}; boiler serviced. Customer mobile {PHONE_NUMBER}.",
        "Refund of £42.50 to account {IBAN}, account holder {PERSON}. Queries to {EMAIL_ADDRESS}.",
        "Patient {PERSON}, {DOB_PLAIN}, referred by GP on {DATE}. MRN#{MEDICAL_RECORD}.",
        "The VPN gateway {IP_ADDRESS} drops connections after the update; ticket raised by {PERSON}.",
        "Which is longer, the Thames or the Severn, and where do they rise?",
        "How do I reset a Siemens S7-1200 to factory settings?",
    ],
    "pt_BR": [
        "Resumo de alta: paciente {PERSON}, prontuário nº {MEDICAL_RECORD}, internado em {DATE} e com alta em "
        "{DATE2}. Contato da família: {PHONE_NUMBER}.",
        "Laudo de exame de {PERSON}, nascimento: {DOB_PLAIN}, realizado em {DATE}. CPF {BR_CPF}.",
        "Ordem de serviço 4471: o técnico {PERSON} trocou o sensor da linha 2 no dia {DATE}. "
        "Endereço do cliente: {ADDRESS}. Telefone {PHONE_NUMBER}.",
        "Cobrança: a empresa de CNPJ {BR_CNPJ} pagou a fatura; comprovante para {EMAIL_ADDRESS}. "
        "Responsável: {PERSON}, CPF {BR_CPF}.",
        "Transferir o reembolso para a conta {IBAN} em nome de {PERSON}.",
        "Consulta marcada para {DATE} com a Dra. {PERSON}; paciente {PERSON2}, prontuário {MEDICAL_RECORD}.",
        "Qual é a capital da Argentina e quantos habitantes ela tem?",
        "Como configuro o endereço IP fixo de um CLP da Siemens?",
    ],
}

_MONTHS_PT = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
              "outubro", "novembro", "dezembro")  # fmt: skip


DateFormat = Callable[[dt.date], str]


def _date_formats(locale: str) -> list[DateFormat]:
    """How people in each locale write a date."""

    def f(fmt: str) -> DateFormat:
        return lambda d: d.strftime(fmt)

    def unpadded(d: dt.date) -> str:
        return f"{d.month}/{d.day}/{d.year}"

    def ordinal(d: dt.date) -> str:
        suffix = "th" if 11 <= d.day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
        return f"{d.day}{suffix} {d.strftime('%B %Y')}"

    def portuguese(d: dt.date) -> str:
        return f"{d.day} de {_MONTHS_PT[d.month - 1]} de {d.year}"

    if locale == "en_US":
        us = ["%m/%d/%Y", "%B %d, %Y", "%b %d, %Y", "%Y-%m-%d", "%m/%d/%y", "%b. %d", "%B %d"]
        return [*map(f, us), unpadded]
    if locale == "en_GB":
        return [*map(f, ["%d/%m/%Y", "%d %B %Y", "%d %b %Y", "%d.%m.%Y"]), ordinal]
    return [*map(f, ["%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y", "%Y-%m-%d"]), portuguese]


def _unseen_values(locale: str, rng: random.Random) -> dict[str, Callable[[], str]]:
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(rng.randrange(1 << 30))
    us = Faker("en_US")
    us.seed_instance(rng.randrange(1 << 30))
    dates = _date_formats(locale)

    def date(**span: str) -> Callable[[], str]:
        return lambda: rng.choice(dates)(fake.date_between(**span))

    def mrn() -> str:
        number = str(rng.randrange(10**5, 10**10))
        return rng.choice([number, number, f"HSP-{number}", f"A{number}"])

    def person() -> str:
        middle = f" {rng.choice('ABCDEFGHJKLMNPRSTW')}." if locale == "en_US" and rng.random() < 0.2 else ""
        return f"{fake.first_name()}{middle} {fake.last_name()}"

    values: dict[str, Callable[[], str]] = {
        "PERSON": person,
        "PERSON2": person,
        "EMAIL_ADDRESS": lambda: rng.choice([fake.email, fake.company_email, fake.free_email])(),
        "PHONE_NUMBER": lambda: _phone(locale, fake, rng),
        "DATE": date(start_date="-3y", end_date="today"),
        "DATE2": date(start_date="-3y", end_date="today"),
        "DOB_PLAIN": date(start_date="-90y", end_date="-18y"),
        "NONPERSONAL_DATE": date(start_date="-2y", end_date="today"),
        "MEDICAL_RECORD": mrn,
        "CASE_NUMBER": mrn,
        "ADDRESS": lambda: fake.street_address(),
        "IP_ADDRESS": lambda: rng.choice([fake.ipv4_public, fake.ipv4_private, fake.ipv6])(),
        "CREDIT_CARD": lambda: _card(us, rng),
        "US_SSN": lambda: rng.choice([us.ssn(), us.ssn().replace("-", " ")]),
        "IBAN": lambda: fake.iban(),
    }
    if locale == "pt_BR":
        values["BR_CPF"] = lambda: rng.choice([fake.cpf(), fake.cpf().replace(".", "").replace("-", "")])
        values["BR_CNPJ"] = lambda: fake.cnpj()
    return values


def _phone(locale: str, fake: Any, rng: random.Random) -> str:
    """Faker's own phone formats for the locale, or a business format with an extension or prefix."""
    if rng.random() < 0.5:
        return str(fake.phone_number())
    line = f"{rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}"
    area = rng.choice([212, 305, 312, 415, 617, 702, 919])
    formats = {
        "en_US": [f"+1 ({area}) {line} ext. {rng.randrange(10, 9999)}", f"({area}) {line} x{rng.randrange(10, 999)}",
                  f"1-{area}-{line}", f"+1.{area}.{line.replace('-', '.')}",
                  f"011 44 20 7946 {rng.randrange(1000, 9999)}"],
        "en_GB": [f"+44 (0)20 7946 {rng.randrange(1000, 9999)}", f"020 7946 {rng.randrange(1000, 9999)}",
                  f"07700 900{rng.randrange(100, 999)}", f"00 44 161 496 {rng.randrange(1000, 9999)}",
                  f"01632 960{rng.randrange(100, 999)} ext 12"],
        "pt_BR": [f"(11) 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
                  f"+55 (21) 3{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
                  f"0xx11 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
                  f"(31) 3{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)} ramal {rng.randrange(10, 999)}"],
    }  # fmt: skip
    return rng.choice(formats[locale])


def _card(fake: Any, rng: random.Random) -> str:
    number = str(fake.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "amex", "discover"])))
    if len(number) == 16 and rng.random() < 0.5:
        return "-".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


def unseen_corpus(n: int = 300, seed: int = 2026) -> list[Message]:
    """Messages from templates, generators and locales the detectors were not tuned on."""
    return _from_templates(UNSEEN_TEMPLATES, n, seed)


def _from_templates(templates: dict[str, list[str]], n: int, seed: int) -> list[Message]:
    """``n`` messages, locales in turn, each from a random template of its locale."""
    rng = random.Random(seed)
    locales = list(templates)
    values = {locale: _unseen_values(locale, rng) for locale in locales}
    corpus = []
    for i in range(n):
        locale = locales[i % len(locales)]
        message = fill(rng.choice(templates[locale]), values[locale], locale)
        labels = [s for s in message.labels if s.type != "NONPERSONAL_DATE"]  # a date tied to no one
        corpus.append(Message(message.text, labels, locale))
    return corpus


HOLDOUT_TEMPLATES: dict[str, list[str]] = {
    "en_US": [
        "Claim #{CASE_NUMBER} was filed by {PERSON} after the accident on {DATE}. Policyholder lives at "
        "{ADDRESS}; best number {PHONE_NUMBER}.",
        "Rx refill for {PERSON}, DOB {DOB_PLAIN}: pharmacy called {PHONE_NUMBER} on {DATE}. Pay with {CREDIT_CARD}.",
        "Driver {PERSON} picked up pallet 7 at dock 4; delivery confirmation went to {EMAIL_ADDRESS}.",
        "The gateway at {IP_ADDRESS} rejected the login of {PERSON} three times; SSN on file {US_SSN}.",
        "Can you explain how a heat pump works in cold climates like Minnesota?",
    ],
    "en_GB": [
        "Please amend the direct debit for {PERSON} to {IBAN}; confirmation to {EMAIL_ADDRESS}.",
        "Home visit booked: {PERSON}, {ADDRESS}, on {DATE}. Mobile {PHONE_NUMBER}. Patient ID {MEDICAL_RECORD}.",
        "What time zone does Edinburgh use in summer?",
    ],
    "pt_BR": [
        "Sinistro aberto por {PERSON} em {DATE}; segurado com CPF {BR_CPF} e telefone {PHONE_NUMBER}.",
        "Receita de {PERSON} (nascimento {DOB_PLAIN}) aviada em {DATE}; registro do paciente {MEDICAL_RECORD}.",
        "Entrega para {PERSON} no endereço {ADDRESS}; nota fiscal da empresa {BR_CNPJ} enviada para {EMAIL_ADDRESS}.",
        "Quais são as regras de rodízio de veículos em São Paulo?",
    ],
}


def holdout_corpus(n: int = 150, seed: int = 31337) -> list[Message]:
    """Messages from templates written after the detectors' last change (see the module docstring)."""
    return _from_templates(HOLDOUT_TEMPLATES, n, seed)


BLIND_TEMPLATES: dict[str, list[str]] = {
    "en_US": [
        "Telehealth note: spoke with {PERSON} on {DATE} about home blood pressure readings. Callback number "
        "{PHONE_NUMBER}, chart MRN {MEDICAL_RECORD}.",
        "{PERSON} disputes a charge of $84.10 on card {CREDIT_CARD} made on {DATE}; reply to {EMAIL_ADDRESS}.",
        "Maintenance log: mechanic {PERSON} signed off the hydraulic pump swap on {DATE}. The avionics box at "
        "{IP_ADDRESS} logged the fault code.",
        "Please mail the W-2 for {PERSON}, SSN {US_SSN}, to {ADDRESS}.",
        "Visit {DATE}: {PERSON} (dob {DOB_PLAIN}) reports knee pain after running; next visit {DATE2}.",
        "How did Apple and Samsung compete in the smartphone market after 2010?",
        "Summarize the history of the Golden Gate Bridge in San Francisco.",
    ],
    "en_GB": [
        "Dear {PERSON}, your appointment at the clinic is confirmed for {DATE}. Ring {PHONE_NUMBER} to rearrange. "
        "Hospital No: {MEDICAL_RECORD}.",
        "Boiler fault reported by {PERSON} at {ADDRESS}; engineer visit on {DATE}. Contact {EMAIL_ADDRESS}.",
        "Salary for {PERSON} is to be paid into {IBAN} from {DATE}.",
        "The school office wrote to {PERSON} about a pupil born {DOB_PLAIN}; reply to {EMAIL_ADDRESS}.",
        "Is Manchester or Birmingham larger, and which has the older university?",
    ],
    "pt_BR": [
        "Teleconsulta: {PERSON} relatou febre desde {DATE}. Celular {PHONE_NUMBER}, prontuário {MEDICAL_RECORD}.",
        "Conta de luz em atraso: cliente {PERSON}, CPF {BR_CPF}, endereço {ADDRESS}.",
        "Manutenção da aeronave concluída em {DATE} pelo mecânico {PERSON}; relatório enviado para {EMAIL_ADDRESS}.",
        "O boleto da empresa {BR_CNPJ} vence em {DATE}; dúvidas com {PERSON} pelo {PHONE_NUMBER}.",
        "Meu filho {PERSON} nasceu em {DOB_PLAIN} e precisa tomar a vacina da gripe.",
        "Quem foi Santos Dumont e o que ele inventou?",
        "Qual é a distância entre Curitiba e Florianópolis de carro?",
    ],
}


def blind_corpus(n: int = 150, seed: int = 4242) -> list[Message]:
    """Messages from templates written after the holdout's misses were read (see the module docstring)."""
    return _from_templates(BLIND_TEMPLATES, n, seed)
