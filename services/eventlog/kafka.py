"""The production event log: one Kafka topic keyed by demand id.

The key sends every event of a demand to one partition, where it is totally ordered. The
producer is idempotent with `acks=all`, so a retried send neither reorders nor duplicates
within a session; an append retried by the caller may still store an event twice, which the
port allows (consumers are idempotent).

Reads are stateless scans by a group-less consumer (`assign` + `seek`); `consumer()` gives a
group member whose starting offsets come from the caller, with manual commits only.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kafka import (
    ConsumerRebalanceListener,
    KafkaAdminClient,
    KafkaConsumer,
    KafkaProducer,
    OffsetAndMetadata,
    TopicPartition,
)
from kafka.errors import KafkaTimeoutError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

from services.eventlog.port import Consumer, EventLog, Offsets, Position, Record, advance
from services.events.envelope import Event, encode

logger = logging.getLogger(__name__)

# Under the brokers' default message.max.bytes (1 MB), which caps one record batch.
BATCH_BYTES = 512 * 1024
LINGER_MS = 1000  # append() flushes at once: batches only wait for the call's last event


@dataclass
class _Readers:
    """One thread's group-less consumers (a KafkaConsumer must not be shared by threads).
    `reader` serves read(), `prober` end_offsets(); `reader_at` is where the reader will
    continue, so a read that starts there needs no seek and keeps what was prefetched."""

    reader: KafkaConsumer | None = None
    prober: KafkaConsumer | None = None
    reader_at: Offsets = field(default_factory=dict)

    def close(self) -> None:
        for consumer in (self.reader, self.prober):
            if consumer is not None:
                consumer.close(autocommit=False)
        self.reader = self.prober = None
        self.reader_at = {}


class KafkaEventLog(EventLog):
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        partitions: int = 6,
        replication_factor: int = 1,
        session_timeout_ms: int = 6000,
        heartbeat_interval_ms: int = 1000,
        client_id: str = "sada",
        timeout: float = 30.0,
    ) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self._client_id = client_id
        self._session_timeout_ms = session_timeout_ms
        self._heartbeat_interval_ms = heartbeat_interval_ms
        self._timeout = timeout  # for acknowledgements, metadata and catching up
        self._partitions = self._ensure_topic(partitions, replication_factor)
        self._tps = [TopicPartition(topic, p) for p in range(self._partitions)]
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._local = threading.local()
        self._readers: list[_Readers] = []
        self._consumers: list[_KafkaConsumer] = []

    def identity(self) -> str:
        """The topic's name: a deployment's topic is its log (a topic is never reused for
        another city's stream, and two stacks on one cluster use two topics)."""
        return f"kafka:{self.topic}"

    def _ensure_topic(self, partitions: int, replication_factor: int) -> int:
        """Create the topic unless it exists; return its partition count once every
        partition has a leader (a new topic's metadata can lag behind its creation)."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self._client_id)
        try:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics({self.topic: {"num_partitions": partitions,
                                                  "replication_factor": replication_factor}})
            admin.wait_for_topics([self.topic], timeout_ms=int(self._timeout * 1000))
            (described,) = admin.describe_topics([self.topic])
            return len(described["partitions"])
        finally:
            admin.close()

    @property
    def partitions(self) -> int:
        return self._partitions

    def partition_for(self, demand_id: str) -> int:
        """What the producer's default partitioner (murmur2 of the key, as in the Java
        client) picks for this demand."""
        return (murmur2(demand_id.encode()) & 0x7FFFFFFF) % self._partitions

    # -- appending ---------------------------------------------------------------------

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                # One record batch per partition per append, as far as BATCH_BYTES allows:
                # nothing leaves before append's flush (linger), and the batch holds all of
                # the call's events for a partition. Fewer requests; and Kafka stores a batch
                # whole or not at all, so a process killed mid-append seldom leaves part of a
                # decision step in a partition (the routing worker mends it if so).
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap, client_id=self._client_id,
                    acks="all", enable_idempotence=True, linger_ms=LINGER_MS,
                    batch_size=BATCH_BYTES)
            return self._producer

    def append(self, events: Sequence[Event], *, partition: int | None = None) -> list[Position]:
        if not events:
            return []
        if partition is not None and not 0 <= partition < self.partitions:
            raise ValueError(f"no partition {partition} in {self.topic}")
        producer = self._get_producer()
        futures = [
            producer.send(
                self.topic, key=e.demand_id.encode(), value=encode(e), partition=partition,
                headers=[("type", e.type.encode()), ("event_id", e.event_id.encode())])
            for e in events
        ]
        try:
            producer.flush(timeout=self._timeout)
            # get() raises the send's error, if any; metadata order is the input order.
            metadata = [f.get(timeout=self._timeout) for f in futures]
        except Exception:
            # An idempotent producer can be left unusable (e.g. a sequence error): start afresh.
            with self._lock:
                if self._producer is producer:
                    self._producer = None
            producer.close(timeout=0)
            raise
        return [Position(m.partition, m.offset) for m in metadata]

    # -- stateless reading -------------------------------------------------------------

    def _thread_readers(self) -> _Readers:
        readers = getattr(self._local, "readers", None)
        if readers is None:
            readers = self._local.readers = _Readers()
            with self._lock:
                self._readers.append(readers)
        return readers

    def _assigned_consumer(self, **config) -> KafkaConsumer:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, client_id=self._client_id, group_id=None,
            enable_auto_commit=False, **config)
        consumer.assign(self._tps)
        return consumer

    def read(self, start: Offsets, *, limit: int = 1000, timeout: float = 0.0) -> list[Record]:
        state = self._thread_readers()
        if state.reader is None:
            # 'none': a start beyond the end raises instead of silently jumping elsewhere.
            state.reader = self._assigned_consumer(auto_offset_reset="none",
                                                   fetch_max_wait_ms=100)
        reader = state.reader
        want = {p: start.get(p, 0) for p in range(self._partitions)}
        for tp in self._tps:
            if state.reader_at.get(tp.partition) != want[tp.partition]:
                reader.seek(tp, want[tp.partition])
        state.reader_at = {}  # unknown until this read succeeds
        deadline = time.monotonic() + timeout
        give_up = deadline + self._timeout
        checked = False
        while True:
            wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
            batch = reader.poll(timeout_ms=wait_ms, max_records=limit)
            records = [Record(tp.partition, m.offset, m.value)
                       for tp in sorted(batch) for m in batch[tp]]
            if records:
                state.reader_at = advance(want, records)
                return records
            if time.monotonic() < deadline:
                continue
            # An empty poll may only mean that a fetch is still in flight: answer "nothing"
            # only if the log really has nothing after `start`.
            if not checked:
                if all(want[p] >= end for p, end in self.end_offsets().items()):
                    state.reader_at = want
                    return []
                checked = True
            if time.monotonic() > give_up:
                raise KafkaTimeoutError(f"records after {want} in {self.topic} not fetched")
            deadline = time.monotonic() + 0.05

    def end_offsets(self) -> Offsets:
        """Per partition, the offset the next event will get.

        ListOffsets(LATEST) is the high watermark on Apache Kafka, but Tansu 0.6 answers the
        last batch's base offset + 1 after a batched produce. So the answer is confirmed by
        reading: fetch the last record the broker admits to (offset LATEST - 1) and take the
        high watermark that fetch response carries. On a correct broker this costs one fetch
        and changes nothing.
        """
        state = self._thread_readers()
        give_up = time.monotonic() + self._timeout
        for attempt in (1, 2):
            if state.prober is None:
                # Full fetch requests, not incremental fetch sessions: a long-lived prober
                # that pauses and resumes partitions on every call was seen to stop getting
                # data from Tansu, while a fresh consumer did.
                state.prober = self._assigned_consumer(auto_offset_reset="earliest",
                                                       fetch_max_wait_ms=50,
                                                       enable_incremental_fetch_sessions=False)
            ends = self._confirmed_ends(
                state.prober, give_up if attempt == 2 else
                min(give_up, time.monotonic() + max(2.0, self._timeout / 3)))
            if ends is not None:
                return ends
            state.prober.close(autocommit=False)  # start afresh with a new consumer
            state.prober = None
        raise KafkaTimeoutError(f"end offsets of {self.topic} not confirmed")

    def _confirmed_ends(self, prober: KafkaConsumer, deadline: float) -> Offsets | None:
        listed = prober.end_offsets(self._tps, timeout_ms=int(self._timeout * 1000))
        ends = {tp.partition: listed[tp] for tp in self._tps}
        pending = {tp for tp in self._tps if listed[tp] > 0}
        prober.resume(*self._tps)
        for tp in self._tps:
            if tp in pending:
                prober.seek(tp, listed[tp] - 1)
            else:
                prober.pause(tp)
        while pending:
            if time.monotonic() > deadline:
                return None
            prober.poll(timeout_ms=100, max_records=1000)
            for tp in list(pending):
                # position >= listed: the record at listed - 1 was fetched after the seek,
                # so highwater() comes from a fetch response newer than this call. Tansu's
                # high watermark can be as low as its ListOffsets answer, but the end is at
                # least where the records just read stop.
                position = prober.position(tp)
                if position >= listed[tp]:
                    ends[tp.partition] = max(listed[tp], prober.highwater(tp) or 0, position)
                    pending.discard(tp)
                    prober.pause(tp)
        return ends

    def committed(self, group: str) -> Offsets:
        """The offsets `group` last committed (partitions it never committed are absent)."""
        with KafkaConsumer(bootstrap_servers=self.bootstrap, client_id=self._client_id,
                           group_id=group, enable_auto_commit=False) as probe:
            out = {tp.partition: probe.committed(tp) for tp in self._tps}
        return {p: o for p, o in out.items() if o is not None}

    # -- group consumers ---------------------------------------------------------------

    def consumer(self, group: str, start: Callable[[list[int]], Offsets]) -> Consumer:
        member = _KafkaConsumer(self, group, start)
        with self._lock:
            self._consumers.append(member)
        return member

    def close(self) -> None:
        with self._lock:
            members, self._consumers = self._consumers, []
            readers, self._readers = self._readers, []
            self._local = threading.local()
            producer, self._producer = self._producer, None
        for member in members:
            member.close()
        for state in readers:
            state.close()
        if producer is not None:
            producer.close(timeout=self._timeout)


class _KafkaConsumer(Consumer, ConsumerRebalanceListener):
    """A group member. Kafka assigns the partitions; `start` says where each begins."""

    def __init__(self, log: KafkaEventLog, group: str,
                 start: Callable[[list[int]], Offsets]) -> None:
        self._topic, self._start, self._group = log.topic, start, group
        self._consumer = KafkaConsumer(
            bootstrap_servers=log.bootstrap, client_id=log._client_id, group_id=group,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=log._session_timeout_ms,
            heartbeat_interval_ms=log._heartbeat_interval_ms)
        self._consumer.subscribe([log.topic], listener=self)
        self._closed = False

    # ConsumerRebalanceListener: called from inside poll().
    def on_partitions_revoked(self, revoked) -> None:
        # Progress lives with the caller's data and in explicit commits: nothing to save.
        logger.info("group %s: partitions %s revoked", self._group,
                    sorted(tp.partition for tp in revoked), extra={"group": self._group})

    def on_partitions_assigned(self, assigned) -> None:
        partitions = sorted(tp.partition for tp in assigned)
        logger.info("group %s: assigned partitions %s", self._group, partitions,
                    extra={"group": self._group, "partitions": partitions})
        if not assigned:
            return
        offsets = self._start(sorted(tp.partition for tp in assigned))
        for tp in assigned:
            self._consumer.seek(tp, offsets.get(tp.partition, 0))

    def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]:
        batch = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        return [Record(tp.partition, m.offset, m.value) for tp in sorted(batch) for m in batch[tp]]

    def commit(self, offsets: Offsets) -> None:
        if offsets:
            self._consumer.commit({TopicPartition(self._topic, p): OffsetAndMetadata(o, "", -1)
                                   for p, o in offsets.items()})

    def assignment(self) -> list[int]:
        return sorted(tp.partition for tp in self._consumer.assignment())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close(autocommit=False)
