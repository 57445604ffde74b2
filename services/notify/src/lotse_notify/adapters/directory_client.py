"""The organisations' notification channels, read from the directory over HTTP and kept for a while; the
directory's change events drop what they changed."""

import json
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import quote

import urllib3
from lotse_contracts import EventEnvelope

from lotse_notify.adapters.ports import ChannelsUnavailable
from lotse_notify.domain.channels import Channel, Kind


class HttpChannels:
    """``GET /api/v1/organizations/<id>/notification_channels`` with notify's own token (role ``service``)."""

    def __init__(self, base_url: str, token: Callable[[], str], pool_size: int = 4, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = urllib3.PoolManager(
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=2.0, read=timeout),
            retries=urllib3.Retry(total=2, backoff_factor=0.1, status_forcelist=(502, 503, 504)),
        )

    def of(self, organization_id: str) -> Sequence[Channel]:
        url = f"{self.base_url}/api/v1/organizations/{quote(organization_id, safe='')}/notification_channels"
        headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
        try:
            response = self._http.request("GET", url, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise ChannelsUnavailable(f"the directory at {self.base_url} did not answer: {exc}") from exc
        if response.status == 404:  # no such organisation (any more): its inbox only
            return []
        if response.status != 200:
            raise ChannelsUnavailable(f"the directory answered {response.status} for {organization_id}'s channels")
        return [
            Channel(
                id=str(c["id"]),
                organization_id=str(c["organization_id"]),
                kind=Kind(c["kind"]),
                target=str(c["target"]),
                revision=int(c["revision"]),
                secrets=tuple(str(s["secret"]) for s in c.get("secrets") or ()),
            )
            for c in json.loads(response.data)["contents"]
            if c.get("enabled", True)
        ]

    def manageable(self, token: str, channel_id: str) -> str | None:
        """Asked with the caller's own token: the directory decides who manages a channel."""
        url = f"{self.base_url}/api/v1/notification_channels/{quote(channel_id, safe='')}"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            response = self._http.request("GET", url, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise ChannelsUnavailable(f"the directory at {self.base_url} did not answer: {exc}") from exc
        if response.status in (401, 403, 404):
            return None
        if response.status != 200:
            raise ChannelsUnavailable(f"the directory answered {response.status} for channel {channel_id}")
        return str(json.loads(response.data)["organization_id"])


class CachedChannels:
    """Keeps each organisation's channels for up to ``max_age`` seconds; :meth:`on_event` (subscribed to
    ``directory.#``) drops an organisation's when they changed, :meth:`forget` all of them."""

    def __init__(
        self, origin: HttpChannels, max_age: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._origin = origin
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[str, tuple[float, Sequence[Channel]]] = {}
        self._generation = 0

    def of(self, organization_id: str) -> Sequence[Channel]:
        hit = self._held.get(organization_id)
        if hit is not None and self._clock() - hit[0] < self._max_age:
            return hit[1]
        generation, stamp = self._generation, self._clock()
        found = tuple(self._origin.of(organization_id))
        with self._lock:
            if generation == self._generation:  # not kept if a change came in while it was read
                self._held[organization_id] = (stamp, found)
        return found

    def manageable(self, token: str, channel_id: str) -> str | None:
        found = self._origin.manageable(token, channel_id)
        if found is not None:
            with self._lock:  # the caller may have changed it a moment ago: read it afresh
                self._held.pop(found, None)
                self._generation += 1
        return found

    def forget(self) -> None:
        with self._lock:
            self._held.clear()
            self._generation += 1

    def on_event(self, event: EventEnvelope, _routing_key: str) -> None:
        parts = event.type.split(".")
        if len(parts) != 3 or parts[0] != "directory" or parts[1] not in ("notification_channel", "organization"):
            return
        with self._lock:
            for org in event.data.get("organization_ids") or [event.data.get("organization_id")]:
                self._held.pop(str(org), None)
            self._generation += 1
