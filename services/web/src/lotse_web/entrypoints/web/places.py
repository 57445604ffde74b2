"""Names of Gemeinden and Kreise by their keys (AGS), from the directory's gazetteer. The gazetteer changes
with a release, not while the application runs, so each key is asked once per process."""

from lotse_web.entrypoints.web.session import api, token

_names: dict[str, str] = {}


def place_name(key: str) -> str:
    """``05954036`` → ``Witten``; the key itself where the gazetteer knows no place of it."""
    if key not in _names:
        places = api().geocode(token(), key)
        _names[key] = str(places[0].get("name") or key) if places else key
    return _names[key]
