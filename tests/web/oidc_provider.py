"""An OpenID Connect provider for the tests, served over real HTTP: discovery, an authorization endpoint with a
login page, a token endpoint that insists on PKCE (S256), a JWKS, and RP-initiated logout. It signs with its
own RSA key; the services check its access tokens through the JWKS like any provider's."""

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, abort, jsonify, redirect, request

KEY_ID = "test-key-1"
LOGIN_PAGE = """<!doctype html><html lang="de"><head><title>Dienstkonto</title></head><body><main>
<h1>Anmeldung Dienstkonto</h1><form method="post">{hidden}
<label for="login">Kennung</label><input id="login" name="login">
<button type="submit">Weiter</button></form></main></body></html>"""


@dataclass
class Provider:
    """``users`` maps a login to its claims (``name``, ``role``, ``org``); ``redirect_uris`` are the
    registered ones of client ``client_id``."""

    users: dict[str, dict[str, Any]]
    client_id: str = "lotse-web"
    audience: str = "lotse"
    redirect_uris: list[str] = field(default_factory=list)
    access_ttl: int = 300
    url: str = ""
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    logouts: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Flask:
        app = Flask("oidc-provider")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                issuer=self.url,
                authorization_endpoint=f"{self.url}/authorize",
                token_endpoint=f"{self.url}/token",
                jwks_uri=f"{self.url}/jwks",
                end_session_endpoint=f"{self.url}/logout",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["none"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return jsonify(keys=[public | {"kid": KEY_ID, "alg": "RS256", "use": "sig"}])

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            args = request.values
            if args.get("client_id") != self.client_id or args.get("redirect_uri") not in self.redirect_uris:
                abort(400)  # never redirect to an address not registered
            back = args["redirect_uri"]
            if args.get("response_type") != "code" or args.get("code_challenge_method") != "S256":
                return redirect(f"{back}?{urlencode({'error': 'invalid_request', 'state': args.get('state', '')})}")
            if request.method == "GET":
                hidden = "".join(
                    f'<input type="hidden" name="{name}" value="{value}">'
                    for name, value in args.items()
                    if name != "login"
                )
                return LOGIN_PAGE.format(hidden=hidden)
            login = args.get("login", "")
            if login not in self.users:
                return redirect(f"{back}?{urlencode({'error': 'access_denied', 'state': args.get('state', '')})}")
            code = secrets.token_urlsafe(24)
            self.codes[code] = {
                "login": login,
                "redirect_uri": back,
                "challenge": args.get("code_challenge", ""),
                "nonce": args.get("nonce"),
            }
            return redirect(f"{back}?{urlencode({'code': code, 'state': args.get('state', '')})}")

        @app.post("/token")
        def token() -> Any:
            form = request.form.to_dict()
            self.token_requests.append(form)
            grant = self.codes.pop(form.get("code", ""), None)  # a code works once
            if grant is None or form.get("grant_type") != "authorization_code":
                return jsonify(error="invalid_grant"), 400
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not verifier or challenge != grant["challenge"] or form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify(error="invalid_grant"), 400
            claims = self.users[grant["login"]]
            now = int(time.time())
            common = {"iss": self.url, "sub": grant["login"], "iat": now, "exp": now + self.access_ttl}
            access = common | {"aud": self.audience, **claims}
            ident = common | {"aud": self.client_id, "nonce": grant["nonce"], "name": claims.get("name")}
            return jsonify(
                access_token=self.sign(access),
                id_token=self.sign(ident),
                token_type="Bearer",
                expires_in=self.access_ttl,
            )

        @app.get("/logout")
        def logout() -> Any:
            self.logouts.append(request.args.to_dict())
            back = request.args.get("post_logout_redirect_uri")
            return redirect(back) if back else ("Abgemeldet", 200)

        return app

    def sign(self, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": KEY_ID})
