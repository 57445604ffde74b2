"""Text as every Lotse service takes it: NFC-normalised, without control characters or lone surrogates,
with something visible in it; and JSON no deeper than any Lotse document needs.

Checked where input enters (request bodies and query parameters, :mod:`lotse_kit.openapi`), so that no
use case meets a NUL that PostgreSQL refuses, a surrogate that UTF-8 cannot encode (both were 500s), a
name made of zero-width spaces, or a decomposed umlaut that a search in composed form does not find.
"""

import re
import unicodedata
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 32
"""Nesting of objects and arrays a request body may have (the HSDS documents need 6)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_INVISIBLE = frozenset("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f\u2060\ufeff")


class TooDeep(ValueError):
    """The document nests deeper than :data:`MAX_DEPTH`."""


def text_problem(value: str) -> str | None:
    """Why a string cannot be taken, or None."""
    if _SURROGATE.search(value):
        return "holds a lone surrogate (not valid Unicode)"
    if _CONTROL.search(value):
        return "holds control characters"
    if value and all(c.isspace() or c in _INVISIBLE or unicodedata.category(c) == "Cf" for c in value):
        return "holds no visible character"
    return None


def clean_text(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def clean_json(value: Any, problems: Callable[[str, str], None], path: str = "", depth: int = 0) -> Any:
    """``value`` with every string (key and value) in NFC; each string that cannot be taken is reported to
    ``problems`` with its dotted path. :class:`TooDeep` when nested beyond :data:`MAX_DEPTH`."""
    if depth > MAX_DEPTH:
        raise TooDeep(f"nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        why = text_problem(value)
        if why:
            problems(path or "body", why)
            return value
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v, problems, f"{path}.{i}" if path else str(i), depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            shown = key.encode("utf-8", "backslashreplace").decode("utf-8")  # a surrogate cannot be answered
            where = f"{path}.{shown}" if path else shown
            why = text_problem(key)
            if why:
                problems(where, f"name {why}")
                continue
            out[clean_text(key)] = clean_json(item, problems, where, depth + 1)
        return out
    return value
