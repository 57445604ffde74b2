"""The event bus in scale mode: RabbitMQ through pika, on the durable topic exchange ``lotse.events``."""

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import pika
from lotse_contracts import EventEnvelope
from lotse_contracts.events import EXCHANGE
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError, UnroutableError
from sqlalchemy.exc import OperationalError

from lotse_kit.logs import handling
from lotse_kit.outbox import BatchHandler, Handler, TryLater

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)

Message = tuple[pika.spec.Basic.Deliver, pika.BasicProperties, bytes]


def connection_parameters(url: str) -> pika.URLParameters:
    if url.endswith("//"):  # kombu's (Celery's) spelling of the default vhost "/"; pika wants it quoted
        url = url[:-1] + "%2F"
    params = pika.URLParameters(url)
    params.heartbeat = 30
    params.blocked_connection_timeout = 30
    params.connection_attempts = 1
    return params


class QueueDepths:
    """``lotse_queue_messages_ready`` and ``lotse_queue_consumers`` of some queues, asked of the broker when
    ``/metrics`` is read (messages waiting: how far the consumers are behind)."""

    def __init__(self, url: str, queues: Sequence[str]) -> None:
        self.url = url
        self.queues = queues

    def collect(self) -> Iterator["Metric"]:
        from prometheus_client.core import GaugeMetricFamily  # not at import: see lotse_kit.metrics

        ready = GaugeMetricFamily("lotse_queue_messages_ready", "Messages waiting in the queue", labels=["queue"])
        consumers = GaugeMetricFamily("lotse_queue_consumers", "Consumers on the queue", labels=["queue"])
        parameters = connection_parameters(self.url)
        parameters.socket_timeout = 2
        connection = pika.BlockingConnection(parameters)
        try:
            for queue in self.queues:
                channel = connection.channel()
                try:
                    declared = channel.queue_declare(queue, passive=True).method
                except pika.exceptions.ChannelClosedByBroker:  # not declared (yet): nothing waits in it
                    continue
                ready.add_metric([queue], declared.message_count)
                consumers.add_metric([queue], declared.consumer_count)
                channel.close()
        finally:
            connection.close()
        yield ready
        yield consumers


class RabbitMqEventPublisher:
    """Publishes outbox rows: persistent, with the mandatory flag, each safely handed over before it returns.

    :meth:`publish` returns only after the broker confirmed the message (publisher confirms);
    :meth:`publish_all` publishes several in one AMQP transaction and returns once the broker committed it,
    which RabbitMQ answers only after every queue took every message (as a confirm would say): a fraction of
    a confirm's cost per message. Any failure raises, and the outbox relay keeps the rows and tries again
    later (with backoff), on a new connection. A message no queue is bound for is logged, since nobody
    subscribed to it yet (the broker drops it).
    """

    def __init__(self, url: str, exchange: str = EXCHANGE) -> None:
        self.url = url
        self.exchange = exchange
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._batches: BlockingChannel | None = None
        self._lock = threading.Lock()

    def _open(self) -> tuple[BlockingChannel, BlockingChannel]:
        if self._channel is not None and self._channel.is_open and self._batches is not None and self._batches.is_open:
            return self._channel, self._batches
        self.close()
        self._connection = pika.BlockingConnection(connection_parameters(self.url))
        channel = self._connection.channel()
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        channel.confirm_delivery()
        batches = self._connection.channel()
        batches.tx_select()
        batches.add_on_return_callback(lambda _channel, method, properties, _body: _dropped(method, properties))
        self._channel, self._batches = channel, batches
        return channel, batches

    def publish(self, routing_key: str, payload: str, message_id: str) -> None:
        with self._lock:
            try:
                self._open()[0].basic_publish(
                    self.exchange, routing_key, payload.encode(), _properties(payload, message_id), mandatory=True
                )
            except UnroutableError as exc:
                for returned in exc.messages:
                    _dropped(returned.method, returned.properties)
            except (AMQPError, OSError):
                self.close()
                raise

    def publish_all(self, messages: Sequence[tuple[str, str, str]]) -> None:
        """Publish ``(routing_key, payload, message_id)`` messages in this order, all in one transaction."""
        with self._lock:
            try:
                batches = self._open()[1]
                for routing_key, payload, message_id in messages:
                    properties = _properties(payload, message_id)
                    batches.basic_publish(self.exchange, routing_key, payload.encode(), properties, mandatory=True)
                batches.tx_commit()
            except (AMQPError, OSError):
                self.close()
                raise

    def close(self) -> None:
        connection, self._connection, self._channel, self._batches = self._connection, None, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(AMQPError, OSError):
                connection.close()


def _properties(payload: str, message_id: str) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=message_id,
        type=json.loads(payload).get("type", ""),
    )


def _dropped(method: pika.spec.Basic.Return, properties: pika.BasicProperties) -> None:
    log.warning(
        "no queue is bound for %s (event %s); it was dropped by the broker", method.routing_key, properties.message_id
    )


