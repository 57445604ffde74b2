"""Webhook delivery: a signed POST (Standard Webhooks) of the thin payload to the organisation's endpoint."""

import time

import urllib3
from lotse_contracts.webhooks import signed_headers
from lotse_kit.webhook_targets import TargetPolicy, Unresolved, UnsafeTarget

from lotse_notify.domain.channels import Channel
from lotse_notify.domain.delivery import Attempt
from lotse_notify.domain.messages import Notice, webhook_body

USER_AGENT = "Lotse-Notify/1"


class WebhookSender:
    """One POST per attempt: no redirects followed and no retries here (the delivery's schedule retries),
    bounded by timeouts. 2xx is delivered, ``410 Gone`` means the endpoint is gone, anything else failed.

    The target is resolved and checked before each request (:mod:`lotse_kit.webhook_targets`), and the
    request goes to the address that was checked, with the name as Host header and for TLS (SNI and the
    certificate's check): a name that resolves elsewhere a moment later changes nothing."""

    def __init__(
        self,
        timeout: float = 10.0,
        targets: TargetPolicy | None = None,
        pool_size: int = 8,
        ca_certs: str | None = None,
    ) -> None:
        self._targets = targets or TargetPolicy()
        self._http = urllib3.PoolManager(
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=min(timeout, 3.0), read=timeout),
            retries=False,
            ca_certs=ca_certs,
        )

    def send(self, channel: Channel, notice: Notice) -> Attempt:
        try:
            target = self._targets.check(channel.target)
        except Unresolved as exc:
            return Attempt(ok=False, detail=f"keine Verbindung: {exc}", unanswered=True)
        except UnsafeTarget as exc:
            return Attempt(ok=False, detail=f"Ziel nicht erlaubt: {exc}")
        body = webhook_body(notice)
        headers = {
            **signed_headers(channel.secrets, notice.delivery_id, int(time.time()), body),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Host": target.host_header,
        }
        tls = {"server_hostname": target.host, "assert_hostname": target.host} if target.scheme == "https" else {}
        try:
            pool = self._http.connection_from_host(target.connect_host, target.port, target.scheme, pool_kwargs=tls)
            response = pool.urlopen("POST", target.path, body=body, headers=headers, redirect=False, retries=False)
        except urllib3.exceptions.HTTPError as exc:
            return Attempt(ok=False, detail=f"keine Verbindung: {type(exc).__name__}", unanswered=True)
        status = response.status
        if 200 <= status < 300:
            return Attempt(ok=True, detail=f"HTTP {status}", status=status)
        return Attempt(ok=False, detail=f"HTTP {status}", status=status, gone=status == 410)
