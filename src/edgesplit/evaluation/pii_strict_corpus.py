"""The strict corpus: personal data in forms no detector was written for, and general questions with none.

Written (2026-12-06) after strict mode's rules and word lists were fixed, and before any detector
ran on it; measured once with the code as it stood (``bench/redact_strict.py``). Its values do not come
from Faker, whose name lists the detectors read: names, streets and towns are drawn from pools
written here (unusual Irish, Cornish, Portuguese and Australian names among common ones), and
identifiers follow the layouts of five locales (en_GB, en_US, en_AU, en_IE, pt_PT) that no
detector names: UK National Insurance numbers, Irish PPSNs and Eircodes, Australian TFNs and
Medicare numbers, Portuguese NIFs, citizen-card and SNS numbers, passports, employee, policy and
licence numbers, and postcodes of every locale. Texts come in 18 kinds, from clinical notes to
lower-case chat and forms in capitals.

:func:`strict_corpus` gives labelled messages; :func:`general_questions` gives 40 questions with
no personal data (famous people, countries, cities, companies, products, dates of history,
arithmetic, units, technical formats), on which every placeholder is a false one.
"""

# ruff: noqa: E501  (templates are whole messages, one per line)
from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from functools import partial

from edgesplit.evaluation.pii_corpus import Message, Span

__all__ = ["general_questions", "strict_corpus"]

LOCALES = ("en_GB", "en_US", "en_AU", "en_IE", "pt_PT")
_GIVEN = {
    "en_GB": ["Imogen", "Rhys", "Tamsin", "Oliver", "Bronwen", "Jago", "Keziah", "Morwenna", "Alfie", "Harriet"],
    "en_US": ["Tyrell", "Madison", "Dakota", "Brandon", "Shaniqua", "Cody", "Marisol", "Jaxon", "Lorelei", "Dwayne"],
    "en_AU": ["Kylie", "Lachlan", "Bindi", "Tahnee", "Mitchell", "Jarrah", "Shannon", "Kirra", "Bevan", "Narelle"],
    "en_IE": ["Aoife", "Tadhg", "Siobhán", "Oisín", "Caoimhe", "Ruairí", "Gráinne", "Cathal", "Niamh", "Donncha"],
    "pt_PT": ["Leonor", "Duarte", "Inês", "Gonçalo", "Matilde", "Tomás", "Beatriz", "Afonso", "Carolina", "Rodrigo"],
}
_SURNAME = {
    "en_GB": ["Penhaligon", "Trevithick", "Ashworth", "Pemberton-Hale", "Quennell", "Baxendale", "Smith", "Kerslake"],
    "en_US": ["Kowalczyk", "Delacroix", "Washburn", "McAllister", "Okonkwo", "Vandermeer", "Johnson", "Brightwater"],
    "en_AU": ["Nguyen", "Fitzgerald", "Papadopoulos", "Wirrpanda", "Hollingsworth", "Tran", "Brown", "Dunstan"],
    "en_IE": ["Ó Súilleabháin", "Mac Giolla Phádraig", "Ní Bhriain", "O'Dowd", "Breathnach", "Kinsella", "Hardy-Jones",
              "Mhic Dhonnchadha"],
    "pt_PT": ["Vasconcelos", "Magalhães", "Sequeira", "Brito e Cunha", "Figueiredo", "Salgueiro", "Pereira",
              "Teixeira de Sousa"],
}  # fmt: skip
_TOWN = {
    "en_GB": ["Penzance", "Much Wenlock", "Bexhill-on-Sea", "Kirkby Lonsdale", "Market Drayton", "Leeds"],
    "en_US": ["Tillamook", "Ypsilanti", "Walla Walla", "Poughkeepsie", "Boise", "Chattanooga"],
    "en_AU": ["Wagga Wagga", "Toowoomba", "Kalgoorlie", "Mudgee", "Geelong", "Bendigo"],
    "en_IE": ["Ballinasloe", "Clonakilty", "Tubbercurry", "Carrick-on-Shannon", "Cork", "Letterkenny"],
    "pt_PT": ["Vila Nova de Famalicão", "Oliveira de Azeméis", "Torres Vedras", "Mirandela", "Porto", "Tavira"],
}
_STREET = {
    "en_GB": ["Chapel Street", "Trelawney Close", "Mill Lane", "The Crescent", "Fore Street"],
    "en_US": ["Maple Avenue", "Sycamore Drive", "Old Mill Road", "Juniper Court", "Elm Street"],
    "en_AU": ["Banksia Crescent", "Wattle Grove", "Kookaburra Way", "Currawong Parade", "High Street"],
    "en_IE": ["Bóthar na Trá", "Church Road", "Sráid an Mhuilinn", "Fair Green", "Main Street"],
    "pt_PT": ["Rua do Alecrim", "Travessa da Boavista", "Avenida dos Combatentes", "Largo do Rato", "Rua Direita"],
}


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _letters(rng: random.Random, n: int, pool: str = string.ascii_uppercase) -> str:
    return "".join(rng.choice(pool) for _ in range(n))


