"""Webhook delivery: a signed POST (Standard Webhooks) of the thin payload to the organisation's endpoint."""

import time

import urllib3
from lotse_contracts.webhooks import signed_headers

from lotse_notify.domain.channels import Channel
from lotse_notify.domain.delivery import Attempt
from lotse_notify.domain.messages import Notice, webhook_body

USER_AGENT = "Lotse-Notify/1"


class WebhookSender:
    """One POST per attempt: no redirects followed and no retries here (the delivery's schedule retries),
    bounded by timeouts. 2xx is delivered, ``410 Gone`` means the endpoint is gone, anything else failed."""

    def __init__(self, timeout: float = 10.0, pool_size: int = 8) -> None:
        self._http = urllib3.PoolManager(
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=min(timeout, 3.0), read=timeout),
            retries=False,
        )

    def send(self, channel: Channel, notice: Notice) -> Attempt:
        body = webhook_body(notice)
        headers = {
            **signed_headers(channel.secrets, notice.delivery_id, int(time.time()), body),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        try:
            response = self._http.request("POST", channel.target, body=body, headers=headers, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            return Attempt(ok=False, detail=f"keine Verbindung: {type(exc).__name__}", unanswered=True)
        status = response.status
        if 200 <= status < 300:
            return Attempt(ok=True, detail=f"HTTP {status}", status=status)
        return Attempt(ok=False, detail=f"HTTP {status}", status=status, gone=status == 410)
