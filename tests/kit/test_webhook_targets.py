"""Where webhooks may go: public https addresses, or a network the operator allows; never cloud metadata."""

import ipaddress

import pytest
from lotse_kit.webhook_targets import TargetPolicy, Unresolved, UnsafeTarget


def resolving(*addresses: str) -> TargetPolicy:
    return TargetPolicy(resolve=lambda host, port: [ipaddress.ip_address(a) for a in addresses])


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[::ffff:169.254.169.254]/", "metadata"),
        ("https://[fd00:ec2::254]/", "metadata"),
        ("https://metadata.google.internal/computeMetadata/v1/", "internal name"),
        ("https://db.corp.internal/", "internal name"),
        ("https://127.0.0.1/", "not a public address"),
        ("https://[::1]/", "not a public address"),
        ("https://0.0.0.0/", "not a public address"),
        ("https://10.0.0.1/", "not a public address"),
        ("https://172.16.5.4/", "not a public address"),
        ("https://192.168.1.1/", "not a public address"),
        ("https://100.64.1.1/", "not a public address"),
        ("https://[fe80::1]/", "not a public address"),
        ("https://[fc00::1]/", "not a public address"),
        ("https://[::ffff:10.0.0.1]/", "not a public address"),
        ("https://224.0.0.1/", "not a public address"),
        ("http://93.184.215.14/", "https"),
        ("https://a.example/x\r\nHost: evil", "control characters"),
        ("https://a.example/\x00", "control characters"),
        ("https://a.example/ x", "spaces"),
        ("https://user:pw@a.example/", "user name"),
        ("ftp://a.example/", "http(s)"),
        ("https://a.example:99999/", "port"),
    ],
)
def test_targets_inside_the_network_are_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeTarget, match=why.replace("(", r"\(").replace(")", r"\)")):
        resolving("93.184.215.14").check(url)


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    target = resolving("93.184.215.14").check("https://hooks.kreis.example:8443/lotse?x=1")
    assert (target.host, target.port, target.path, str(target.address)) == (
        "hooks.kreis.example",
        8443,
        "/lotse?x=1",
        "93.184.215.14",
    )
    assert target.host_header == "hooks.kreis.example:8443"
    with pytest.raises(UnsafeTarget, match="not a public address"):
        resolving("93.184.215.14", "10.0.0.5").check("https://rebind.example/")
    with pytest.raises(Unresolved):
        TargetPolicy(resolve=lambda host, port: []).check("https://nowhere.example/")


def test_an_operator_allows_networks_but_never_the_metadata_service() -> None:
    policy = TargetPolicy.from_env(
        {"LOTSE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8, ::1/128, 10.20.0.0/16, 169.254.0.0/16"}
    )
    assert str(policy.check("http://127.0.0.1:8009/lotse").address) == "127.0.0.1"
    assert policy.check("https://[::1]:8443/").connect_host == "[::1]"
    assert str(policy.check("https://10.20.1.2/").address) == "10.20.1.2"
    with pytest.raises(UnsafeTarget):
        policy.check("https://10.21.0.1/")
    with pytest.raises(UnsafeTarget, match="metadata"):
        policy.check("https://169.254.169.254/")
    with pytest.raises(ValueError, match="LOTSE_WEBHOOK_ALLOWED_NETWORKS"):
        TargetPolicy.from_env({"LOTSE_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/33"})