def _postcode(rng: random.Random, locale: str) -> str:
    d, L = partial(_digits, rng), partial(_letters, rng)
    return {
        "en_GB": lambda: f"{L(2)}{rng.randint(1, 29)} {d(1)}{L(2)}",
        "en_US": lambda: d(5) if rng.random() < 0.7 else f"{d(5)}-{d(4)}",
        "en_AU": lambda: str(rng.randint(2100, 7999)),
        "en_IE": lambda: f"{L(1)}{d(2)} {L(1)}{d(1)}{L(1)}{d(1)}",
        "pt_PT": lambda: f"{rng.randint(1000, 9999)}-{d(3)}",
    }[locale]()


def _phone(rng: random.Random, locale: str) -> str:
    d = partial(_digits, rng)
    return rng.choice({
        "en_GB": [f"07{d(3)} {d(6)}", f"+44 (0)1{d(3)} {d(6)}", f"01{d(3)} {d(3)} {d(3)}"],
        "en_US": [f"({rng.randint(201, 989)}) {d(3)}-{d(4)}", f"{rng.randint(201, 989)}.{d(3)}.{d(4)}"],
        "en_AU": [f"04{d(2)} {d(3)} {d(3)}", f"(0{rng.randint(2, 8)}) {d(4)} {d(4)}", f"+61 4{d(2)} {d(3)} {d(3)}"],
        "en_IE": [f"08{rng.randint(3, 9)} {d(3)} {d(4)}", f"+353 (0){rng.randint(1, 99)} {d(3)} {d(4)}",
                  f"0{rng.randint(21, 99)}-{d(6)}"],
        "pt_PT": [f"9{rng.choice('1236')}{d(1)} {d(3)} {d(3)}", f"+351 2{d(2)} {d(3)} {d(3)}"],
    }[locale])  # fmt: skip


def _national_id(rng: random.Random, locale: str) -> str:
    d, L = partial(_digits, rng), partial(_letters, rng)
    return rng.choice({
        "en_GB": [f"{L(2)} {d(2)} {d(2)} {d(2)} {rng.choice('ABCD')}", f"{d(3)} {d(3)} {d(4)}"],  # NI, NHS
        "en_US": [f"{rng.randint(100, 665)}-{d(2)}-{d(4)}", f"{L(1)}{d(3)}-{d(4)}-{d(4)}"],  # SSN, licence
        "en_AU": [f"{d(3)} {d(3)} {d(3)}", f"{d(4)} {d(5)} {d(1)}"],  # TFN, Medicare
        "en_IE": [f"{d(7)}{L(1)}{rng.choice(['', 'A', 'W'])}", f"{d(7)}{L(2)}"],  # PPSN
        "pt_PT": [f"{d(9)}", f"{d(8)} {d(1)} {L(2)}{d(1)}", f"{d(3)} {d(3)} {d(3)}"],  # NIF, CC, SNS
    }[locale])  # fmt: skip


def _other_id(rng: random.Random) -> str:
    d, L = partial(_digits, rng), partial(_letters, rng)
    return rng.choice([
        f"{L(1)}{d(7)}", f"{d(9)}", f"EMP-{d(5)}", f"E{d(6)}", f"POL/{d(2)}/{d(5)}", f"{L(3)}-{d(4)}-{L(1)}",
        f"DL {d(4)}-{d(4)}", f"{L(2)}{d(6)}{L(1)}", f"#{d(6)}", f"{d(4)}/{d(2)}/{L(3)}",
    ])  # fmt: skip


