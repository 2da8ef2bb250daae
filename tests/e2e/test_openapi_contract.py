"""schemathesis against the real `omnibot serve` (SQLite, PostgreSQL; the sandbox behind it): the document holds.

Every operation of the document gets generated requests, valid and invalid; every answer must be
no 5xx, and a documented status with the documented content type, headers and body schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import HttpUrl, TypeAdapter, ValidationError
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from omnibot.entrypoints.http.operations import document
from tests.e2e.conftest import API_KEY, Stack

# Stacks of their own, on a SQLite file and on a PostgreSQL database of their own: the fuzzer erases,
# links and notifies made-up customers, which the other end-to-end tests must not see. Both, because
# the two databases refuse different things (PostgreSQL's text columns refuse NUL characters).
pytestmark = pytest.mark.parametrize(
    "stack", ["sqlite-contract", pytest.param("postgres-contract", marks=pytest.mark.postgres)], indirect=True)

# Nothing the fuzzer makes up may reach past this machine: status callbacks go to a closed port.
CALLBACK_URL = "http://127.0.0.1:9/callback"
HTTP_URL = TypeAdapter(HttpUrl)  # what NotificationCreate.callback_url takes
# Not positive_data_acceptance: a phone that fits the schema (a string) may still not be a phone number.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, missing_required_header, ignored_auth,
          unsupported_method]

# The document built in this process; the first test proves the server serves the same one.
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(document())))
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                deterministic=True, database="none")
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])


def test_the_server_serves_the_generated_document(stack: Stack) -> None:
    served = stack.api.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(document()))


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_document(case: Case, stack: Stack) -> None:
    if isinstance(case.body, dict) and _is_http_url(case.body.get("callback_url")):
        case.body["callback_url"] = CALLBACK_URL  # still valid: the case stays what it was generated to be
    case.call_and_validate(base_url=str(stack.api.base_url), headers=_credentials(case), checks=CHECKS,
                           timeout=10)


def _is_http_url(value: object) -> bool:
    try:
        HTTP_URL.validate_python(value)
    except ValidationError:
        return False
    return True


def _credentials(case: Case) -> dict[str, Any]:
    """The API key for the shop's calls; the webhooks get no secret and no valid signature."""
    return {"X-Internal-API-Key": API_KEY} if case.operation.path.startswith(("/v1/", "/trigger")) else {}
