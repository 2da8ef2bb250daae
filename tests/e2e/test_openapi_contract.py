"""schemathesis against the real `omnibot serve` (SQLite, PostgreSQL; the sandbox behind it): the document holds.

Every operation of the document gets generated requests, valid and invalid; every answer must be
no 5xx, and a documented status with the documented content type, headers and body schema; a valid
request must be taken and an invalid one refused.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import tempfile
from pathlib import Path
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
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from omnibot.domain.phone import normalize_phone
from omnibot.entrypoints.http.api.operations import document
from omnibot.entrypoints.http.api.schemas import PHONE_PATTERN
from tests.e2e.conftest import API_KEY, Stack
from tests.integration.apps import sqlite_apps

# Stacks of their own, on a SQLite file and on a PostgreSQL database of their own: the fuzzer erases,
# links and notifies made-up customers, which the other end-to-end tests must not see. Both, because
# the two databases refuse different things (PostgreSQL's text columns refuse NUL characters).
pytestmark = pytest.mark.parametrize(
    "stack", ["sqlite-contract", pytest.param("postgres-contract", marks=pytest.mark.postgres)], indirect=True)

# Nothing the fuzzer makes up may reach past this machine: status callbacks go to a closed port.
CALLBACK_URL = "http://127.0.0.1:9/callback"
HTTP_URL = TypeAdapter(HttpUrl)  # what NotificationCreate.callback_url takes
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, positive_data_acceptance, missing_required_header,
          ignored_auth, unsupported_method]
# What a valid (positive) case is given beyond what the document can say; invalid cases keep what
# was generated. The phone pattern holds the characters of a phone, not the numbers that exist (no
# pattern can say that): a schema-valid "0" is still `400 invalid_phone`, so a valid case gets a real
# number, in one of the spellings the pattern describes.
PHONES = ["+380501234567", "0501234567", "050 123-45-67", "(050) 123 45 67", "+38 (050) 123-45-67", "380501234567"]
assert all(re.fullmatch(PHONE_PATTERN, p) and normalize_phone(p, "UA") for p in PHONES)
_keys = itertools.count()


def _generated_document() -> dict[str, Any]:
    """The document of an app built in this process: the cases are generated before any stack is up."""
    with tempfile.TemporaryDirectory() as workdir, sqlite_apps(Path(workdir) / "document.sqlite3") as make:
        generated: dict[str, Any] = json.loads(json.dumps(document(make())))
    return generated


# The first test proves the server serves the same document.
GENERATED = _generated_document()
schema = schemathesis.openapi.from_dict(copy.deepcopy(GENERATED))  # GENERATED stays as built
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                deterministic=True, database="none")
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])


def test_the_server_serves_the_generated_document(stack: Stack) -> None:
    served = stack.api.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == GENERATED


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_document(case: Case, stack: Stack) -> None:
    if isinstance(case.body, dict) and _is_http_url(case.body.get("callback_url")):
        case.body["callback_url"] = CALLBACK_URL  # still valid: the case stays what it was generated to be
    if case.meta is not None and case.meta.generation.mode.is_positive:
        _as_the_server_takes_it(case)
    case.call_and_validate(base_url=str(stack.api.base_url), headers=_credentials(case), checks=CHECKS,
                           timeout=10)


def _as_the_server_takes_it(case: Case) -> None:
    """A valid case made valid for the server too, where JSON Schema cannot say what the server wants."""
    if isinstance(case.body, dict) and isinstance(case.body.get("phone"), str):
        case.body["phone"] = PHONES[len(case.body["phone"]) % len(PHONES)]  # spelling varies with the case
    if isinstance(case.path_parameters.get("phone"), str):
        case.path_parameters["phone"] = PHONES[len(case.path_parameters["phone"]) % len(PHONES)]
    if isinstance(case.body, dict) and isinstance(case.body.get("expires_at"), str):
        case.body["expires_at"] = "2999-01-01T00:00:00Z"  # a deadline must lie ahead, which no schema can say
    if isinstance(case.body, dict):  # JSON Schema counts 2188.0 as an integer; the models want 2188
        case.body = _integral_floats_as_ints(case.body)
    # Cases reuse keys: a reused key with another body is `422 idempotency_key_reused` by design, the
    # server remembering an earlier case, not refusing this one. A key of its own, still valid.
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if isinstance(key, str):
        case.headers["Idempotency-Key"] = f"{key[:200].rstrip()}-{next(_keys)}"


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value


def _is_http_url(value: object) -> bool:
    try:
        HTTP_URL.validate_python(value)
    except ValidationError:
        return False
    return True


def _credentials(case: Case) -> dict[str, Any]:
    """The API key for the shop's calls; the webhooks get no secret and no valid signature."""
    return {"X-Internal-API-Key": API_KEY} if case.operation.path.startswith(("/v1/", "/trigger")) else {}
