"""From the words a case manager typed to what each backend must find, and how it is scored.

A query is a list of terms; an offer matches if it matches every term. A term matches in one of the
text fields by its own word (exact), by a synonym from the shared list, or — for words whose term has
five letters or more — with one typo. The score of a term is the best weight among its matches
(:data:`WEIGHTS`); the text score is the sum over the terms. Both backends compute exactly this, so
they rank the same way: Elasticsearch with ``constant_score`` clauses under ``dis_max``, the
embedded index in SQL.
"""

from dataclasses import dataclass
from functools import cache
from importlib import resources

from lotse_directory.domain.search.analysis import analyze, stop_words, term, tokens

FIELDS = ("name", "organization", "topics", "roles", "description")
"""Text fields of a search document: offer name, organisation name, topics and target groups,
public contacts' roles (title, department), description."""

KINDS = ("exact", "synonym", "fuzzy")

WEIGHTS: dict[str, dict[str, int]] = {
    "exact": {"name": 10, "organization": 6, "topics": 6, "roles": 4, "description": 3},
    "synonym": {"name": 8, "organization": 5, "topics": 5, "roles": 3, "description": 2},
    "fuzzy": {"name": 5, "organization": 3, "topics": 3, "roles": 2, "description": 1},
}

FUZZY_MIN_LENGTH = 5
"""Terms this long or longer also match with one typo (one insertion, deletion, substitution or
transposition)."""

MAX_TERMS = 8


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words as typed (lowercased) and their index terms; ``None`` marks a stop word's position."""

    words: tuple[str, ...]
    terms: tuple[str | None, ...]

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True, slots=True)
class PlannedTerm:
    """One term of a query: a word (or a multi-word entry of the synonym list) and its alternatives."""

    exact: Phrase
    synonyms: tuple[Phrase, ...]
    fuzzy: bool
    """Also match with one typo (single words whose term has :data:`FUZZY_MIN_LENGTH` letters or more)."""


@cache
def synonym_groups() -> tuple[tuple[Phrase, ...], ...]:
    """The shared synonym list (``data/search/synonyms_de.txt``), analysed."""
    text = resources.files("lotse_directory").joinpath("data", "search", "synonyms_de.txt").read_text("utf-8")
    groups = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        group = []
        for entry in line.split(","):
            words = tuple(tokens(entry))
            terms = tuple(analyze(entry))
            if words and any(terms):
                group.append(Phrase(words, terms))
        groups.append(tuple(group))
    return tuple(groups)


@cache
def _synonym_index() -> dict[tuple[str | None, ...], tuple[Phrase, ...]]:
    index: dict[tuple[str | None, ...], list[Phrase]] = {}
    for group in synonym_groups():
        for phrase in group:
            index.setdefault(_key(phrase.terms), []).extend(p for p in group if p != phrase)
    return {k: tuple(v) for k, v in index.items()}


def _key(terms: tuple[str | None, ...]) -> tuple[str | None, ...]:
    return tuple(t for t in terms if t is not None)


def plan(text: str) -> list[PlannedTerm]:
    """The terms of a query, with synonyms. A multi-word synonym entry typed as such ("SGB II",
    "Agentur für Arbeit") becomes one term whose own match is the phrase."""
    stop = stop_words()
    words = tokens(text)
    index = _synonym_index()
    longest = max((len(k) for k in index), default=1)
    out: list[PlannedTerm] = []
    i = 0
    while i < len(words) and len(out) < MAX_TERMS:
        if words[i] in stop:
            i += 1
            continue
        for size in range(min(longest + 2, len(words) - i), 0, -1):
            chunk = words[i : i + size]
            terms = tuple(None if w in stop else term(w) for w in chunk)
            if size > 1 and (chunk[-1] in stop or _key(terms) not in index):
                continue
            fuzzy = size == 1 and len(terms[0] or "") >= FUZZY_MIN_LENGTH
            out.append(PlannedTerm(Phrase(tuple(chunk), terms), index.get(_key(terms), ()), fuzzy))
            i += size
            break
    return out
