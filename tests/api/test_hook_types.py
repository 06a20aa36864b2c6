"""Signed deliveries whose fields have the wrong type get 422 and are kept as rejected, never 5xx.

Each example takes a real payload from the fixtures, replaces one value anywhere in it (a
leaf or a whole object or list) with a value of another JSON type, and sends it correctly
signed. Headway may still use it (a field it does not read, or one it reads leniently), ignore
it, or reject it; it must never fail with 5xx, and a 422 must be kept as a rejected delivery.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from headway.store import Store
from tests.api.conftest import FIXTURE_EVENTS, fixture, signed

PAYLOADS = {path: fixture(path) for path in FIXTURE_EVENTS}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value[:3]):
            found += _paths(inner, (*prefix, i))
    return found


PATHS = {path: _paths(payload) for path, payload in PAYLOADS.items()}

OTHER_TYPES = st.one_of(
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.just({}),
    st.just([]),
)


def _replaced(payload: Any, path: tuple[Any, ...], value: Any) -> Any:
    mutated = copy.deepcopy(payload)
    container = mutated
    for part in path[:-1]:
        container = container[part]
    container[path[-1]] = value
    return mutated


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(sorted(PAYLOADS)))
    path = draw(st.sampled_from(PATHS[name]))
    return name, _replaced(PAYLOADS[name], path, draw(OTHER_TYPES))


def test_a_wrongly_typed_field_is_a_422_kept_as_rejected_never_a_5xx(
    client: TestClient, store: Store
) -> None:
    @settings(
        max_examples=400 if store.dialect == "duckdb" else 150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(mutations())
    def check(mutation: tuple[str, Any]) -> None:
        # Given a real payload with one value of another type
        name, payload = mutation
        source, event = FIXTURE_EVENTS[name]
        url, body, headers = signed(source, payload, event)
        # When it is delivered, correctly signed
        response = client.post(url, content=body, headers=headers)
        # Then it is answered with no 5xx, and a 422 names the delivery kept as rejected
        assert response.status_code < 500, (name, response.text)
        if response.status_code == 422:
            delivery = response.json()["delivery"]
            status = store.rows(
                text("SELECT status FROM raw_events WHERE id = :id"), id=f"{source}:{delivery}"
            )
            assert status == [("rejected",)], (name, response.text)

    check()
