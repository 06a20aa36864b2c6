"""Linking on both engines: ties between deployments, and re-linking after later deliveries."""

from __future__ import annotations

from datetime import UTC, datetime

from headway import linking
from headway.config import Settings
from headway.model import Change, Deployment, Incident, Service
from headway.store import Store


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, 1, hour, minute, tzinfo=UTC)


def links(store: Store) -> list[tuple[str, str | None, str | None]]:
    return [
        *store.query("SELECT id, deployment_id, NULL FROM changes ORDER BY id"),
        *store.query("SELECT id, deployment_id, attribution FROM incidents ORDER BY id"),
    ]


def test_deployments_at_the_same_instant_link_to_the_smallest_id(
    store: Store, engine_settings: Settings
) -> None:
    # Given two deployments of api that started and finished at the same instants
    store.write(
        [
            Service(name="api"),
            *(
                Deployment(
                    source="t", source_id=name, service="api", started_at=at(11), finished_at=at(12)
                )
                for name in ("d-b", "d-a")
            ),
            Change(source="t", source_id="c", service="api", merged_at=at(10)),
            Incident(source="t", source_id="i", service="api", opened_at=at(13)),
        ]
    )
    linking.link(store, engine_settings)
    # Then the change merged at 10:00 ships with the first to start at or after it, and the
    # incident opened at 13:00 is blamed on the last to finish before it: in both cases the
    # tie goes to the smaller id, t:d-a
    assert links(store) == [("t:c", "t:d-a", None), ("t:i", "t:d-a", "window")]


def test_re_linking_follows_what_later_deliveries_change(
    store: Store, engine_settings: Settings
) -> None:
    # Given a change merged at 10:00 and shipped by d2 at 14:00; an incident at 15:00 blamed on
    # d2 (1 h later, inside the default window); an incident naming d9, which is not stored
    store.write(
        [
            Service(name="api"),
            Deployment(source="t", source_id="d2", service="api", finished_at=at(14)),
            Change(source="t", source_id="c", service="api", merged_at=at(10)),
            Incident(source="t", source_id="i", service="api", opened_at=at(15)),
            Incident(source="t", source_id="j", service="api", opened_at=at(15), cause_ref="t:d9"),
        ]
    )
    linking.link(store, engine_settings, {"api"})
    assert links(store) == [
        ("t:c", "t:d2", None),
        ("t:i", "t:d2", "window"),
        ("t:j", None, "none"),
    ]
    # When d1 at 12:00 and the named d9 at 14:30 arrive
    store.write(
        [
            Deployment(source="t", source_id="d1", service="api", finished_at=at(12)),
            Deployment(source="t", source_id="d9", service="api", finished_at=at(14, 30)),
        ]
    )
    linking.link(store, engine_settings, {"api"})
    # Then the change ships with d1 (the first at or after 10:00), the window incident moves to
    # d9 (the last before 15:00, at 14:30), and the named one finds its deployment
    assert links(store) == [
        ("t:c", "t:d1", None),
        ("t:i", "t:d9", "window"),
        ("t:j", "t:d9", "named"),
    ]
    # And re-linking with nothing new rewrites no row (PostgreSQL: row versions unchanged)
    if store.dialect == "postgres":
        versions = (
            "SELECT id, xmin::text FROM changes UNION ALL SELECT id, xmin::text FROM incidents"
        )
        before = sorted(store.query(versions))
        linking.link(store, engine_settings, {"api"})
        assert sorted(store.query(versions)) == before
