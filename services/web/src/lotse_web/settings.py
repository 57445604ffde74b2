"""Settings of the web application, read from the environment (prefix ``LOTSE_WEB_``)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lotse_kit.settings import kept_secret, var_dir


@dataclass(frozen=True)
class Settings:
    secret_key: str
    """Signs the session cookie (``LOTSE_WEB_SECRET_KEY``; embedded: made once in var/web-secret)."""
    var_dir: Path
    directory_url: str = "http://127.0.0.1:8001"
    routing_url: str = "http://127.0.0.1:8002"
    notify_url: str = "http://127.0.0.1:8003"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 4
    idle_minutes: int = 30
    """A session left alone this long ends; the user logs in again."""
    secure_cookies: bool = False
    """Send the session cookie over https only: on wherever Lotse is served over https (everywhere but a
    laptop's ``make run``)."""
    api_timeout_seconds: float = 10.0
    oidc_issuer: str | None = None
    """Scale mode: users log in at this OIDC provider (authorization code flow with PKCE); its discovery
    document is read from ``<issuer>/.well-known/openid-configuration``. Unset: embedded mode's passwords."""
    oidc_client_id: str = "lotse-web"
    oidc_client_secret: str | None = None
    """None for a public client (PKCE alone); set where the provider requires a confidential client."""
    oidc_scope: str = "openid profile"
    public_url: str | None = None
    """The address users reach the application at (``https://lotse.kreis.example``), for the provider's
    redirect back; unset: the address of the request."""
    operator: str = ""
    """Who runs this installation (the Kreis or Stadt), as the accessibility statement names it."""
    operator_email: str | None = None
    """Where the accessibility statement's feedback goes, and the contact it shows."""
    smtp_host: str | None = None
    """The mail server feedback is sent through; unset: the statement shows the address, no form."""
    smtp_port: int = 25
    mail_from: str = "Lotse <lotse@localhost>"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        p = "LOTSE_WEB_"
        var = var_dir(env)
        return cls(
            secret_key=env.get(f"{p}SECRET_KEY") or kept_secret(var / "web-secret"),
            var_dir=var,
            directory_url=env.get(f"{p}DIRECTORY_URL", "http://127.0.0.1:8001").rstrip("/"),
            routing_url=env.get(f"{p}ROUTING_URL", "http://127.0.0.1:8002").rstrip("/"),
            notify_url=env.get(f"{p}NOTIFY_URL", "http://127.0.0.1:8003").rstrip("/"),
            host=env.get(f"{p}HOST", "127.0.0.1"),
            port=int(env.get(f"{p}PORT", "8000")),
            workers=int(env.get(f"{p}WORKERS", "2")),
            threads=int(env.get(f"{p}THREADS", "4")),
            idle_minutes=int(env.get(f"{p}IDLE_MINUTES", "30")),
            secure_cookies=env.get(f"{p}SECURE_COOKIES", "") in ("1", "true", "yes"),
            oidc_issuer=(env.get(f"{p}OIDC_ISSUER") or "").rstrip("/") or None,
            oidc_client_id=env.get(f"{p}OIDC_CLIENT_ID", "lotse-web"),
            oidc_client_secret=env.get(f"{p}OIDC_CLIENT_SECRET") or None,
            oidc_scope=env.get(f"{p}OIDC_SCOPE", "openid profile"),
            public_url=(env.get(f"{p}PUBLIC_URL") or "").rstrip("/") or None,
            operator=env.get(f"{p}OPERATOR", ""),
            operator_email=env.get(f"{p}OPERATOR_EMAIL") or None,
            smtp_host=env.get(f"{p}SMTP_HOST") or None,
            smtp_port=int(env.get(f"{p}SMTP_PORT", "25")),
            mail_from=env.get(f"{p}MAIL_FROM", "Lotse <lotse@localhost>"),
        )
