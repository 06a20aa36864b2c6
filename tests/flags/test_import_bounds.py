"""An import of many bad flag documents is refused quickly, with a bounded answer."""

from __future__ import annotations

import time
from typing import Any

from headway.api.flags import IMPORT_FLAGS_MAX
from headway.flags.service import IMPORT_ISSUES_MAX


def test_a_thousand_empty_flags_are_refused_in_one_short_answer(api: Any) -> None:
    # Given a body of 1000 empty documents (each misses key, type, owner and variants, and
    # each has the key None of the one before it)
    started = time.monotonic()
    refused = api.http.post("/api/flags/import", json={"flags": [{}] * 1000}, headers=api.admin)
    # Then the answer is a 422 listing the first problems and how many flags were left
    # unchecked: 4 problems in the first document, 5 in each other (its 4, and a key that
    # exists); 4 + 19 * 5 = 99 after 20 documents, 104 after 21, so 979 are not checked
    assert refused.status_code == 422
    problems = refused.json()["problems"]
    assert problems[-1] == {"field": "flags", "problem": "979 more flags not checked"}
    assert IMPORT_ISSUES_MAX == 100
    assert len(problems) == 104 + 1
    assert time.monotonic() - started < 5  # was 2 s here, and 8 s for 10 000 documents
    assert api.http.get("/api/flags", headers=api.admin).json() == []


def test_more_flags_than_an_import_takes_are_refused_before_any_is_read(api: Any) -> None:
    body = {"flags": [{}] * (IMPORT_FLAGS_MAX + 1)}
    refused = api.http.post("/api/flags/import", json=body, headers=api.admin)
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["field"] == "body.flags"
