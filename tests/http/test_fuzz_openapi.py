"""Property-based fuzzing from the OpenAPI description (schemathesis): no 5xx on any
input, and every response conforms to the documented schema."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from tests.http.support import api
from tests.support import STAFF

EXAMPLES = int(os.environ.get("GRIDFLOW_FUZZ_EXAMPLES", "25"))


def test_no_server_errors_and_documented_responses(store_url: str) -> None:
    with api(store_url) as a:
        a.report(STAFF)  # something to find
        schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(a.container.services()))
        headers = {"Authorization": f"Bearer {a.token(STAFF)}"}
        checked = []
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                # Schema-valid data may still name an unknown grid or a wrong state: the
                # domain's 4xx answers are right there, so positive acceptance is not asked.
                case.call_and_validate(
                    headers=headers, excluded_checks=[schemathesis.checks.positive_data_acceptance]
                )

            run()
            checked.append(operation.label)
        assert len(checked) >= 15
