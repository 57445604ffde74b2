"""German text analysis, the same steps as Lucene's and Elasticsearch's ``german`` analyzer.

Tokenise on letters and digits, lowercase, drop German stop words (their positions stay, so that
phrases match as in Elasticsearch), fold umlauts and ß (German normalisation: ``ä``/``ae`` → ``a``,
``ß`` → ``ss``) and stem with the light German stemmer (Savoy). The embedded index stores these
terms; Elasticsearch produces them itself from the mapping's ``german`` analyzer, so both backends
find the same documents for the same words.
"""

import re
import unicodedata
from functools import cache, lru_cache
from importlib import resources

_LETTER = r"[^\W\d_]"
_TOKEN = re.compile(rf"\w+(?:(?:(?<={_LETTER})[:·'.’](?={_LETTER})|(?<=\d)[,;.'’](?=\d))\w+)*")
"""Words as the standard tokenizer (Unicode UAX #29) finds them: letters and digits, joined by
underscores; a single ``.`` ``'`` ``:`` between letters (``z.B``, ``Kita's``) or ``.`` ``,`` between
digits (``1.5``, ``3,5``) stays inside the word."""


STOP = "x0x"
"""Placeholder the embedded index stores where a stop word was, to keep phrase positions."""


@cache
def stop_words() -> frozenset[str]:
    text = resources.files("lotse_directory").joinpath("data", "search", "german_stop.txt").read_text("utf-8")
    words = (w for line in text.splitlines() if not line.startswith("#") for w in line.split())
    return frozenset(words)


def normalize(word: str) -> str:
    """Lucene's GermanNormalizationFilter: ä ö ü → a o u, ß → ss, and ``ae``/``oe``/``ue`` → a o u
    (the ``e`` goes only after a vowel that cannot start a diphthong with it, so ``Frauen`` stays)."""
    out: list[str] = []
    state = "N"
    for char in word:
        c = char
        if c in "ao":
            state = "U"
        elif c == "u":
            state = "U" if state == "N" else "V"
        elif c == "e":
            if state == "U":
                state = "V"
                continue
            state = "V"
        elif c in "iqy":
            state = "V"
        elif c in "äöü":
            c = {"ä": "a", "ö": "o", "ü": "u"}[c]
            state = "V"
        elif c == "ß":
            c = "ss"
            state = "N"
        else:
            state = "N"
        out.append(c)
    return "".join(out)


_FOLD = str.maketrans("äàáâöòóôïìíîüùúû", "aaaaooooiiiiuuuu")
_ST_ENDING = frozenset("bdfghklmnt")


def light_stem(word: str) -> str:
    """Lucene's GermanLightStemmer (Jacques Savoy's light stemmer for German)."""
    s = word.translate(_FOLD)
    n = len(s)
    # step 1
    if n > 5 and s.endswith("ern"):
        n -= 3
    elif n > 4 and s[n - 2] == "e" and s[n - 1] in "mnrs":
        n -= 2
    elif (n > 3 and s[n - 1] == "e") or (n > 3 and s[n - 1] == "s" and s[n - 2] in _ST_ENDING):
        n -= 1
    s = s[:n]
    # step 2
    if n > 5 and s.endswith("est"):
        n -= 3
    elif (n > 4 and s[n - 2] == "e" and s[n - 1] in "rn") or (n > 4 and s.endswith("st") and s[n - 3] in _ST_ENDING):
        n -= 2
    return s[:n]


def tokens(text: str) -> list[str]:
    """Words of ``text`` (composed: "ü" written as u and a combining diaeresis is "ü"), lowercased."""
    text = unicodedata.normalize("NFC", text)
    return [t.replace("İ", "i").lower() for t in _TOKEN.findall(text) if t.strip("_")]


@lru_cache(maxsize=1 << 16)
def term(word: str) -> str:
    """The index term of one lowercased, non-stop word."""
    return light_stem(normalize(word))


def analyze(text: str) -> list[str | None]:
    """Index terms of ``text`` in order; ``None`` where a stop word stood."""
    stop = stop_words()
    return [None if w in stop else term(w) for w in tokens(text)]


@lru_cache(maxsize=1 << 14)
def index_text(text: str) -> str:
    """``text`` as the embedded index stores it: terms separated by spaces, stop words as placeholders."""
    return " ".join(t if t is not None else STOP for t in analyze(text))


_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789éèêçñ"


def one_edit_variants(word: str) -> set[str]:
    """Every string one edit away (delete, transpose, replace, insert), as a fuzzy query of distance 1
    (Damerau-Levenshtein, as Lucene's with transpositions) would match them."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    inserts = {a + c + b for a, b in splits for c in _ALPHABET}
    return (deletes | transposes | replaces | inserts) - {word}
