"""The event-log port (`port`) and its adapters (`sqlite`, `kafka`); `open_log` picks one from
configuration."""

from services.eventlog.port import Consumer, EventLog, Offsets, Position, Record

__all__ = ["Consumer", "EventLog", "Offsets", "Position", "Record", "open_log"]


def open_log(settings) -> EventLog:
    if settings.event_log == "kafka":
        from services.eventlog.kafka import KafkaEventLog

        return KafkaEventLog(settings.kafka_bootstrap, settings.kafka_topic,
                             partitions=settings.kafka_partitions)
    from services.eventlog.sqlite import SqliteEventLog

    return SqliteEventLog(settings.event_log_path)
