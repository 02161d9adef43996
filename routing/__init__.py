"""Routing: the one writer of decisions. Pure decision functions in `routing.domain`,
the stream consumer in `routing.worker`, the action API in `routing.api`."""
