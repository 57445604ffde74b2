"""Legal domains (Rechtskreise) a referral, offer or jurisdiction belongs to."""

from enum import StrEnum


class LegalDomain(StrEnum):
    """A German body of social or residence law; extend by adding a member.

    The value is the stable code used in APIs, events and routing keys
    (lower-cased in routing keys: ``sgb_viii``).
    """

    SGB_II = "SGB_II"  # Grundsicherung für Arbeitsuchende (Jobcenter)
    SGB_III = "SGB_III"  # Arbeitsförderung (Agentur für Arbeit)
    SGB_VIII = "SGB_VIII"  # Kinder- und Jugendhilfe (Jugendamt)
    AUFENTHG = "AUFENTHG"  # Aufenthaltsrecht (Ausländerbehörde)
    STAG = "STAG"  # Staatsangehörigkeit, Einbürgerung (Einbürgerungsbehörde)
    SGB_IX = "SGB_IX"  # Rehabilitation und Teilhabe
    SGB_XII = "SGB_XII"  # Sozialhilfe (Sozialamt)
    ASYLBLG = "ASYLBLG"  # Asylbewerberleistungsgesetz

    @classmethod
    def _missing_(cls, value: object) -> "LegalDomain | None":
        """The common spellings, in any case: ``AufenthG``, ``SGB II``, ``sgb-ii``, ``SGB2``, ``StAG``."""
        if not isinstance(value, str):
            return None
        key = "".join(c for c in value.upper() if c.isalnum())
        return next((d for d in cls if key in _SPELLINGS[d]), None)

    @property
    def title_de(self) -> str:
        return _TITLES_DE[self]

    @property
    def authority_de(self) -> str:
        """The kind of authority usually responsible, as users name it."""
        return _AUTHORITIES_DE[self]


_TITLES_DE: dict[LegalDomain, str] = {
    LegalDomain.SGB_II: "SGB II – Grundsicherung für Arbeitsuchende",
    LegalDomain.SGB_III: "SGB III – Arbeitsförderung",
    LegalDomain.SGB_VIII: "SGB VIII – Kinder- und Jugendhilfe",
    LegalDomain.AUFENTHG: "AufenthG – Aufenthaltsrecht",
    LegalDomain.STAG: "StAG – Staatsangehörigkeit und Einbürgerung",
    LegalDomain.SGB_IX: "SGB IX – Rehabilitation und Teilhabe",
    LegalDomain.SGB_XII: "SGB XII – Sozialhilfe",
    LegalDomain.ASYLBLG: "AsylbLG – Asylbewerberleistungen",
}

_AUTHORITIES_DE: dict[LegalDomain, str] = {
    LegalDomain.SGB_II: "Jobcenter",
    LegalDomain.SGB_III: "Agentur für Arbeit",
    LegalDomain.SGB_VIII: "Jugendamt",
    LegalDomain.AUFENTHG: "Ausländerbehörde",
    LegalDomain.STAG: "Einbürgerungsbehörde",
    LegalDomain.SGB_IX: "Rehabilitationsträger",
    LegalDomain.SGB_XII: "Sozialamt",
    LegalDomain.ASYLBLG: "Sozialamt (AsylbLG)",
}

_SPELLINGS: dict[LegalDomain, frozenset[str]] = {
    LegalDomain.SGB_II: frozenset({"SGBII", "SGB2"}),
    LegalDomain.SGB_III: frozenset({"SGBIII", "SGB3"}),
    LegalDomain.SGB_VIII: frozenset({"SGBVIII", "SGB8"}),
    LegalDomain.AUFENTHG: frozenset({"AUFENTHG", "AUFENTHALTSGESETZ"}),
    LegalDomain.STAG: frozenset({"STAG", "STAATSANGEHOERIGKEITSGESETZ", "STAATSANGEHÖRIGKEITSGESETZ"}),
    LegalDomain.SGB_IX: frozenset({"SGBIX", "SGB9"}),
    LegalDomain.SGB_XII: frozenset({"SGBXII", "SGB12"}),
    LegalDomain.ASYLBLG: frozenset({"ASYLBLG", "ASYLBEWERBERLEISTUNGSGESETZ"}),
}
"""Spellings users write, upper-cased, without spaces, dots, dashes or underscores."""
