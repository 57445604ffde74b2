"""Static checks of docker-compose.yml and the images (Docker itself is not on the test machine):
every service's command exists, its settings parse, its port is the one published, its files exist."""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


def _broker_accepts(url: str) -> bool:
    """The AMQP URL names the broker service of the compose file and a user of its definitions, with
    the password whose hash the definitions hold (RabbitMQ's salted SHA-256)."""
    parts = urlsplit(url)
    definitions = json.loads((REPO / "deploy/rabbitmq/definitions.json").read_text("utf-8"))
    [user] = [u for u in definitions["users"] if u["name"] == parts.username]
    assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    salted = base64.b64decode(user["password_hash"])
    password = (parts.password or "").encode()
    return parts.hostname == "rabbitmq" and salted[4:] == hashlib.sha256(salted[:4] + password).digest()


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
    assert settings.celery_broker_url is not None and _broker_accepts(settings.celery_broker_url)
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


def test_rabbitmq_loads_the_definitions_every_service_relies_on() -> None:
    services = _compose()["services"]
    volumes = services["rabbitmq"]["volumes"]
    assert "./deploy/rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/20-lotse.conf:ro" in volumes
    conf = (REPO / "deploy/rabbitmq/rabbitmq.conf").read_text("utf-8")
    [path] = re.findall(r"^load_definitions\s*=\s*(\S+)", conf, re.M)
    assert f"./deploy/rabbitmq/definitions.json:{path}:ro" in volumes
    assert "environment" not in services["rabbitmq"]  # with definitions loaded, no default user is made
    urls = [
        service["environment"][key]
        for service in services.values()
        for key in ("LOTSE_AMQP_URL", "LOTSE_DIRECTORY_CELERY_BROKER_URL")
        if key in service.get("environment", {})
    ]
    assert len(urls) >= 7 and all(_broker_accepts(url) for url in urls)


NOTIFY_PROCESSES = {"notify": "serve", "notify-consumer": "consume", "notify-worker": "worker", "notify-beat": "beat"}


def test_notify_api_consumer_worker_and_beat_reach_their_database_the_directory_the_broker_and_smtp() -> None:
    from lotse_notify.entrypoints.cli import main as notify_cli
    from lotse_notify.settings import Settings as NotifySettings
    from lotse_routing.settings import Settings as RoutingSettings

    services = _compose()["services"]
    web = services["notify"]
    routing = services["routing"]
    routing_settings = RoutingSettings.from_env({**_env_file(REPO / routing["env_file"]), **routing["environment"]})
    init = (REPO / "deploy/postgres-init/10-databases.sql").read_text("utf-8")
    for name, process in NOTIFY_PROCESSES.items():
        service = services[name]
        assert service["image"] == web["image"] and "build" in web  # one image, built once
        settings = NotifySettings.from_env({**_env_file(REPO / service["env_file"]), **service["environment"]})
        assert settings.database_url.endswith("@postgres:5432/lotse_notify")
        assert "CREATE DATABASE lotse_notify" in init
        assert settings.amqp_url == routing_settings.amqp_url  # one broker: notify hears routing's events
        directory = services["directory"]["environment"]
        assert settings.directory_url == f"http://directory:{directory['LOTSE_DIRECTORY_PORT']}"
        assert settings.smtp_host == "mailpit" and settings.smtp_port == 1025 and "mailpit" in services
        assert settings.referral_page_url == "http://localhost:8000/referrals/{id}"  # links open the browser page
        command = service["command"]
        if command[0] == "sh":
            steps = [step.strip() for step in re.findall(r"lotse-notify ([a-z -]+?)(?:&&|$)", command[-1])]
        else:
            steps = [" ".join(command[1:])]
        assert steps[-1].split()[0] == process
        for step in steps:
            result = CliRunner().invoke(notify_cli, [*step.split(), "--help"])
            assert result.exit_code == 0, f"lotse-notify {step}: {result.output}"
        for server in ("postgres", "rabbitmq"):
            assert service["depends_on"][server]["condition"] == "service_healthy"
        if name == "notify":
            assert steps == ["db upgrade", "serve"]
            assert settings.host == "0.0.0.0" and f"{settings.port}:{settings.port}" in service["ports"]
            assert f"127.0.0.1:{settings.port}/health" in " ".join(service["healthcheck"]["test"])
        else:  # started once the API serves, that is once the database is upgraded
            assert service["depends_on"]["notify"]["condition"] == "service_healthy"
    beats = [n for n, s in services.items() if "beat" in " ".join(s.get("command", [])).split()]
    assert beats == ["notify-beat"]  # one beat for notify (the directory's worker runs its own with --beat)


