"""Whom a referral is about, as a key to find it by when that person asks what Lotse holds on them (DSGVO
Art. 15) or asks for its erasure (Art. 17): the client's name and birth date, normalised so that case, accents,
spacing, punctuation and the order of the names make no difference. Routing keeps only a keyed hash of it
(a blind index), never the key in the clear."""

import re
import unicodedata
from datetime import date

_NOT_A_LETTER = re.compile(r"[\W_]+")


def person_key(name: str, birth_date: date | None) -> str:
    """``"beispiel samira|1990-04-01"`` for "Samira Beispiel" and "BEISPIEL, Samira" born on 1 April 1990;
    accents dropped (Şahin → sahin, Müller → muller), ß → ss. Without a birth date the part after ``|`` is
    empty."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = sorted(w for w in _NOT_A_LETTER.split(plain) if w)
    return " ".join(words) + "|" + (birth_date.isoformat() if birth_date else "")
