"""Sada's shared kernel: events, the event-log port and its adapters, configuration, the CLI."""
