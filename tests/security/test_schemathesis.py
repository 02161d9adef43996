"""Property-based runs against each service's own OpenAPI document, in process (WSGI).

Schemathesis generates schema-valid and schema-invalid requests for every operation of
`/openapi.json` and checks every answer: never a 5xx; status, content type, headers and body
as documented; invalid input rejected; a request without a token refused. Each service is
called with a token that may use all of it. The examples per operation and mode are bounded
so the three services take about a minute together.

Not checked: that every schema-valid request is accepted (`positive_data_acceptance`). Valid
by the schema is not always valid: text is normalised before it is judged (a title of only
invisible characters is blank), some rules span fields (a closure ends after it starts), and
an id of the right shape may name nothing (404). And a 5xx is a failure unless the operation
documents it: a 503 (the log did not acknowledge; retry) or a 504 (read-your-write waited for
a position or a decision the read models have not reached) is the API's answer, not a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from intake.app import create_app as intake_app
from reporting.app import create_app as reporting_app
from routing.app import create_app as routing_app
from sada.processes import free_port
from services.config import Settings
from services.eventlog.sqlite import SqliteEventLog
from tests.auth_helpers import MASTER_KEY, SECRET, bearer

EXAMPLES = 8
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
# Who calls each service: a role the whole service admits (writes included).
CALLERS = {"intake": "headquarters", "routing": "administrator", "reporting": "administrator"}


@pytest.fixture
def apps(tmp_path, mongo_db) -> Iterator[dict[str, Flask]]:
    # No write rate limit; pages forward actions to a routing URL where nothing listens.
    config = Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY,
                      rate_limit_per_minute=0, routing_port=free_port())
    with SqliteEventLog(tmp_path / "events.sqlite3", synchronous="OFF") as log:
        yield {"intake": intake_app(config, log, db=mongo_db),
               "routing": routing_app(config, log, db=mongo_db),
               "reporting": reporting_app(config, log=log, db=mongo_db)}


@schemathesis.check
def no_undocumented_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx, unless the operation documents that status (503, 504)."""
    status = response.status_code
    if status >= 500 and str(status) not in case.operation.definition.raw.get("responses", {}):
        raise AssertionError(f"server error {status}, not documented for "
                             f"{case.operation.label}: {response.text[:300]}")
    return None


def _no_waiting(case) -> None:
    """Read-your-write waits (`wait`, up to 30 s) are not what is tested here."""
    if any(p.name == "wait" for p in case.operation.iter_parameters()):
        case.query = {**(case.query or {}), "wait": 0}


def _failures(app: Flask, role: str) -> list[str]:
    token = bearer(role)["Authorization"].split()[1]
    config = schemathesis.Config.from_dict({"auth": {"openapi": {"bearerAuth": {
        "bearer": token}}}})
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    found: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @SETTINGS
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                _no_waiting(case)
                case.call_and_validate(
                    additional_checks=[no_undocumented_server_error],
                    excluded_checks=[positive_data_acceptance, not_a_server_error])

            try:
                run()
            except Exception as exc:  # each operation's failure, all reported together
                found.append(f"{operation.label} ({mode.value}): {exc}")
    return found


@pytest.mark.parametrize("service", ["intake", "routing", "reporting"])
def test_each_service_answers_as_its_openapi_document_says(apps, service) -> None:
    failures = _failures(apps[service], CALLERS[service])
    assert not failures, "\n\n".join(failures)
