"""Message catalogs of the report (`twin/evidence/locales/<lang>.json`): every fixed text it shows.

A catalog is a flat JSON object ``{"key": "text"}``; texts may hold
``str.format`` fields (``{n}``). `en` is the reference catalog: every other
language must have exactly its keys (a test checks this). Looking up a key
that a catalog lacks raises KeyError, so a missing translation fails loudly
instead of falling back silently.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from twin.errors import InputError

REFERENCE = "en"


def available() -> tuple[str, ...]:
    """The languages with a catalog, sorted."""
    folder = resources.files("twin.evidence").joinpath("locales")
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json")))


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """The catalog of `lang` (raises InputError for a language without one)."""
    if lang not in available():
        raise InputError.single("--lang", "", f"unknown language {lang!r} "
                                              f"(available: {', '.join(available())})")
    text = resources.files("twin.evidence").joinpath("locales", f"{lang}.json").read_text("utf-8")
    return json.loads(text)


def parse_langs(text: str) -> tuple[str, ...]:
    """`"en,zh"` → ("en", "zh"), each checked against the catalogs; duplicates dropped."""
    langs = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not langs:
        raise InputError.single("--lang", "", "expected one or more languages, e.g. en,zh")
    for lang in langs:
        catalog(lang)
    return langs


class Text:
    """Look-ups in one catalog: ``t("key")`` or ``t("key", n=3)``; a missing key raises KeyError."""

    def __init__(self, lang: str):
        self.lang = lang
        self.messages = catalog(lang)

    def __call__(self, key: str, **fields) -> str:
        text = self.messages[key]
        return text.format(**fields) if fields else text
