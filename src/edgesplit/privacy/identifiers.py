"""Identifiers as deployments write them, and street addresses.

**Labelled identifiers.** Medical record numbers, device serials and case numbers vary by site,
but they are written after a label: ``MRN-1234567``, ``MRN 1234567``, ``MRN: 1234567``,
``MRN#1234567``, ``MRN # HSP-1234567``, ``Medical Record No. 1234567``, ``prontuário nº 123456``.
:func:`labelled_pattern` turns a list of labels (regexes, matched without case) into one pattern
that takes any of those separators between the label and the value; the value is the capture
group: an optional letter prefix (``HSP-``, ``A``) and 5 to 12 digits. The labels per type are
configuration (``privacy_identifiers``); :data:`DEFAULT_IDENTIFIERS` covers English and
Portuguese medical records, device serial numbers, and case numbers tied to a person (insurance
claims and policies, case files, service protocols: HIPAA lists health plan and account numbers
as identifiers). A ticket or a work order names a job, not a person, and is not among them.

**Street addresses** (type ``LOCATION``): a house number and a street name ending in a street
word (``221B Baker Street``, ``12 High Rd``, ``Flat 3, 14 Mill Lane``), or a Portuguese street word
first (``Rua das Flores, 123``, ``Av. Paulista, 1578``). A street address identifies where someone
lives or works; a city or a country alone does not (see ``Detector``'s context rule). The town
written right after a street address, after a comma and before a stop or the rest of the
sentence ("48 Chelsea Mountain, Carolineborough, asks ..."; "Rua das Flores, 123, Moura.";
"12 Mill Lane, Leeds reported a leak") is the town that person lives in, and a ``LOCATION`` of
its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from edgesplit.privacy.phrases import word_alternation

__all__ = ["ADDRESS", "DEFAULT_IDENTIFIERS", "find_addresses", "labelled_pattern"]

DEFAULT_IDENTIFIERS: dict[str, list[str]] = {
    "MEDICAL_RECORD": [
        r"MRN",
        r"medical record(?: number| no\.?| nr\.?)?",
        r"med\.? rec\.?(?: no\.?)?",
        r"patient (?:id|number)",
        r"chart",
        r"hospital (?:no\.?|number|nr\.?)",
        r"NHS (?:no\.?|number)",
        r"prontu[áa]rio",
        r"registro (?:hospitalar|do paciente)",
    ],
    "CASE_NUMBER": [
        r"claim",
        r"case(?= ?(?:#|no\.|number|n[º°]|id\b))(?: id)?",
        r"policy(?= ?(?:#|no\.|number))",
        r"sinistro",
        r"ap[óo]lice",
        r"protocolo",
        r"docket",
        r"(?:n[úu]mero do )?processo",
        r"ref(?:erence)?\.?",
        r"refer[êe]ncia",
    ],
    "DEVICE_SERIAL": [
        r"S/N",
        r"serial(?: number| no\.?| nr\.?)?",
        r"n[úu]mero de s[ée]rie",
    ],
}

# between the label and the value: colons, hashes, dashes, "no.", "nº", "number", "número", spaces
_SEPARATOR = r"(?:\s*(?:[:#=-]|n[º°o]\.?(?=\s|\d)|no\.|number|n[úu]mero)\s*)*\s*"
_VALUE = r"((?:[A-Z]{1,4}-?)?\d[\d-]{3,14}\d)"


def labelled_pattern(labels: Iterable[str]) -> re.Pattern[str]:
    """One pattern for values written after any of ``labels``; group 1 is the value."""
    return re.compile(rf"(?i:{word_alternation(labels)}){_SEPARATOR}(?-i:{_VALUE})(?![\w-])")


def compile_identifiers(identifiers: Mapping[str, Iterable[str]]) -> dict[str, re.Pattern[str]]:
    return {kind.upper(): labelled_pattern(labels) for kind, labels in identifiers.items() if labels}


# Street suffixes: the common ones of USPS Publication 28 (appendix C1) and their abbreviations,
# plus British ones (Close, Mews, Crescent, ...).
_EN_STREET = (
    r"Alley|Aly|Annex|Arcade|Avenue|Ave|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Blvd|Branch|Bridge|Brooks?|Burgs?"
    r"|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Ctr|Circles?|Cir|Cliffs?|Club|Common|Corners?|Course|Courts?|Ct"
    r"|Coves?|Creek|Crescent|Crest|Crossings?|Crossroad|Curve|Dale|Dam|Divide|Drives?|Dr|Estates?|Expressway|Expy"
    r"|Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Forks?|Fort|Freeway|Fwy|Gardens?|Gateways?|Glens?"
    r"|Greens?|Groves?|Harbors?|Haven|Heights|Hts|Highway|Hwy|Hills?|Hollow|Inlet|Islands?|Isles?|Junctions?|Keys?"
    r"|Knolls?|Lakes?|Land|Landing|Lane|Ln|Lights?|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mills?|Mission"
    r"|Motorway|Mount|Mountains?|Neck|Orchards?|Oval|Overpass|Parks?|Parkways?|Pkwy|Pass|Passages?|Paths?|Pike|Pines?"
    r"|Place|Pl|Plains?|Plaza|Plz|Points?|Ports?|Prairie|Radial|Ramp|Ranch|Rapids?|Rest|Ridges?|River|Roads?|Rd"
    r"|Routes?|Row|Rue|Run|Shoals?|Shores?|Skyway|Springs?|Spurs?|Squares?|Sq|Station|Sta|Stravenue|Streams?|Streets?"
    r"|St|Summit|Terraces?|Ter|Throughway|Trace|Track|Trafficway|Trails?|Trl|Tunnel|Turnpike|Underpass|Unions?|Valleys?"
    r"|Viaduct|Views?|Villages?|Ville|Vista|Walks?|Wall|Ways?|Wells?|Close|Crescent|Grove|Rise|Walk|Wharf|Yard"
)
# Logradouro types of the Brazilian postal address directory (Correios), with common abbreviations.
_PT_STREET = (
    r"Rua|R\.|Avenida|Av\.|Praia|Travessa|Tv\.|Alameda|Al\.|Praça|Pça\.|Rodovia|Rod\.|Estrada|Estr\.|Largo|Viela"
    r"|Ladeira|Vila|Quadra|Setor|Parque|Jardim|Conjunto|Condomínio|Residencial|Loteamento|Via|Vereda|Aeroporto"
    r"|Área|Campo|Chácara|Colônia|Distrito|Esplanada|Estação|Favela|Fazenda|Feira|Lago|Lagoa|Morro|Núcleo"
    r"|Passarela|Pátio|Recanto|Sítio|Trecho|Trevo|Vale|Viaduto"
)
_NAME_WORD = r"[A-ZÀ-Ý][\wÀ-ÿ'\u2019-]*"  # letters, apostrophes (straight and curly), hyphens
ADDRESS = re.compile(
    # 221B Baker Street, Apt. 4 / Flat 3, 14 Mill lane / 1600 Pennsylvania Ave NW
    # a house number, or a flat before the street: "Central Park" alone is not an address
    rf"(?=[FAUS\d])"  # the first letters below: re skips other positions at once
    rf"(?:(?:Flat|Apt\.?|Apartment|Unit|Suite|Studio) \w+,?\s(?:\d{{1,5}}[A-Za-z]?\s)?|\b\d{{1,5}}[A-Za-z]?\s)"
    rf"(?:{_NAME_WORD}\s){{1,4}}"
    rf"(?i:{_EN_STREET})\b\.?(?: (?:[NS]?[EW]|[NS])\b)?(?:,? (?:Apt\.?|Suite|Ste\.?|Unit|#) ?\w+)?"
    # Rua das Flores, 123 / Av. Paulista, 1578, apto 42
    rf"|{word_alternation(_PT_STREET.split('|'))} "
    rf"(?:(?:d[aeo]s?|de|e) |{_NAME_WORD} ){{0,6}}?{_NAME_WORD},? (?:n[º°]\.? ?)?\d{{1,5}}"
    rf"(?:,? (?:apto?\.?|apartamento|bloco|casa|sala) ?\w+)?"
)
# ", Town," right after an address: one to four capitalised words (particles between), then a stop.
_TOWN = re.compile(
    rf",\s+((?:d[aeo]s? )?{_NAME_WORD}(?: (?:(?:d[aeo]s?|upon|on|in|le|la) )?{_NAME_WORD}){{0,3}})"
    r"(?=\s*(?:[,.;:)]|$)| [a-zà-ÿ])"  # then a stop, or the sentence goes on ("..., Leeds reported a leak")
)


def find_addresses(text: str) -> Iterator[tuple[int, int]]:
    """Spans of street addresses in ``text``, each followed by the span of its town where one is written."""
    for m in ADDRESS.finditer(text):
        yield m.start(), m.end()
        town = _TOWN.match(text, m.end())
        if town is not None:
            yield town.start(1), town.end(1)
