"""Zahlen: the coordinators' figures (KIM Baustein 1). Where referrals go and how they fare, per legal domain,
region and period, and what case managers searched for in vain. Every table is drawn as an SVG chart with the
table beside it (the chart's text alternative) and can be downloaded as CSV. No personal data: routing and the
directory give only counts, and counts under 5 only as "unter 5"."""

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

from flask import Blueprint, Flask, Response, render_template, request
from lotse_contracts import DeclineReason, LegalDomain

from lotse_web.adapters.api import ApiError, together
from lotse_web.entrypoints.web import local_time
from lotse_web.entrypoints.web.places import place_name
from lotse_web.entrypoints.web.referrals import status_label
from lotse_web.entrypoints.web.session import api, current_user, login_required, not_found, token

bp = Blueprint("figures", __name__)
VIEWERS = ("coordinator", "admin")
MONTHS = ("Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez")


@dataclass
class Table:
    """One table of the page: its rows as (label, count or None for "unter 5"), and, for the CSV, its name
    and column headings."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    hidden: int = 0
    """Cells left out because they were under 5 (their sum is unknown)."""
    chart: bool = True
    """Drawn as bars of its last column, labelled by the columns before (``labels``: only so many)."""
    labels: int | None = None
    empty: str = "Keine im gewählten Zeitraum."

    @property
    def bars(self) -> list[dict[str, Any]]:
        """The rows as bars of a horizontal chart, scaled to the largest."""
        top = max((r[-1] or 0 for r in self.rows), default=0) or 1
        return [
            {
                "label": " · ".join(str(c) for c in r[: self.labels or -1]),
                "count": r[-1],
                "share": round(100 * (r[-1] or 0) / top, 1),
            }
            for r in self.rows
        ]


def _totals(cells: list[dict[str, Any]], field: str) -> tuple[dict[Any, int | None], int]:
    """The cells summed by one of their fields (cells without it left out), and how many suppressed cells the
    sums leave out; a row of only suppressed cells is None ("unter 5")."""
    totals: dict[Any, int | None] = {}
    hidden = 0
    for cell in cells:
        key = cell.get(field)
        if key is None:
            continue
        if cell.get("suppressed"):
            hidden += 1
            totals.setdefault(key, None)
        else:
            totals[key] = (totals.get(key) or 0) + int(cell["count"] or 0)
    return totals, hidden


def _largest_first(rows: Iterable[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
    return sorted(rows, key=lambda r: -(r[1] or 0))


def tables(
    figures: dict[str, Any],
    misses: list[dict[str, Any]],
    coverage: dict[str, Any],
    region: str | None,
    names: Callable[[str], str],
) -> list[Table]:
    """The page's tables from routing's figures, the directory's searches that found nothing and its offers per
    Gemeinde; ``names`` gives a region key's name."""
    months, hidden = _totals(figures["months"], "month")
    per_month = Table("monate", "Vermittlungen je Monat", ("Monat", "Vermittlungen"), hidden=hidden)
    per_month.rows = [(f"{MONTHS[int(m[5:7]) - 1]} {m[:4]}", n) for m, n in sorted(months.items())]
    statuses, hidden = _totals(figures["counts"], "status")
    by_status = Table("stand", "Vermittlungen nach Stand", ("Stand", "Vermittlungen"), hidden=hidden)
    by_status.rows = _largest_first((status_label(s), n) for s, n in statuses.items())
    reasons, hidden = _totals(figures["counts"], "decline_reason")
    by_reason = Table("ablehnungen", "Ablehnungsgründe", ("Grund", "Ablehnungen"), hidden=hidden)
    by_reason.rows = _largest_first((_reason(r), n) for r, n in reasons.items())
    regions, hidden = _totals(figures["counts"], "region_key")
    by_region = Table("regionen", "Vermittlungen nach Gemeinde", ("Gemeinde", "Vermittlungen"), hidden=hidden)
    by_region.rows = _largest_first((names(k), n) for k, n in regions.items())

    forwarded = Table(
        "weiterleitungen",
        "Weitergeleitet, weil zuerst an eine unzuständige Stelle vermittelt",
        ("Rechtskreis", "vermittelt", "weitergeleitet"),
        chart=False,
    )
    forwarded.rows = [(_domain(d), cell["of"], cell["count"]) for d, cell in sorted(figures["forwarded"].items())]
    durations = Table(
        "dauer",
        "Mittlere Dauer (Median) in Stunden",
        ("Rechtskreis", "bis zur Kenntnisnahme", "bis zur Annahme"),
        chart=False,
    )
    durations.rows = [
        (_domain(d), _hours(m["to_acknowledged"]), _hours(m["to_accepted"]))
        for d, m in sorted(figures["median_hours"].items())
    ]
    in_vain = Table("ohne-treffer", "Suchen ohne Treffer", ("Gesucht", "Gemeinde", "Suchen"))
    for miss in misses:
        if region and not str(miss.get("region_key") or "").startswith(region):
            continue
        words = miss["terms"] if miss["terms"] is not None else "(seltener als dreimal gesucht)"
        place = names(miss["region_key"]) if miss.get("region_key") else "–"
        in_vain.rows.append((words or "(ohne Suchwort)", place, miss["count"]))
    return [per_month, by_status, by_reason, forwarded, durations, by_region, in_vain, _stale(coverage, region, names)]


