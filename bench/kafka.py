"""The Kafka adapter beside raw kafka-python, in the same run, on the broker the tests use
(noida-db, started here and stopped at the end): targets `kafka-append-ratio` and
`kafka-read-ratio`.

Appends: the adapter's `append` against a bare `KafkaProducer` with the same durability
(`acks=all`, idempotent) sending the same keyed records and waiting for every acknowledgement,
both in batches (as routing appends its decisions) and one event at a time (as intake
appends a submission). Reads: the adapter's `scan` of a whole topic against a bare
`KafkaConsumer` assigned every partition, polling from the beginning to the end. Each is
measured in alternating rounds; the figure is the median round.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.targets import Target
from services.eventlog.kafka import KafkaEventLog
from services.events.envelope import Actor, Event, encode, make, now
from services.events.ids import new_id
from tests.servers import noida

PARTITIONS = 6
ROUNDS = 5
CLERK = Actor(role="intake_clerk", id="bench-clerk", district=22)


def _events(n: int) -> list[Event]:
    return [make("DemandSubmitted", new_id(),
                 {"requester": {"kind": "citizen"}, "channel": "line_137", "district": 22,
                  "neighbourhood": "شهرک دریا", "category": "transport",
                  "title": f"ترافیک بلوار اصلی {i}",
                  "description": "صف طولانی خودروها در ساعات اوج."},
                 actor=CLERK, event_id=new_id(), recorded_at=now())
            for i in range(n)]


def _topic() -> str:
    return f"bench-{uuid.uuid4().hex[:12]}"


def _adapter_append(bootstrap: str, events: list[Event], batch: int) -> float:
    with KafkaEventLog(bootstrap, _topic(), partitions=PARTITIONS) as log:
        log.append(events[:1])  # connections and metadata, outside the timing
        start = time.perf_counter()
        for i in range(0, len(events), batch):
            log.append(events[i:i + batch])
        return time.perf_counter() - start


def _raw_append(bootstrap: str, events: list[Event], batch: int) -> float:
    topic = _topic()
    KafkaEventLog(bootstrap, topic, partitions=PARTITIONS).close()  # the same topic layout
    records = [(e.demand_id.encode(), encode(e), e) for e in events]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    try:
        producer.send(topic, key=records[0][0], value=records[0][1]).get(timeout=30)
        start = time.perf_counter()
        for i in range(0, len(records), batch):
            futures = [producer.send(topic, key=key, value=value,
                                     headers=[("type", e.type.encode()),
                                              ("event_id", e.event_id.encode())])
                       for key, value, e in records[i:i + batch]]
            producer.flush(timeout=30)
            for f in futures:
                f.get(timeout=30)
        return time.perf_counter() - start
    finally:
        producer.close(timeout=10)


def _filled_topic(bootstrap: str, events: list[Event]) -> str:
    topic = _topic()
    with KafkaEventLog(bootstrap, topic, partitions=PARTITIONS) as log:
        for i in range(0, len(events), 2000):
            log.append(events[i:i + 2000])
    return topic


def _adapter_read(bootstrap: str, topic: str, expected: int) -> float:
    with KafkaEventLog(bootstrap, topic, partitions=PARTITIONS) as log:
        start = time.perf_counter()
        count = sum(1 for _ in log.scan(batch=5000))
        seconds = time.perf_counter() - start
    if count != expected:
        raise RuntimeError(f"the adapter read {count} records of {expected}")
    return seconds


def _raw_read(bootstrap: str, topic: str, expected: int) -> float:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        start = time.perf_counter()
        ends = consumer.end_offsets(tps)
        consumer.seek_to_beginning(*tps)
        count = 0
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            batch = consumer.poll(timeout_ms=1000, max_records=5000)
            count += sum(len(records) for records in batch.values())
        seconds = time.perf_counter() - start
    finally:
        consumer.close(autocommit=False)
    if count != expected:
        raise RuntimeError(f"kafka-python read {count} records of {expected}")
    return seconds


def _rounds(adapter: Callable[[], float], raw: Callable[[], float]) -> tuple[float, float]:
    """Median seconds of each, measured in alternating rounds."""
    mine, theirs = [], []
    for _ in range(ROUNDS):
        theirs.append(raw())
        mine.append(adapter())
    return statistics.median(mine), statistics.median(theirs)


def section(quick: bool) -> list[Target]:
    batched, singles, reads = (3000, 500, 20_000) if quick else (20_000, 2000, 100_000)
    with tempfile.TemporaryDirectory(prefix="sada-bench-kafka-") as tmp:
        broker = noida(Path(tmp)).start()
        bootstrap = f"127.0.0.1:{broker.port}"
        try:
            events = _events(max(batched, reads))
            batch_s = _rounds(lambda: _adapter_append(bootstrap, events[:batched], 100),
                              lambda: _raw_append(bootstrap, events[:batched], 100))
            single_s = _rounds(lambda: _adapter_append(bootstrap, events[:singles], 1),
                               lambda: _raw_append(bootstrap, events[:singles], 1))
            topic = _filled_topic(bootstrap, events[:reads])
            read_s = _rounds(lambda: _adapter_read(bootstrap, topic, reads),
                             lambda: _raw_read(bootstrap, topic, reads))
        finally:
            broker.stop()

    def rates(n: int, seconds: tuple[float, float]) -> tuple[float, float, float]:
        adapter, raw = n / seconds[0], n / seconds[1]
        return adapter, raw, adapter / raw

    b, s, r = rates(batched, batch_s), rates(singles, single_s), rates(reads, read_s)
    print(f"noida-db, {PARTITIONS} partitions, median of {ROUNDS} alternating rounds, "
          f"events of {len(encode(events[0]))} bytes")
    for label, (adapter, raw, ratio), n in (
            ("append, 100 events per call", b, batched),
            ("append, 1 event per call  ", s, singles),
            ("read the topic (scan)     ", r, reads)):
        print(f"{label}  adapter {adapter:8.0f}/s  kafka-python {raw:8.0f}/s  "
              f"ratio {ratio:.2f}  ({n} events)")
    # The append target holds for both shapes of append: the lower ratio is the figure.
    worst = min(b, s, key=lambda x: x[2])
    return [
        Target("kafka-append-ratio", worst[2],
               f"batched {b[2]:.2f}, single {s[2]:.2f}; adapter {worst[0]:.0f}/s, "
               f"kafka-python {worst[1]:.0f}/s"),
        Target("kafka-read-ratio", r[2],
               f"adapter {r[0]:.0f}/s, kafka-python {r[1]:.0f}/s"),
    ]
