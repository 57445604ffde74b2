"""What notify's use cases need from the outside: the directory's channels and a store."""

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from lotse_notify.domain.channels import Channel

Row = dict[str, Any]


class ChannelsUnavailable(Exception):
    """The directory, which keeps the channels, did not answer."""


class Channels(Protocol):
    def of(self, organization_id: str) -> Sequence[Channel]:
        """The organisation's webhook and e-mail channels (the inbox is implied)."""
        ...


class NotifySession(Protocol):
    def first_time(self, event_id: str, event_type: str, at: datetime) -> bool:
        """Note the event as taken in; False if it was before (then nothing is to be done)."""
        ...

    def add_notification(self, row: Row) -> None: ...

    def add_deliveries(self, rows: Sequence[Row]) -> None: ...


class NotifyStore(Protocol):
    def transaction(self) -> AbstractContextManager[NotifySession]: ...
