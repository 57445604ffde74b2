"""Static checks of docker-compose.yml and the images (Docker itself is not on the test machine):
every service's command exists, its settings parse, its port is the one published, its files exist."""

import re
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from lotse_directory.entrypoints.cli import main as directory_cli
from lotse_directory.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))
    return loaded


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text("utf-8").splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.startswith("#")}


def test_directory_service_settings_command_and_port_agree() -> None:
    service = _compose()["services"]["directory"]
    env = {**_env_file(REPO / service["env_file"]), **service["environment"]}
    settings = Settings.from_env(env)
    assert settings.database_url.startswith("postgresql+psycopg://") and "@postgres:5432/" in settings.database_url
    assert settings.host == "0.0.0.0"
    assert f"{settings.port}:{settings.port}" in service["ports"]
    steps = re.findall(r"lotse-directory ([a-z ]+?)(?:&&|$)", service["command"][-1])
    assert [s.strip() for s in steps] == ["db upgrade", "serve"]
    for step in steps:
        result = CliRunner().invoke(directory_cli, [*step.split(), "--help"])
        assert result.exit_code == 0, f"lotse-directory {step}: {result.output}"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    database = service["environment"]["LOTSE_DIRECTORY_DATABASE_URL"].rsplit("/", 1)[1]
    assert _compose()["services"]["postgres"]["environment"]["POSTGRES_DB"] == database


def test_directory_worker_reaches_elasticsearch_and_the_broker_the_compose_file_runs() -> None:
    services = _compose()["services"]
    worker, web = services["directory-worker"], services["directory"]
    assert worker["image"] == web["image"] and "build" in web  # one image, built once
    env = {**_env_file(REPO / worker["env_file"]), **worker["environment"]}
    settings = Settings.from_env(env)
    assert settings.elasticsearch_url == "http://elasticsearch:9200"
    assert "9200:9200" in services["elasticsearch"]["ports"]
    rabbit = services["rabbitmq"]["environment"]
    user, password = rabbit["RABBITMQ_DEFAULT_USER"], rabbit["RABBITMQ_DEFAULT_PASS"]
    assert settings.celery_broker_url == f"amqp://{user}:{password}@rabbitmq:5672//"
    assert Settings.from_env({**env, **web["environment"]}).elasticsearch_url == settings.elasticsearch_url
    steps = re.findall(r"lotse-directory ([a-z -]+?)(?:&&|$)", worker["command"][-1])
    assert [s.strip() for s in steps] == ["db upgrade", "worker --beat"]
    for step in steps:
        result = CliRunner().invoke(directory_cli, [*step.split(), "--help"])
        assert result.exit_code == 0, f"lotse-directory {step}: {result.output}"
    for name in ("postgres", "elasticsearch", "rabbitmq"):
        assert worker["depends_on"][name]["condition"] == "service_healthy"
        assert web["depends_on"][name]["condition"] == "service_healthy"


def test_dockerfiles_copy_what_exists_and_expose_the_published_port() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        if "build" not in service:
            continue
        dockerfile = REPO / service["build"]["dockerfile"]
        text = dockerfile.read_text("utf-8")
        for source in re.findall(r"^COPY (\S+)", text, re.M):
            assert (REPO / source).exists(), f"{dockerfile.name} copies missing {source}"
        exposed = re.findall(r"^EXPOSE (\d+)", text, re.M)
        assert [f"{p}:{p}" for p in exposed] == service["ports"], name


def test_routing_service_reaches_its_database_the_directory_and_the_broker() -> None:
    from lotse_routing.entrypoints.cli import main as routing_cli
    from lotse_routing.settings import Settings as RoutingSettings

    services = _compose()["services"]
    service = services["routing"]
    env = {**_env_file(REPO / service["env_file"]), **service["environment"]}
    settings = RoutingSettings.from_env(env)
    assert settings.database_url.endswith("@postgres:5432/lotse_routing")
    init = (REPO / "deploy/postgres-init/10-databases.sql").read_text("utf-8")
    assert "CREATE DATABASE lotse_routing" in init
    assert "./deploy/postgres-init:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]
    directory = services["directory"]["environment"]
    assert settings.directory_url == f"http://directory:{directory['LOTSE_DIRECTORY_PORT']}"
    assert (
        settings.amqp_url
        == Settings.from_env({**_env_file(REPO / services["directory"]["env_file"]), **directory}).amqp_url
    )  # both services on one broker: routing hears the directory's changes
    assert settings.host == "0.0.0.0" and f"{settings.port}:{settings.port}" in service["ports"]
    assert settings.data_keys  # configured, not made in a container's throwaway folder
    steps = re.findall(r"lotse-routing ([a-z ]+?)(?:&&|$)", service["command"][-1])
    assert [s.strip() for s in steps] == ["db upgrade", "serve"]
    for step in steps:
        result = CliRunner().invoke(routing_cli, [*step.split(), "--help"])
        assert result.exit_code == 0, f"lotse-routing {step}: {result.output}"
