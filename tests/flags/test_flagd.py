"""`headway flags import` / `export`: flagd's flag-definition format, both ways."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings, get_settings
from headway.flags.evaluate import evaluate
from headway.flags.flagd import from_flagd
from headway.flags.flagd_export import to_flagd
from headway.flags.model import ConfigError, parse_flag
from headway.flags.service import FlagService
from headway.store import open_store

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "flagd" / "example_flags.flagd.json"
runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "flags.duckdb"
    monkeypatch.setenv("HEADWAY_DATABASE", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def _service(path: Path) -> Any:
    return FlagService(open_store(Settings(database=str(path))))


def test_flagds_example_definitions_import_and_evaluate(database: Path) -> None:
    # Given flagd's documented example file: its fractional split buckets differently here
    first = runner.invoke(app, ["flags", "import", str(EXAMPLE)])
    # Then the import says so, and applies nothing until told to
    assert first.exit_code == 2
    assert "flags.headerColor.targeting" in first.output
    assert "murmur3" in first.output
    assert "nothing imported" in first.output
    assert _service(database).list_flags() == []
    done = runner.invoke(app, ["flags", "import", str(EXAMPLE), "--yes"])
    assert done.exit_code == 0, done.output
    assert "Imported 9 flags into production" in done.output
    flags = {f.key: f for f in _service(database).list_flags()}

    def check(key: str, context: dict[str, Any]) -> tuple[Any, str | None, str]:
        r = evaluate(flags[key], "production", context)
        return r.value, r.variant, r.reason

    # No targeting: the default variant, STATIC, as flagd answers
    assert check("myBoolFlag", {}) == (True, "on", "STATIC")
    assert check("myStringFlag", {}) == ("val1", "key1", "STATIC")
    assert check("myFloatFlag", {}) == (1.23, "one", "STATIC")
    assert check("myIntFlag", {}) == (1, "one", "STATIC")
    assert check("myObjectFlag", {}) == ({"key": "val"}, "object1", "STATIC")
    assert flags["myFloatFlag"].type == "number"
    assert flags["myObjectFlag"].type == "json"
    # `==` on color; the else branch is Headway's default (reason DEFAULT where flagd says
    # TARGETING_MATCH: docs/flags.md)
    assert check("isColorYellow", {"color": "yellow"}) == (True, "on", "TARGETING_MATCH")
    assert check("isColorYellow", {"color": "red"}) == (False, "off", "DEFAULT")
    # `$ref` to the emailWithFaas evaluator: "@faas.com" in email
    assert check("fibAlgo", {"email": "ann@faas.com"}) == ("binet", "binet", "TARGETING_MATCH")
    assert check("fibAlgo", {"email": "ann@example.com"}) == (
        "recursive",
        "recursive",
        "DEFAULT",
    )
    # A quarter each, bucketed by email, for faas.com addresses; red for everyone else
    split = flags["headerColor"].environments["production"].rules[0].serve.split
    assert split is not None
    assert split.bucket_by == "email"
    assert [(w.variant, w.weight) for w in split.weights] == [
        ("red", 25),
        ("blue", 25),
        ("green", 25),
        ("yellow", 25),
    ]
    value, _, reason = check("headerColor", {"email": "ann@faas.com"})
    assert (value in ("#FF0000", "#0000FF", "#00FF00", "#FFFF00"), reason) == (True, "SPLIT")
    assert check("headerColor", {"email": "ann@example.com"}) == ("#FF0000", "red", "DEFAULT")
    # `in` with a string first: the email contains it
    assert check("targetedFlag", {"email": "ann@openfeature.dev"}) == (
        "BBB",
        "second",
        "TARGETING_MATCH",
    )
    assert check("targetedFlag", {"email": "ann@example.com"}) == ("AAA", "first", "DEFAULT")
    # Every other environment has them switched off, as any new flag
    assert not flags["myBoolFlag"].environments["staging"].enabled


def test_what_cannot_be_mapped_is_refused_by_path_and_nothing_is_imported(
    database: Path, tmp_path: Path
) -> None:
    document = {
        "flags": {
            "fine": {"state": "ENABLED", "variants": {"on": True}, "defaultVariant": "on"},
            "cat": {
                "state": "ENABLED",
                "variants": {"a": "a", "b": "b"},
                "defaultVariant": "a",
                "targeting": {"if": [{"==": [{"cat": ["x", "y"]}, "xy"]}, "b"]},
            },
            "fallback": {
                "state": "ENABLED",
                "variants": {"a": "a", "b": "b"},
                "defaultVariant": "a",
                "targeting": {"if": [{"==": [{"var": ["plan", "free"]}, "pro"]}, "b"]},
            },
            "mixed": {"state": "ENABLED", "variants": {"a": "a", "n": 1}, "defaultVariant": "a"},
            "nowhere": {"state": "ENABLED", "variants": {"a": "a"}, "defaultVariant": "b"},
        }
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    result = runner.invoke(app, ["flags", "import", str(path), "--yes"])
    assert result.exit_code == 2
    assert "flags.cat.targeting.if[0].==" in result.output
    assert "flags.fallback.targeting.if[0].==[0].var: a var with a fallback value" in result.output
    assert "flags.mixed.variants: variants mix types" in result.output
    assert "flags.nowhere.defaultVariant: unknown variant 'b'" in result.output
    assert _service(database).list_flags() == []  # not even `fine`


def test_an_existing_key_refuses_the_whole_file(database: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["flags", "create", "myBoolFlag"]).exit_code == 0
    result = runner.invoke(app, ["flags", "import", str(EXAMPLE), "--yes"])
    assert result.exit_code == 2
    assert "flags.myBoolFlag: a flag with this key exists" in result.output
    assert [f.key for f in _service(database).list_flags()] == ["myBoolFlag"]


def _headway_flag() -> Any:
    conditions = [
        {"attribute": "plan", "operator": "eq", "value": "pro"},
        {"attribute": "country", "operator": "in", "value": ["FR", "DE"]},
        {"attribute": "email", "operator": "ends_with", "value": "@acme.com"},
        {"attribute": "age", "operator": "gte", "value": 18},
        {"attribute": "app.version", "operator": "semver_gte", "value": "2.1.0"},
        {"attribute": "tier", "operator": "not_in", "value": ["trial"]},
        {"attribute": "email", "operator": "contains", "value": "@"},
    ]
    return parse_flag(
        {
            "key": "checkout",
            "type": "string",
            "owner": "payments",
            "description": "new checkout",
            "client_side": True,
            "lifecycle": {"kind": "release", "expected_removal": "2030-01-01"},
            "variants": [{"key": "new", "value": "new"}, {"key": "old", "value": "old"}],
            "environments": {
                "production": {
                    "enabled": True,
                    "off_variant": "old",
                    "rules": [
                        {"id": "r0", "conditions": conditions, "serve": {"variant": "new"}},
                        {
                            "id": "r1",
                            "conditions": [
                                {"attribute": "plan", "operator": "neq", "value": "free"}
                            ],
                            "serve": {
                                "split": {
                                    "weights": [
                                        {"variant": "new", "weight": 12.5},
                                        {"variant": "old", "weight": 87.5},
                                    ]
                                }
                            },
                        },
                    ],
                    "default": {"variant": "old"},
                }
            },
        }
    )


def test_what_both_can_express_round_trips_without_loss() -> None:
    # Given a Headway flag using every operator flagd can express, and a split
    flag = _headway_flag()
    exported, warnings = to_flagd([flag], "production")
    assert [w.path for w in warnings] == ["flags.checkout.environments.production"]
    # When it goes to flagd and back
    back = from_flagd(json.loads(json.dumps(exported)), "production")
    (doc,) = back.flags
    again = parse_flag({**doc, "salt": flag.salt})
    # Then every field both formats hold is as it was
    assert again.model_dump(exclude={"environments"}) == flag.model_dump(exclude={"environments"})
    before, after = flag.environments["production"], again.environments["production"]
    assert after.model_dump() == before.model_dump()
    # And exporting it again writes the same document
    assert to_flagd([again], "production")[0] == exported


def test_export_refuses_what_flagd_cannot_express(database: Path, tmp_path: Path) -> None:
    flag = _headway_flag().model_dump(mode="json")
    flag["environments"]["production"]["rules"][0]["conditions"].append(
        {"attribute": "email", "operator": "matches", "value": "^a"}
    )
    with pytest.raises(ConfigError) as refused:
        to_flagd([parse_flag(flag)], "production")
    assert [str(i) for i in refused.value.issues] == [
        "flags.checkout.environments.production.rules[0].conditions[7].operator: "
        "'matches' has no flagd equivalent"
    ]


def test_the_cli_exports_what_it_imported(database: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["flags", "import", str(EXAMPLE), "--yes"]).exit_code == 0
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["flags", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    exported = json.loads(out.read_text())
    assert sorted(exported["flags"]) == sorted(json.loads(EXAMPLE.read_text())["flags"])
    assert exported["flags"]["isColorYellow"]["targeting"] == {
        "if": [{"===": [{"var": "color"}, "yellow"]}, "on"]
    }


def test_the_import_route_creates_all_or_none(api: Any) -> None:
    docs = from_flagd(json.loads(EXAMPLE.read_text()), "production").flags
    bad = [*docs, {**docs[0], "key": "x", "type": "bogus"}]
    refused = api.http.post("/api/flags/import", json={"flags": bad}, headers=api.admin)
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["field"] == "flags.x.type"
    assert api.http.get("/api/flags", headers=api.admin).json() == []
    done = api.http.post("/api/flags/import", json={"flags": docs}, headers=api.admin)
    assert done.status_code == 201
    assert len(done.json()) == 9
    client = {"Authorization": f"Bearer {api.server_key}"}
    assert (
        api.http.post("/api/flags/import", json={"flags": docs}, headers=client).status_code == 403
    )
