"""Command line of the directory: database, users and tokens, demo data, import and export, search index,
serve, worker."""

import gc
import json
import re
import secrets
import sys
import uuid
import zipfile
from pathlib import Path

import click
from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Invalid, UseCaseError
from lotse_kit.logs import configure_logging
from lotse_kit.progress import ProgressBar
from lotse_kit.settings import kept_secret
from lotse_kit.tokens import HmacTokenVerifier

from lotse_directory.bootstrap import Container, build
from lotse_directory.settings import Settings
from lotse_directory.use_cases.demo import demo_document
from lotse_directory.use_cases.search_indexing import Indexer

CLI_ADMIN = TokenClaims(subject="cli", role=Role.ADMIN, organization_id=None, name="Kommandozeile")


def _container() -> Container:
    return build(Settings.from_env())


def _issuer(container: Container) -> HmacTokenVerifier:
    if not isinstance(container.verifier, HmacTokenVerifier):
        raise click.ClickException("tokens are issued by your OIDC provider in scale mode")
    return container.verifier


def _fail(error: UseCaseError) -> None:
    if isinstance(error, Invalid):
        for v in error.violations[:50]:
            click.echo(f"  {v.field}: {v.reason}", err=True)
        raise click.ClickException(error.detail or f"{len(error.violations)} problem(s)")
    raise click.ClickException(str(error))


@click.group()
def main() -> None:
    """Lotse directory (Verzeichnis)."""
    configure_logging("directory")