def test_images_run_unprivileged_with_a_healthcheck_of_the_process_they_run() -> None:
    """Each image runs as a user of its own (not root) and checks the liveness of its process: the API's
    /health at its port, or, for a worker run from the same image, its probes' port as the compose file sets
    it (the port the worker listens on by default, so that a deployment without the setting agrees too)."""
    from lotse_directory.entrypoints.worker import WORKER_METRICS_PORT as DIRECTORY_WORKER
    from lotse_notify.entrypoints.cli import BEAT_METRICS_PORT, CONSUMER_METRICS_PORT
    from lotse_notify.entrypoints.worker import WORKER_METRICS_PORT as NOTIFY_WORKER

    compose = _compose()
    workers = {
        "directory-worker": DIRECTORY_WORKER,
        "notify-consumer": CONSUMER_METRICS_PORT,
        "notify-worker": NOTIFY_WORKER,
        "notify-beat": BEAT_METRICS_PORT,
    }
    images = {}
    for name, service in compose["services"].items():
        if "build" in service:
            text = (REPO / service["build"]["dockerfile"]).read_text("utf-8")
            [user] = re.findall(r"^USER (\S+)", text, re.M)
            assert user.split(":")[0] not in ("root", "0"), name
            assert re.search(r"^HEALTHCHECK .*\n?.*LOTSE_HEALTH_URL", text, re.M), name
            [exposed] = re.findall(r"^EXPOSE (\d+)", text, re.M)
            [health] = re.findall(r"LOTSE_HEALTH_URL=(\S+)", text)
            assert health == f"http://127.0.0.1:{exposed}/health", name
            assert "LOTSE_METRICS_HOST=0.0.0.0" in text  # a worker's probes reachable from outside its container
            images[service["image"]] = text
    assert set(images) == {"lotse-directory", "lotse-routing", "lotse-notify", "lotse-web"}
    for name, port in workers.items():
        service = compose["services"][name]
        assert service["image"] in images
        assert service["environment"]["LOTSE_METRICS_PORT"] == str(port), name
        assert service["environment"]["LOTSE_HEALTH_URL"] == f"http://127.0.0.1:{port}/health", name


def test_the_env_examples_start_each_service(tmp_path: Path) -> None:
    """The example settings as the compose file uses them, with a local SQLite file for the database: each
    service's `db upgrade` runs (it builds every adapter, the sealing keys included)."""
    compose = _compose()["services"]
    for name in ("directory", "routing", "notify"):
        service = compose[name]
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOTSE_") and k != "DATABASE_URL"}
        env |= {**_env_file(REPO / service["env_file"]), **service["environment"]}
        env |= {f"LOTSE_{name.upper()}_DATABASE_URL": f"sqlite:///{tmp_path / name}.db", "LOTSE_VAR_DIR": str(tmp_path)}
        cli = str(Path(sys.executable).with_name(f"lotse-{name}"))
        done = subprocess.run([cli, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"


def test_the_web_application_calls_the_services_the_compose_file_runs() -> None:
    from lotse_web.settings import Settings as WebSettings

    services = _compose()["services"]
    web = services["web"]
    settings = WebSettings.from_env({**_env_file(REPO / web["env_file"]), **web["environment"]})
    assert settings.host == "0.0.0.0" and f"{settings.port}:{settings.port}" in web["ports"]
    assert settings.directory_url == f"http://directory:{services['directory']['environment']['LOTSE_DIRECTORY_PORT']}"
    assert settings.routing_url == "http://routing:8002" and settings.notify_url == "http://notify:8003"
    assert len(settings.secret_key) >= 32
