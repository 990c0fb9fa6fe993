"""The API fuzzed from its own OpenAPI document (schemathesis, on the live server, with an
administrator's token): no answer is a 5xx, and every answer matches its schema.

Each operation gets a few examples only (MAX_EXAMPLES, valid and invalid data both), so
the whole document takes well under a minute per database.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from deskmail.store.accounts import Role
from tests.web.conftest import LiveWeb

MAX_EXAMPLES = 6
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


class Fuzzing:
    """The live server, the fuzzer's token, and where a made-up webhook URL goes instead."""

    def __init__(self, web: LiveWeb, closed_url: str) -> None:
        self.web = web
        self.closed_url = closed_url
        client = web.api(Role.ADMIN)
        made = client.post("/api/v1/tokens", json={"label": "fuzzing"}).json()
        self.token_id: int = made["id"]
        self.headers = {"Authorization": f"Bearer {made['token']}"}

    def tame(self, case: schemathesis.Case) -> None:
        """Keep the fuzzer's own token alive and its webhooks on loopback.

        Revoking the token it sends would turn the rest of the run into 401s; a
        generated endpoint URL would have "send test" look up made-up host names.
        A URL that a check refuses anyway is left as it is, to fuzz that check.
        """
        path = case.operation.path
        if path == "/api/v1/tokens/{token_id}" and case.path_parameters == {
            "token_id": self.token_id
        }:
            case.path_parameters = {"token_id": self.token_id + 10_000}
        body = case.body
        if path.startswith("/api/v1/webhooks") and isinstance(body, dict):
            url = body.get("url")
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                case.body = {**body, "url": self.closed_url}


@pytest.fixture
def fuzzing(web: LiveWeb, closed_url: str) -> Fuzzing:
    return Fuzzing(web, closed_url)


def _fuzz(operation: Any, fuzzing: Fuzzing) -> None:
    """MAX_EXAMPLES cases of one operation, valid and invalid; raises the first failure."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,  # no .hypothesis/ left in the tree
        phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, unshrunk
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        fuzzing.tame(case)
        case.call_and_validate(base_url=fuzzing.web.url, headers=fuzzing.headers, checks=CHECKS)

    run()


def test_the_api_answers_every_request_within_its_schema(fuzzing: Fuzzing) -> None:
    # schemathesis's own pytest integration (from_fixture) does not work with pytest 9:
    # the operations are walked here, each a Hypothesis test of its own.
    schema = schemathesis.openapi.from_url(f"{fuzzing.web.url}/api/v1/openapi.json")
    failures, fuzzed = [], []
    for result in schema.get_all_operations():
        operation = result.ok()  # an invalid operation in the document fails here
        fuzzed.append(operation.label)
        try:
            _fuzz(operation, fuzzing)
        except (Exception, BaseExceptionGroup) as exc:  # all failures reported at once
            failures.append(f"{operation.label}: {exc}")
    assert "POST /api/v1/webhooks" in fuzzed and "GET /api/v1/tickets" in fuzzed
    assert failures == [], "\n\n".join(failures)