class RabbitMqSubscriber:
    """A service's own queue on ``lotse.events``, consumed in a background thread.

    The queue is a durable quorum queue bound with ``bindings``; a ``transient`` one lives only as long as
    its connection (for a process's caches, whose ``on_connect`` makes up for what was missed while
    away). Each message is handed to ``handler`` and acknowledged only after it returned, one at a time
    (prefetch 1). With a ``batch_handler``, up to ``batch`` messages are prefetched, and those already
    waiting when one arrives go to it together (one transaction for them all, say) and are acknowledged
    together after it returned; a batch it fails on is handed to ``handler`` message by message, so that
    only the message that cannot be handled is set aside. A message the handler fails on is rejected
    without requeue, to the dead-letter exchange
    ``dead_letter_exchange`` under the queue's name as routing key (declared with a queue ``<queue>.dead``,
    bound by that name, that keeps such messages for an operator) or one a policy sets. A handler that
    raises :class:`TryLater`, or whose database is away (SQLAlchemy's ``OperationalError``: a lost or
    refused connection, a deadlock, a cancelled statement), is called again with the same message after
    a growing pause in which the connection's heartbeats go on. A lost connection is opened again with
    backoff.
    """

    def __init__(
        self,
        url: str,
        queue: str,
        bindings: Sequence[str],
        handler: Handler,
        exchange: str = EXCHANGE,
        max_backoff: float = 30.0,
        transient: bool = False,
        on_connect: Callable[[], None] = lambda: None,
        dead_letter_exchange: str | None = None,
        batch_handler: BatchHandler | None = None,
        batch: int = 50,
    ) -> None:
        self.url = url
        self.batch_handler = batch_handler
        self.batch = batch if batch_handler is not None else 1
        self.dead_letter_exchange = dead_letter_exchange
        self.transient = transient
        self.on_connect = on_connect
        self.queue = queue
        self.bindings = tuple(bindings)
        self.handler = handler
        self.exchange = exchange
        self.max_backoff = max_backoff
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: pika.BlockingConnection | None = None
        self.ready = threading.Event()
        """Set once the queue is declared and bound (and after every reconnect)."""

    def arguments(self) -> dict[str, str]:
        """The durable queue's arguments (a deployment's definitions must declare it with the same)."""
        arguments = {"x-queue-type": "quorum"}
        if self.dead_letter_exchange:  # to its own dead queue only, under its own name
            arguments["x-dead-letter-exchange"] = self.dead_letter_exchange
            arguments["x-dead-letter-routing-key"] = self.queue
        return arguments

    def declare(self, channel: BlockingChannel) -> None:
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        if self.transient:
            channel.queue_declare(self.queue, exclusive=True, auto_delete=True)
        else:
            channel.queue_declare(self.queue, durable=True, arguments=self.arguments())
            if self.dead_letter_exchange:
                dead = f"{self.queue}.dead"
                channel.exchange_declare(self.dead_letter_exchange, exchange_type="topic", durable=True)
                channel.queue_declare(dead, durable=True, arguments={"x-queue-type": "quorum"})
                channel.queue_bind(dead, self.dead_letter_exchange, routing_key=self.queue)
        for key in self.bindings:
            channel.queue_bind(self.queue, self.exchange, routing_key=key)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"consume-{self.queue}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._consume()
                backoff = 0.5
            except (AMQPError, OSError) as exc:
                self.ready.clear()
                log.warning("consumer of %s lost the broker (%s); again in %.1f s", self.queue, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _until_handled(self, connection: pika.BlockingConnection, handle: Callable[[], None], what: str) -> bool:
        """Call ``handle`` until it returned (True), or until stopped (False); while it raises
        :class:`TryLater` or its database is away, again after a growing pause in which heartbeats go on."""
        pause = 0.5
        while not self._stop.is_set():
            try:
                handle()
                return True
            except (TryLater, OperationalError) as exc:
                log.warning("%s on %s waits (%s); again in %.1f s", what, self.queue, exc, pause)
                connection.sleep(pause)  # heartbeats go on
                pause = min(pause * 2, self.max_backoff)
        return False

    def _handle(self, connection: pika.BlockingConnection, event: EventEnvelope, routing_key: str) -> bool:
        def handle() -> None:
            with handling(event.requestid, event_id=event.id):
                self.handler(event, routing_key)

        return self._until_handled(connection, handle, f"event {event.id}")

    def _take(self, connection: pika.BlockingConnection, channel: BlockingChannel, taken: list[Message]) -> bool:
        """Handle the messages taken (together, where a batch handler is given and there are several) and
        settle each with the broker; False if stopped before all were handled (the rest come again)."""
        events: list[tuple[int, EventEnvelope, str]] = []
        for method, properties, body in taken:
            try:
                events.append((method.delivery_tag, EventEnvelope.from_dict(json.loads(body)), method.routing_key))
            except Exception:
                log.exception("event %s on %s could not be read", properties.message_id, self.queue)
                channel.basic_reject(method.delivery_tag, requeue=False)
        if len(events) > 1 and self.batch_handler is not None:
            together, batch_handler = [(event, key) for _, event, key in events], self.batch_handler
            try:
                handled = self._until_handled(connection, lambda: batch_handler(together), f"{len(events)} events")
            except Exception:
                log.exception("%d events on %s failed together; now one by one", len(events), self.queue)
            else:
                if handled:
                    channel.basic_ack(events[-1][0], multiple=True)
                return handled
        for tag, event, key in events:
            try:
                handled = self._handle(connection, event, key)
            except Exception:
                log.exception("event %s on %s could not be handled", event.id, self.queue)
                channel.basic_reject(tag, requeue=False)
                continue
            if not handled:  # stopping: the broker offers it again
                return False
            channel.basic_ack(tag)
        return True

    def _consume(self) -> None:
        connection = pika.BlockingConnection(connection_parameters(self.url))
        try:
            channel = connection.channel()
            self.declare(channel)
            channel.basic_qos(prefetch_count=self.batch)
            self.on_connect()
            self.ready.set()
            messages = channel.consume(self.queue, inactivity_timeout=0.5)
            for first in messages:
                if self._stop.is_set():
                    break
                if first[0] is None:
                    continue
                taken: list[Message] = [first]
                while len(taken) < self.batch:  # and those that are here already
                    connection.process_data_events(time_limit=0)
                    if not channel.get_waiting_message_count():
                        break
                    taken.append(next(messages))
                if not self._take(connection, channel, taken):
                    break
            channel.cancel()
        finally:
            if connection.is_open:
                connection.close()