def _slots(rng: random.Random, locale: str) -> dict[str, tuple[str, Callable[[], str]]]:
    given, surname = _GIVEN[locale], _SURNAME[locale]

    def person() -> str:
        return f"{rng.choice(given)} {rng.choice(surname)}"

    def date() -> str:
        y, m, dd = rng.randint(1940, 2025), rng.randint(1, 12), rng.randint(1, 28)
        return rng.choice([f"{dd:02d}/{m:02d}/{y}", f"{y}-{m:02d}-{dd:02d}", f"{dd}.{m}.{y}"])

    return {
        "PERSON": ("PERSON", person),
        "FIRST": ("PERSON", lambda: rng.choice(given)),
        "SURNAME": ("PERSON", lambda: rng.choice(surname)),
        "LOWER": ("PERSON", lambda: person().lower()),
        "LOWER_FIRST": ("PERSON", lambda: rng.choice(given).lower()),
        "CAPS": ("PERSON", lambda: person().upper()),
        "STREET": ("LOCATION", lambda: f"{rng.randint(1, 240)} {rng.choice(_STREET[locale])}"),
        "TOWN": ("LOCATION", lambda: rng.choice(_TOWN[locale])),
        "POSTCODE": ("POSTCODE", lambda: _postcode(rng, locale)),
        "PHONE": ("PHONE_NUMBER", lambda: _phone(rng, locale)),
        "EMAIL": ("EMAIL_ADDRESS", lambda: f"{rng.choice(given).lower()}.{_letters(rng, 5).lower()}@mail{_digits(rng, 2)}.example"),
        "DATE": ("DATE", date),
        "DOB": ("DATE_OF_BIRTH", date),
        "NATID": ("IDENTIFIER", lambda: _national_id(rng, locale)),
        "OTHERID": ("IDENTIFIER", lambda: _other_id(rng)),
        "IP": ("IP_ADDRESS", lambda: f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"),
    }  # fmt: skip


_EN = [
    "Clinic note {DATE}: {PERSON} (DOB {DOB}), ID {NATID}, seen with knee pain. Lives at {STREET}, {TOWN} {POSTCODE}. Ring {PHONE} with results.",
    "Referral letter\nDear Dr {SURNAME},\nI would be grateful if you could see {PERSON}, {STREET}, {TOWN}, {POSTCODE}, regarding recurrent migraine.\nYours sincerely,\n{PERSON}",
    "Hi {FIRST}, just confirming your start date with HR. Your employee number is {OTHERID} and payroll needs your tax number {NATID} by Friday. Thanks, {FIRST}",
    "Insurance claim {OTHERID}: the policyholder {PERSON} reported water damage at {STREET}, {TOWN} on {DATE}. Contact {PHONE} or {EMAIL}.",
    "Dear {PERSON}, we act for your landlord regarding the property at {STREET}, {TOWN} {POSTCODE}. Please respond within 14 days quoting reference {OTHERID}.",
    "hey its {LOWER} again, my order still hasnt arrived, can u call me on {PHONE}? postcode is {POSTCODE}",
    "Name: {PERSON}\nDate of birth: {DOB}\nAddress: {STREET}, {TOWN}\nPostcode: {POSTCODE}\nPhone: {PHONE}\nPassport: {OTHERID}",
    "Tenancy application from {PERSON}, currently at {STREET}, {TOWN} {POSTCODE}. Reference: {FIRST} {SURNAME}, mobile {PHONE}. ID number {NATID}.",
    "Your new payee {PERSON} was added on {DATE}. If this wasn't you, call us on {PHONE}. Customer number {OTHERID}.",
    "Note from school: {FIRST} will be collected early on {DATE} by her grandmother, {PERSON}. Any questions, ring {PHONE}.",
    "Minutes, site meeting {DATE}. Present: {PERSON}, {PERSON}, {FIRST} {SURNAME}. Actions: {FIRST} to chase the supplier; next meeting in {TOWN}.",
    "Security alert: a new sign-in to the account of {PERSON} from {IP} on {DATE}. Not you? Reset your password or call {PHONE}.",
    "CARDHOLDER {CAPS}\nACCOUNT REF {OTHERID}\nTEL {PHONE}",
    "Pharmacy: prescription ready for {PERSON}, {STREET}, {POSTCODE}. Please bring ID ({NATID}) when collecting.",
    "Delivery for {LOWER} at {STREET}, {TOWN}, leave with neighbour if out. Tel {PHONE}.",
    "- {LOWER}: called about the boiler, lives in {TOWN}\n- {PERSON}: licence {OTHERID}, wants a callback on {PHONE}",
    "Thanks,\n{LOWER_FIRST}\n{PHONE}",
    "Patient {PERSON}, DOB {DOB}, NHS/ID {NATID}, admitted {DATE} from {STREET}, {TOWN} {POSTCODE}; next of kin {PERSON} on {PHONE}.",
]  # fmt: skip
_PT = [
    "Nota clínica {DATE}: {PERSON} (nascimento {DOB}), NIF {NATID}, consulta por dor lombar. Morada: {STREET}, {POSTCODE} {TOWN}. Telemóvel {PHONE}.",
    "Exmo. Sr. Dr. {SURNAME},\nEncaminho a utente {PERSON}, residente na {STREET}, {POSTCODE} {TOWN}, por suspeita de asma.\nCumprimentos,\n{PERSON}",
    "Olá {FIRST}, os recursos humanos precisam do teu número de contribuinte {NATID} e do número de funcionário {OTHERID} até sexta. Obrigado, {FIRST}",
    "Participação de sinistro {OTHERID}: o segurado {PERSON} declarou danos na {STREET}, {TOWN} em {DATE}. Contacto {PHONE} ou {EMAIL}.",
    "oi, sou a {LOWER}, a encomenda ainda não chegou, podem ligar para {PHONE}? código postal {POSTCODE}",
    "Nome: {PERSON}\nData de nascimento: {DOB}\nMorada: {STREET}, {TOWN}\nCódigo postal: {POSTCODE}\nTelefone: {PHONE}\nCartão de cidadão: {NATID}",
    "Alerta de segurança: novo acesso à conta de {PERSON} a partir de {IP} em {DATE}. Se não foi você, ligue {PHONE}.",
    "Ata da reunião de {DATE}. Presentes: {PERSON}, {PERSON} e {FIRST} {SURNAME}. O {FIRST} fica de contactar o fornecedor em {TOWN}.",
]  # fmt: skip
_SLOT = re.compile(r"\{([A-Z_]+)\}")


def _fill(template: str, slots: dict[str, tuple[str, Callable[[], str]]], lang: str) -> Message:
    parts, labels, at, last = [], [], 0, 0
    for m in _SLOT.finditer(template):
        literal = template[last : m.start()]
        parts.append(literal)
        at += len(literal)
        kind, make = slots[m.group(1)]
        value = make()
        labels.append(Span(kind, at, at + len(value)))
        parts.append(value)
        at += len(value)
        last = m.end()
    parts.append(template[last:])
    return Message("".join(parts), labels, lang)


def strict_corpus(n: int = 150, seed: int = 6006) -> list[Message]:
    """``n`` labelled messages, locales in turn; Portuguese templates for pt_PT, English for the others."""
    rng = random.Random(seed)
    corpus = []
    for i in range(n):
        locale = LOCALES[i % len(LOCALES)]
        templates = _PT if locale == "pt_PT" else _EN
        corpus.append(_fill(rng.choice(templates), _slots(rng, locale), "pt" if locale == "pt_PT" else "en"))
    return corpus


def general_questions() -> list[str]:
    """Questions with no personal data: a placeholder on any of them is a false one."""
    return [
        "Who painted the Mona Lisa, and where is it kept?",
        "What did Marie Curie win two Nobel Prizes for?",
        "When did the Berlin Wall fall?",
        "How tall is Mount Everest in metres?",
        "Which is bigger, Jupiter or Saturn?",
        "What is the population of Australia roughly?",
        "Why did the Titanic sink in April 1912?",
        "Explain how Tesla's Autopilot differs from Waymo's approach.",
        "Is an iPhone 15 compatible with a Samsung charger?",
        "What does NATO stand for?",
        "Who wrote Pride and Prejudice?",
        "What is the capital of Portugal, and what river runs through it?",
        "How long is the flight from London to New York?",
        "Summarise the causes of the First World War in three bullet points.",
        "What is 17% of 240?",
        "Convert 72 degrees Fahrenheit to Celsius.",
        "If a pump delivers 35 litres per minute, how long does it take to fill a 2,000 litre tank?",
        "Write a Python function that returns the nth Fibonacci number.",
        "Return the answer as JSON with keys name and value, dates in ISO 8601 (YYYY-MM-DD).",
        "What is the difference between TCP and UDP?",
        "How do I reset a Siemens S7-1200 PLC to factory settings?",
        "What is a normal resting heart rate for an adult, in bpm?",
        "What are the side effects of ibuprofen 400 mg?",
        "Qual é a capital do Brasil?",
        "Quem foi Vasco da Gama?",
        "Quantos quilómetros tem a ponte 25 de Abril?",
        "What year did Neil Armstrong land on the Moon?",
        "Which company makes the PlayStation 5?",
        "How does Amazon Web Services price S3 storage?",
        "What is the boiling point of water at 2,000 m altitude?",
        "Explain what an HbA1c test measures.",
        "What is the speed of light in km/s?",
        "Is Dublin bigger than Cork?",
        "Name three rivers in Europe longer than 1,000 km.",
        "What does HTTP status 404 mean?",
        "List the planets in order from the Sun.",
        "Who was the first president of the United States?",
        "What is the Great Barrier Reef and where is it?",
        "How many bytes are in 3 GB?",
        "Translate 'good morning' into Irish and Portuguese.",
    ]
