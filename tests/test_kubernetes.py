"""The Kubernetes base (deploy/kubernetes/base): every manifest valid against the Kubernetes API schemas
(kubernetes-validate, strict), rendered by Kustomize where kubectl is installed, and agreeing with the code:
each container's settings parse, its probes ask /health and /ready on the port its process listens on, the
singletons stay single, the APIs have disruption budgets, and the network policies let exactly the
connections through that the suite needs."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from lotse_directory.entrypoints.worker import WORKER_METRICS_PORT as DIRECTORY_WORKER
from lotse_directory.settings import Settings as DirectorySettings
from lotse_notify.entrypoints.cli import BEAT_METRICS_PORT, CONSUMER_METRICS_PORT
from lotse_notify.entrypoints.worker import WORKER_METRICS_PORT as NOTIFY_WORKER
from lotse_notify.settings import Settings as NotifySettings
from lotse_routing.settings import Settings as RoutingSettings
from lotse_web.settings import Settings as WebSettings

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "deploy" / "kubernetes" / "base"
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")  # an older release many clusters still run, and the newest known
SETTINGS: dict[str, Any] = {
    "directory": DirectorySettings,
    "routing": RoutingSettings,
    "notify": NotifySettings,
    "web": WebSettings,
}
WORKER_PORTS = {
    "directory-worker": DIRECTORY_WORKER,
    "notify-consumer": CONSUMER_METRICS_PORT,
    "notify-worker": NOTIFY_WORKER,
    "notify-beat": BEAT_METRICS_PORT,
}


def _kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((BASE / "kustomization.yaml").read_text("utf-8"))
    return loaded


def _documents() -> list[dict[str, Any]]:
    """The base's resources in the namespace Kustomize puts them in."""
    kustomization = _kustomization()
    found = []
    for name in kustomization["resources"]:
        for document in yaml.safe_load_all((BASE / name).read_text("utf-8")):
            if document["kind"] != "Namespace":
                document["metadata"]["namespace"] = kustomization["namespace"]
            found.append(document)
    return found


def _named(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _documents() if d["kind"] == kind}


def test_every_manifest_is_listed_and_valid_for_kubernetes() -> None:
    listed = set(_kustomization()["resources"])
    assert listed == {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    documents = _documents()
    example_secret = yaml.safe_load((BASE / "secret.example.yaml").read_text("utf-8"))
    for document in [*documents, example_secret]:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(document, version, strict=True)
    with pytest.raises(kubernetes_validate.ValidationError):  # the validator does refuse a typo
        broken = _named("Deployment")["routing"]
        broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["prot"] = 8002
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomize_renders_the_base() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in Kustomize) is not installed")
    done = subprocess.run([kubectl, "kustomize", str(BASE)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    rendered = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in rendered) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in _documents()
    )
    for document in rendered:
        assert document["metadata"]["labels"]["app.kubernetes.io/part-of"] == "lotse"
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == "lotse"
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(document, version, strict=True)


def _containers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for kind in ("Deployment", "Job"):
        for name, document in _named(kind).items():
            for container in document["spec"]["template"]["spec"]["containers"]:
                found.append((name, container))
    return found


def test_each_container_s_settings_parse_and_its_probes_ask_the_port_its_process_listens_on() -> None:
    config = _named("ConfigMap")["lotse-config"]["data"]
    secret = yaml.safe_load((BASE / "secret.example.yaml").read_text("utf-8"))["stringData"]
    dockerfile_user = {
        image: (REPO / f"deploy/{image.removeprefix('lotse-')}.Dockerfile").read_text("utf-8")
        for image in ("lotse-directory", "lotse-routing", "lotse-notify", "lotse-web")
    }
    seen = set()
    for name, container in _containers():
        image = container["image"]
        service = image.removeprefix("lotse-")
        assert container["args"][0] == image  # the service's own command, from its own image
        assert {"configMapRef": {"name": "lotse-config"}} in container["envFrom"]
        assert {"secretRef": {"name": "lotse-secrets"}} in container["envFrom"]
        env = {**config, **secret, **{e["name"]: e["value"] for e in container.get("env", [])}}
        settings = SETTINGS[service].from_env(env)
        if service == "web":  # no database: the services, by their in-cluster names
            assert settings.directory_url == "http://directory:8001" and settings.secure_cookies
        else:
            assert settings.database_url.startswith("postgresql+psycopg://")
        assert "USER 10001" in dockerfile_user[image]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        if "-migrate" in name:
            assert container["args"][1:] == ["db", "upgrade"]
            continue
        [port] = container["ports"]
        if name in WORKER_PORTS:
            assert port["containerPort"] == int(env["LOTSE_METRICS_PORT"]) == WORKER_PORTS[name], name
            assert env["LOTSE_HEALTH_URL"] == f"http://127.0.0.1:{port['containerPort']}/health"
        else:
            assert port["containerPort"] == settings.port and settings.host == "0.0.0.0", name
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": port["name"]}
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": port["name"]}
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        seen.add(name)
    assert seen == {"directory", "routing", "notify", "web", *WORKER_PORTS}
    assert _named("Job").keys() == {"directory-migrate", "routing-migrate", "notify-migrate"}


