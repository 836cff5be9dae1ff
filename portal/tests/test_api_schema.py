"""Property-based run of every API route against its own OpenAPI document (schemathesis).

Valid and invalid data alike must never produce a server error, every status a route answers
must be documented for it, and every documented response must match its schema.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry

MAX_EXAMPLES = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@pytest.fixture
def _connections_kept_open():
    # As Django's test client does: a finished request must not close the test transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def bearer_headers(db, admin_user, train, _connections_kept_open):
    # A served model gives predict, jobs and history routes real work, not only 404s.
    registry.version_promote(version=train())
    # The admin's token reaches every route; routes that need a lower role still check theirs.
    _, token = make_token(admin_user, scope=TokenScope.ALL)
    return {"Authorization": f"Bearer {token}"}


# The document is read once, at collection, through the app itself (no database needed).
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    deterministic=True,
    database="none",
)


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_errors_and_matches_its_schema(case, bearer_headers):
    case.call_and_validate(headers=bearer_headers, checks=CHECKS)
