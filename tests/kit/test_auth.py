"""Bearer tokens: embedded HS256 and OIDC tokens checked by the issuer's JWKS (a local RSA key)."""

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from lotse_contracts import Role
from lotse_kit.tokens import HmacTokenVerifier, InvalidToken, JwksTokenVerifier


def _jwks(tmp_path: Path) -> tuple[rsa.RSAPrivateKey, str]:
    """A key pair and the address of an HTTP server publishing its public half as a JWKS document."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "key-1", "use": "sig", "alg": "RS256"})
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return key, f"http://127.0.0.1:{server.server_port}/jwks.json"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_a_jwks_address_must_be_http_or_https() -> None:
    with pytest.raises(ValueError, match="https or http"):
        JwksTokenVerifier("https://idp.example", "lotse", "file:///etc/jwks.json")


def test_oidc_token_is_accepted_by_the_issuers_keys(tmp_path: Path) -> None:
    key, uri = _jwks(tmp_path)
    verifier = JwksTokenVerifier("https://idp.example", "lotse", uri, role_claim="lotse_role")
    token = jwt.encode(
        {
            "iss": "https://idp.example",
            "aud": "lotse",
            "sub": "u-7",
            "lotse_role": "agency",
            "org": "jugendamt-witten",
            "exp": 4102444800,
        },
        key,
        algorithm="RS256",
        headers={"kid": "key-1"},
    )
    claims = verifier.verify(token)
    assert (claims.subject, claims.role, claims.organization_id) == ("u-7", Role.AGENCY, "jugendamt-witten")


def test_oidc_token_signed_by_another_key_or_issuer_is_refused(tmp_path: Path) -> None:
    _, uri = _jwks(tmp_path)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verifier = JwksTokenVerifier("https://idp.example", "lotse", uri)
    forged = jwt.encode(
        {"iss": "https://idp.example", "aud": "lotse", "sub": "x", "role": "admin", "exp": 4102444800},
        stranger,
        algorithm="RS256",
        headers={"kid": "key-1"},
    )
    with pytest.raises(InvalidToken):
        verifier.verify(forged)
    unknown_kid = jwt.encode(
        {"iss": "https://idp.example", "sub": "x", "role": "admin", "exp": 4102444800},
        stranger,
        algorithm="RS256",
        headers={"kid": "key-2"},
    )
    with pytest.raises(InvalidToken):
        verifier.verify(unknown_kid)


def test_embedded_tokens_carry_role_and_organisation_and_expire() -> None:
    verifier = HmacTokenVerifier("s" * 40)
    claims = verifier.verify(verifier.issue("u-1", Role.MAINTAINER, "org-1", "Maria"))
    assert (claims.role, claims.organization_id, claims.name) == (Role.MAINTAINER, "org-1", "Maria")
    from datetime import timedelta

    expired = verifier.issue("u-1", Role.ADMIN, None, ttl=timedelta(seconds=-1))
    with pytest.raises(InvalidToken):
        verifier.verify(expired)
    with pytest.raises(InvalidToken):
        HmacTokenVerifier("t" * 40).verify(verifier.issue("u-1", Role.ADMIN, None))


def test_a_maintainer_keeps_the_regions_its_token_names(tmp_path: Path) -> None:
    verifier = HmacTokenVerifier("s" * 40)
    claims = verifier.verify(verifier.issue("m-1", Role.MAINTAINER, "ki-en", "KI", regions=("05954",)))
    assert claims.regions == ("05954",)
    assert claims.keeps_region("05954") and claims.keeps_region("05954036")
    assert not claims.keeps_region("05") and not claims.keeps_region("05758012")
    others = [verifier.verify(verifier.issue("x", role, "o")) for role in (Role.CASE_MANAGER, Role.MAINTAINER)]
    assert not any(c.keeps_region("05954") for c in others)
    assert verifier.verify(verifier.issue("a", Role.ADMIN, None)).keeps_region("05")
    # a provider's claim, named as configured; anything but region keys is refused
    key, uri = _jwks(tmp_path)
    oidc = JwksTokenVerifier("https://idp.example", "lotse", uri, regions_claim="lotse_regions")
    base = {"iss": "https://idp.example", "aud": "lotse", "sub": "u", "role": "maintainer", "exp": 4102444800}
    for given, expected in ((["05954", "05758"], ("05954", "05758")), ("05954 05758", ("05954", "05758"))):
        token = jwt.encode({**base, "lotse_regions": given}, key, algorithm="RS256", headers={"kid": "key-1"})
        assert oidc.verify(token).regions == expected
    for bad in (["05954", "Kreis"], [5954], {"a": 1}):
        token = jwt.encode({**base, "lotse_regions": bad}, key, algorithm="RS256", headers={"kid": "key-1"})
        with pytest.raises(InvalidToken, match="region keys"):
            oidc.verify(token)


def test_a_key_rotated_at_the_provider_is_fetched_for_the_first_token_that_names_it(tmp_path: Path) -> None:
    _, uri = _jwks(tmp_path)
    verifier = JwksTokenVerifier("https://idp.example", "lotse", uri, min_refresh=0)
    claims = {"iss": "https://idp.example", "aud": "lotse", "sub": "u", "role": "agency", "exp": 4102444800}
    old = json.loads((tmp_path / "jwks.json").read_text())["keys"][0]
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    new = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(new_key.public_key())) | {"kid": "key-2", "alg": "RS256"}
    stranger = jwt.encode(claims, new_key, algorithm="RS256", headers={"kid": "key-2"})
    with pytest.raises(InvalidToken):  # not published yet
        verifier.verify(stranger)
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [old, new]}))  # the provider rotates
    assert verifier.verify(stranger).subject == "u"


def test_a_token_checked_before_is_taken_from_memory_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    from datetime import timedelta

    from lotse_kit import tokens

    verifier = HmacTokenVerifier("s" * 40)
    token = verifier.issue("u-1", Role.CASE_MANAGER, "org-1", ttl=timedelta(seconds=2))
    decoded = []
    decode = jwt.decode
    monkeypatch.setattr(tokens.jwt, "decode", lambda *a, **k: decoded.append(1) or decode(*a, **k))
    first = verifier.verify(token)
    assert verifier.verify(token) is first and len(decoded) == 1  # the second request's check is a look-up
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InvalidToken):  # only the very text that was checked is known
        verifier.verify(forged)
    real = time.time
    monkeypatch.setattr(tokens.time, "time", lambda: real() + 61)
    verifier.verify(token)  # a minute later it is checked again (a provider's withdrawn key ends it then)
    assert len(decoded) == 3
    monkeypatch.setattr(tokens.time, "time", real)
    time.sleep(2.1)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)
