"""Jira issues → incidents and escaped defects."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from headway.model import Defect, Incident
from headway.sources import jira
from headway.sources.mapping import Mapping
from tests.conftest import FIXTURES


def load(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / "jira" / name).read_text())


def test_types_decide_incident_defect_or_ignored() -> None:
    resolved = load("webhook-issue-updated-resolved.json")
    assert "Story" in (jira.parse("jira:issue_updated", resolved, Mapping()).ignored or "")
    resolved["issue"]["fields"]["issuetype"]["name"] = "Incident"
    (incident,) = jira.parse("jira:issue_updated", resolved, Mapping()).records
    assert isinstance(incident, Incident)
    # created 19:01:52.971-0800 = 03:01:52.971 UTC next day; resolved 19:15:40.470-0800
    assert (incident.opened_at, incident.resolved_at) == (
        datetime(2019, 2, 16, 3, 1, 52, 971000, tzinfo=UTC),
        datetime(2019, 2, 16, 3, 15, 40, 470000, tzinfo=UTC),
    )
    created = load("webhook-issue-created.json")
    created["issue"]["fields"]["issuetype"]["name"] = "Bug"
    mapped = Mapping(services={"COMP-1": {"service": "search"}})
    (defect,) = jira.parse("jira:issue_created", created, mapped).records
    assert isinstance(defect, Defect)
    assert (defect.id, defect.service) == ("jira:TES-41", "search")