def _stale(coverage: dict[str, Any], region: str | None, names: Callable[[str], str]) -> Table:
    """Offers long unconfirmed per Gemeinde (within a region) or per Kreis (everywhere), most first: where the
    directory is out of date. Counts of offers, not of people: nothing is left out."""
    per_kreis = not region
    stale = Table(
        "veraltet",
        f"Angebote, die seit über {coverage['stale_after_days']} Tagen nicht bestätigt wurden (Stand heute)",
        ("Kreis" if per_kreis else "Gemeinde", "Angebote", "nicht bestätigt"),
        labels=1,
        empty="Keine Angebote mit öffentlicher Adresse in dieser Region.",
    )
    sums: dict[str, list[int]] = {}
    for row in coverage["regions"]:
        counts = sums.setdefault(row["key"][:5] if per_kreis else row["key"], [0, 0])
        counts[0] += row["offers"]
        counts[1] += row["stale"]
    stale.rows = sorted(((names(k), n, s) for k, (n, s) in sums.items()), key=lambda r: (-r[2], -r[1], r[0]))
    return stale


def _hours(value: float | None) -> str:
    return "unter 5 Vermittlungen" if value is None else f"{value:.1f}".replace(".", ",")


def _domain(code: str) -> str:
    try:
        return LegalDomain(code).title_de
    except ValueError:
        return code


def _reason(code: str) -> str:
    try:
        return DeclineReason(code).label_de
    except ValueError:
        return code


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _scope() -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The filters as given, the routing query they make, and what is wrong with them."""
    today = local_time.today()
    given = {
        "rechtskreis": request.args.get("rechtskreis", ""),
        "region": request.args.get("region", "").strip()[:100],
        "von": request.args.get("von", (today.replace(day=1) - timedelta(days=335)).replace(day=1).isoformat()),
        "bis": request.args.get("bis", today.isoformat()),
    }
    errors: dict[str, str] = {}
    query: dict[str, str] = {}
    if given["rechtskreis"] in {d.value for d in LegalDomain}:
        query["legal_domain"] = given["rechtskreis"]
    first, last = _day(given["von"], date.min), _day(given["bis"], date.min)
    if first == date.min:
        errors["von"] = "Geben Sie den ersten Tag als Datum ein."
    if last == date.min:
        errors["bis"] = "Geben Sie den letzten Tag als Datum ein."
    elif first != date.min and last < first:
        errors["bis"] = "Der letzte Tag darf nicht vor dem ersten liegen."
    if not errors:
        query |= {"from": first.isoformat(), "to": last.isoformat()}
    if given["region"]:
        places = api().geocode(token(), given["region"])
        key = (places[0].get("ags") or places[0].get("kreis_key")) if places else None
        if key:
            query["region"] = key
            given["region_name"] = places[0].get("name") or given["region"]
        else:
            errors["region"] = (
                "Diesen Kreis oder diese Gemeinde kennen wir nicht. Geben Sie einen Namen oder eine PLZ ein."
            )
    return given, query, errors


def _figures() -> tuple[dict[str, Any], list[Table], dict[str, str]]:
    given, query, errors = _scope()
    if errors:
        return given, [], errors
    client, bearer = api(), token()
    figures, misses, coverage = together(
        partial(client.figures, bearer, query),
        partial(client.search_misses, bearer, query.get("from")),
        partial(client.coverage, bearer, query.get("legal_domain"), query.get("region")),
    )
    return given, tables(figures, misses, coverage, query.get("region"), place_name), errors


@bp.get("/zahlen")
@login_required
def page() -> Any:
    user = current_user()
    if not user or user["role"] not in VIEWERS:
        return not_found()
    given, found, errors = _figures()
    return (
        render_template(
            "figures.html",
            title="Zahlen",
            user=user,
            given=given,
            tables=found,
            errors=errors,
            domains=[d.value for d in LegalDomain],
        ),
        400 if errors else 200,
    )


@bp.get("/zahlen/<name>.csv")
@login_required
def download(name: str) -> Any:
    """One table as CSV (semicolons and a BOM, as German spreadsheets open it)."""
    user = current_user()
    if not user or user["role"] not in VIEWERS:
        return not_found()
    try:
        given, found, _ = _figures()
    except ApiError as error:
        if error.status == 400:
            return not_found()
        raise
    table = next((t for t in found if t.name == name), None)
    if table is None:
        return not_found()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["unter 5" if c is None else c for c in row])
    filename = f"lotse-{name}-{given['von']}-{given['bis']}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)