def test_singletons_stay_single_and_the_apis_keep_one_pod_through_a_drain() -> None:
    deployments = _named("Deployment")
    for name in ("notify-beat", "directory-worker"):  # each sends a periodic sweep: two would send it twice
        spec = deployments[name]["spec"]
        assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}, name
    assert "--beat" in deployments["directory-worker"]["spec"]["template"]["spec"]["containers"][0]["args"]
    budgets = _named("PodDisruptionBudget")
    for name in ("directory", "routing", "notify", "web"):
        assert deployments[name]["spec"]["replicas"] >= 2
        assert budgets[name]["spec"] == {
            "minAvailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
        }
        assert _named("Service")[name]["spec"]["selector"] == {"app.kubernetes.io/name": name}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _peer_matches(peer: dict[str, Any], namespace: str, labels: dict[str, str] | None) -> bool:
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace}):
            return False
    elif namespace != "lotse":
        return False
    if "podSelector" in peer:
        return labels is not None and _selects(peer["podSelector"], labels)
    return True


def _allowed(direction: str, pod: str, other_namespace: str, other: str | None, port: int) -> bool:
    """Whether the policies that select ``pod`` let traffic through in ``direction`` (Ingress: from ``other``;
    Egress: to it) on ``port``; ``other`` None is an address outside the cluster."""
    labels = {"app.kubernetes.io/name": pod}
    other_labels = {"app.kubernetes.io/name": other} if other else None
    policies = [
        p["spec"]
        for p in _named("NetworkPolicy").values()
        if direction in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], labels)
    ]
    key, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in policies:
        for rule in policy.get(key, []):
            ports = rule.get("ports")
            if ports and not any(p["port"] == port and p.get("protocol", "TCP") == "TCP" for p in ports):
                continue
            if other is None and peers in rule:
                continue  # the peers this base names are pods and namespaces of the cluster, not the outside
            if peers not in rule or any(_peer_matches(p, other_namespace, other_labels) for p in rule[peers]):
                return True
    return False


def _connects(source: str, target: str, port: int) -> bool:
    return _allowed("Egress", source, "lotse", target, port) and _allowed("Ingress", target, "lotse", source, port)


def test_network_policies_let_through_what_the_suite_needs_and_nothing_else() -> None:
    assert _named("NetworkPolicy")["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for source in ("routing", "notify-consumer", "notify-worker"):
        assert _connects(source, "directory", 8001), source
    for source in ("notify", "notify-beat", "directory-worker", "routing-migrate"):
        assert not _connects(source, "directory", 8001), source
    assert not _connects("directory", "routing", 8002)
    assert not _connects("notify-worker", "routing", 8002)
    assert not _connects("routing", "directory", 5432)  # a port the directory does not serve
    for api, port in (("directory", 8001), ("routing", 8002), ("notify", 8003)):
        assert _connects("web", api, port), api  # the browser application calls the three APIs
    assert not _allowed("Egress", "web", "", None, 5432) and not _allowed("Egress", "web", "", None, 5672)
    for api, port in (("web", 8000), ("directory", 8001), ("routing", 8002), ("notify", 8003)):
        assert _allowed("Ingress", api, "ingress-nginx", "controller", port)
        assert not _allowed("Ingress", api, "somewhere-else", "anything", port)
    for pod, port in {"web": 8000, "directory": 8001, "routing": 8002, "notify": 8003, **WORKER_PORTS}.items():
        assert _allowed("Ingress", pod, "monitoring", "prometheus", port), pod
    # backing services and receivers outside the cluster, by port
    assert _allowed("Egress", "routing", "", None, 5432) and _allowed("Egress", "routing-migrate", "", None, 5432)
    assert _allowed("Egress", "notify-consumer", "", None, 5672)
    assert not _allowed("Egress", "routing-migrate", "", None, 5672)
    assert _allowed("Egress", "directory-worker", "", None, 9200) and not _allowed("Egress", "routing", "", None, 9200)
    oidc = _named("NetworkPolicy")["oidc-provider"]["spec"]  # token checks and the web login reach the provider
    assert all(_selects(oidc["podSelector"], {"app.kubernetes.io/name": p}) for p in ("web", "directory", "routing"))
    assert oidc["egress"] == [
        {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]}
    ]
    for port in (443, 587):
        assert _allowed("Egress", "notify-worker", "", None, port)
        assert not _allowed("Egress", "routing", "", None, port) and not _allowed("Egress", "notify", "", None, port)
