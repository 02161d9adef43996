"""One contract for every event-log adapter, run against each backend."""