@main.group()
def db() -> None:
    """The directory database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    container = _container()
    container.migrate()
    click.echo(f"database ready: {container.engine.url.render_as_string(hide_password=True)}")


@main.group()
def users() -> None:
    """Users and their bearer tokens (embedded mode)."""


@users.command("create")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--org", "organization_id", default=None, help="the user's organisation (HSDS id)")
@click.option(
    "--region",
    "regions",
    multiple=True,
    help="a maintainer keeps who is responsible in this region (AGS prefix, e.g. 05954 for a Kreis); repeatable",
)
@click.option("--login", default=None, help="the name the user logs in with (letters, digits, . _ -); else a UUID")
@click.option("--days", default=30, show_default=True, help="how long the token is valid")
def users_create(
    name: str, role: str, organization_id: str | None, regions: tuple[str, ...], login: str | None, days: int
) -> None:
    """Create a user and print a bearer token for them (a password for the web login: `users set-password`)."""
    from datetime import timedelta

    container = _container()
    if Role(role) is not Role.ADMIN and not organization_id:
        raise click.ClickException("every role but admin needs --org")
    if regions and Role(role) is not Role.MAINTAINER:
        raise click.ClickException("--region is for maintainers")
    for key in regions:
        if not container.gazetteer.region_exists(key):
            raise click.ClickException(f"--region {key} names no German region (AGS prefix)")
    if login is not None and not re.fullmatch(r"[A-Za-z0-9._-]{3,64}", login):
        raise click.ClickException("--login: 3 to 64 letters, digits, dots, underscores or hyphens")
    user_id = login or str(uuid.uuid4())
    with container.store.transaction() as session:
        if organization_id and session.get("organization", organization_id) is None:
            raise click.ClickException(f"no organisation {organization_id}")
        if session.get_user(user_id) is not None:
            raise click.ClickException(f"a user {user_id} exists already")
        session.add_user(
            {"id": user_id, "name": name, "role": role, "organization_id": organization_id, "regions": list(regions)}
        )
    token = _issuer(container).issue(user_id, Role(role), organization_id, name, timedelta(days=days), tuple(regions))
    click.echo(f"user {user_id} ({name}, {role})")
    click.echo(token)


@users.command("set-password")
@click.argument("login")
@click.password_option(help="the new password (asked twice when not given)")
def users_set_password(login: str, password: str) -> None:
    """Set the password a user logs in to the web application with (embedded mode)."""
    try:
        _container().accounts.set_password(login, password)
    except UseCaseError as error:
        _fail(error)
    click.echo(f"password of {login} set")


@users.command("demo-logins")
def users_demo_logins() -> None:
    """Give the demo users a password (made once, kept in var/demo-password) and print their logins."""
    container = _container()
    _demo_users(container)
    password = kept_secret(container.settings.var_dir / "demo-password", lambda: secrets.token_urlsafe(9))
    for user_id in _DEMO_USERS:
        container.accounts.set_password(user_id, password)
    click.echo(f"demo logins (password for each: {password}):")
    for user_id, (name, role, _) in _DEMO_USERS.items():
        click.echo(f"  {user_id:<18} {role.value:<12} {name}")


@click.argument("user_id")
@click.option("--days", default=30, show_default=True)
def users_token(user_id: str, days: int) -> None:
    """Print a new bearer token for an existing user."""
    from datetime import timedelta

    container = _container()
    with container.store.transaction() as session:
        user = session.get_user(user_id)
    if user is None:
        raise click.ClickException(f"no user {user_id}")
    click.echo(
        _issuer(container).issue(
            user_id,
            Role(user["role"]),
            user["organization_id"],
            user["name"],
            timedelta(days=days),
            tuple(user.get("regions") or ()),
        )
    )


_KI_EN = "Kommunales Integrationszentrum Ennepe-Ruhr-Kreis (Demo)"
_DEMO_USERS = {
    "demo-admin": ("Demo Admin", Role.ADMIN, None),
    "demo-maintainer": ("Demo Pflege KI Ennepe-Ruhr", Role.MAINTAINER, _KI_EN),
    "demo-case-manager": ("Demo Case Management KI Ennepe-Ruhr", Role.CASE_MANAGER, _KI_EN),
    "demo-agency": ("Demo Jugendamt Witten", Role.AGENCY, "Jugendamt der Stadt Witten (Demo)"),
    "demo-coordinator": ("Demo Koordination KI Ennepe-Ruhr", Role.COORDINATOR, _KI_EN),
}
_DEMO_REGIONS = {"demo-maintainer": ("05954",)}
"""The KIM coordination of the Ennepe-Ruhr-Kreis keeps who is responsible there."""


def _demo_users(container: Container) -> dict[str, str | None]:
    """The demo users, made once: their organisations by user id."""
    organizations: dict[str, str | None] = {}
    with container.store.transaction() as session:
        for user_id, (name, role, org_name) in _DEMO_USERS.items():
            found = session.select("organization", {"name": org_name, "demo": True}) if org_name else []
            if org_name and not found:
                raise click.ClickException(f"demo organisation {org_name!r} missing: run `demo load` first")
            organizations[user_id] = str(found[0]["id"]) if found else None
            if session.get_user(user_id) is None:
                session.add_user(
                    {
                        "id": user_id,
                        "name": name,
                        "role": role.value,
                        "organization_id": organizations[user_id],
                        "regions": list(_DEMO_REGIONS.get(user_id, ())),
                    }
                )
    return organizations


@users.command("demo-tokens")
@click.option("--shell", is_flag=True, help="print `export <ROLE>_TOKEN=…` lines for eval in a shell")
def users_demo_tokens(shell: bool) -> None:
    """Create (once) and print tokens for the demo users, one per role."""
    container = _container()
    organizations = _demo_users(container)
    issuer = _issuer(container)
    for user_id, (name, role, _) in _DEMO_USERS.items():
        regions = _DEMO_REGIONS.get(user_id, ())
        token = issuer.issue(user_id, role, organizations[user_id], name, regions=regions)
        click.echo(f"export {role.value.upper()}_TOKEN={token}" if shell else f"{role.value:<12} {name}: {token}")


@main.group()
def demo() -> None:
    """The NRW demo data set."""


@demo.command("load")
@click.option("--if-empty", is_flag=True, help="only when the directory holds no organisation yet")
def demo_load(if_empty: bool) -> None:
    """Load the NRW demo data (authorities of all 53 Kreise, offers of the KIM regions)."""
    container = _container()
    if if_empty:
        with container.store.transaction() as session:
            if session.count("organization"):
                click.echo("directory not empty: demo data not loaded again")
                return
    try:
        report = container.exchange.import_json(CLI_ADMIN, demo_document(container.gazetteer))
    except UseCaseError as error:
        _fail(error)
        return
    click.echo(f"demo data loaded: {json.dumps(report.created, ensure_ascii=False)}")
    _demo_webhook(container)


def _demo_webhook(container: Container) -> None:
    """The demo Jugendamt Witten is told of its referrals by webhook too; the secret goes to
    ``var/demo-webhook-secret`` for the demo receiver."""
    with container.store.transaction() as session:
        [org] = session.select("organization", {"name": _DEMO_USERS["demo-agency"][2], "demo": True})
    url = container.settings.demo_webhook_url
    try:
        channel = container.channels.create(CLI_ADMIN, str(org["id"]), {"kind": "webhook", "target": url})
    except UseCaseError as error:  # a loopback receiver needs the operator's leave (make run gives it)
        reason = error.violations[0].reason if isinstance(error, Invalid) and error.violations else str(error)
        click.echo(f"demo webhook not set up: {reason}", err=True)
        return
    path = container.settings.var_dir / "demo-webhook-secret"
    path.write_text(channel["secrets"][0]["secret"] + "\n")
    click.echo(f"demo webhook: {url} for {org['name']}, its secret in {path}")


@main.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def import_(path: Path) -> None:
    """Import HSDS JSON (.json), a CSV data package (.zip) or a folder of HSDS CSV files."""
    container = _container()
    gc.disable()  # millions of new objects, none of them cyclic garbage: spare the collector's passes
    try:
        with ProgressBar("rows written") as bar:
            if path.is_dir():
                files = {p.name: p.read_text("utf-8") for p in path.iterdir() if p.suffix in (".csv", ".json")}
                report = container.exchange.import_csv(CLI_ADMIN, files, progress=bar)
            elif zipfile.is_zipfile(path):
                report = container.exchange.import_csv_zip(CLI_ADMIN, path.read_bytes(), progress=bar)
            else:
                report = container.exchange.import_json(CLI_ADMIN, json.loads(path.read_text("utf-8")), progress=bar)
    except UseCaseError as error:
        _fail(error)
        return
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))


@main.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="file (json) or .zip (csv)")
def export(fmt: str, out: Path | None) -> None:
    """Export the whole directory as HSDS 3.0 JSON or as the CSV data package."""
    container = _container()
    if fmt == "csv":
        data = container.exchange.export_csv_zip(CLI_ADMIN)
        if out is None:
            raise click.ClickException("--out FILE.zip is needed for csv")
        out.write_bytes(data)
        return
    text = json.dumps(container.exchange.export_json(CLI_ADMIN), ensure_ascii=False, indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text, "utf-8")


@main.command("serve")
def serve() -> None:
    """Serve the directory API (gunicorn: LOTSE_DIRECTORY_WORKERS processes) on LOTSE_DIRECTORY_HOST:PORT."""
    from lotse_directory.entrypoints.server import directory_server

    settings = Settings.from_env()
    container = build(settings)
    if not container.schema_current():
        raise click.ClickException("the database is not at the newest schema: run `lotse-directory db upgrade` first")
    if container.search_index is not None:
        container.search_index.ensure()
    url = f"http://{settings.host}:{settings.port}"
    click.echo(f"Lotse directory: {url}/docs (API {url}/api/v1, OpenAPI {url}/openapi.json)")
    directory_server(settings).run()


@main.group()
def search() -> None:
    """The Elasticsearch index (scale mode; the embedded index needs no care)."""


def _indexer(container: Container) -> Indexer:
    if container.indexer is None:
        raise click.ClickException("no Elasticsearch configured: set ELASTICSEARCH_URL")
    return container.indexer


@search.command("rebuild")
def search_rebuild() -> None:
    """Fill a new index from the database and switch the alias to it (searches go on meanwhile)."""
    container = _container()
    with ProgressBar("offers indexed") as bar:
        done = _indexer(container).rebuild(progress=bar)
    click.echo(f"index {done.index}: {done.offers} offers, {done.caught_up} caught up, dropped {done.dropped or '-'}")


@search.command("catch-up")
def search_catch_up() -> None:
    """Index every offer whose index entry is behind the database (what the worker's sweep does)."""
    click.echo(f"{_indexer(_container()).catch_up()} offers indexed")


@main.command("worker")
@click.option("--beat/--no-beat", default=False, help="also run the sweep every minute (one worker per site)")
@click.option("--concurrency", default=2, show_default=True)
@click.option("--hostname", default=None, help="node name, e.g. indexer-1@%h (unique per worker on a host)")
def worker(beat: bool, concurrency: int, hostname: str | None) -> None:
    """Run the Celery worker for indexing jobs (scale mode)."""
    from lotse_directory.entrypoints.worker import register

    container = _container()
    if container.search_index is not None:
        container.search_index.ensure()
    argv = ["worker", "--loglevel=INFO", f"--concurrency={concurrency}"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    register(container).worker_main([*argv, "--beat"] if beat else argv)
