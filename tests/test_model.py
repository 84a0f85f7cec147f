"""The profile document: round trip, schema, and errors on foreign files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from concdiag.errors import EXIT_USAGE, ProfileFormatError
from concdiag.model import STATE_KEYS, Profile
from concdiag.schema import SCHEMA_PATH, generate_schema
from helpers import PID, load_schema, profile_of, synthetic


@pytest.fixture
def profile() -> Profile:
    return profile_of(synthetic({PID: ["H", "W"], PID + 1: ["W", "H"], PID + 2: ["I"]}))


def test_published_schema_matches_the_model() -> None:
    assert load_schema() == json.loads(json.dumps(generate_schema())), (
        "run `python -m concdiag.schema` to regenerate src/concdiag/schema/profile.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_profile_validates_and_round_trips(profile: Profile, tmp_path: Path) -> None:
    data = json.loads(profile.to_json())
    jsonschema.validate(data, load_schema())
    path = tmp_path / "p.json"
    path.write_text(profile.to_json())
    again = Profile.load(path)
    assert again.to_json() == profile.to_json()


def test_public_names_are_stable(profile: Profile) -> None:
    data = json.loads(profile.to_json())
    assert set(data["verdict"]) >= {"bound", "cpu_kind", "recommendation", "confidence", "reasons"}
    thread = data["processes"][0]["threads"][0]
    assert set(thread["states"]) == set(STATE_KEYS)
    assert set(thread["state_seconds"]) == set(STATE_KEYS)
    assert data["schema_version"] == 2


def test_schema_rejects_an_unknown_bound(profile: Profile) -> None:
    data = json.loads(profile.to_json())
    data["verdict"]["bound"] = "fast"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, load_schema())


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not valid JSON"),
        ('{"a": 1}', "not a concdiag profile"),
        ('{"schema": "concdiag-profile", "schema_version": 99}', "version 99"),
        ('{"schema": "concdiag-profile", "schema_version": 1}', "malformed"),
    ],
)
def test_foreign_files_are_usage_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(ProfileFormatError) as err:
        Profile.load(path)
    assert message in err.value.message
    assert err.value.exit_code == EXIT_USAGE


def test_schema_file_is_packaged() -> None:
    assert SCHEMA_PATH.is_file()
