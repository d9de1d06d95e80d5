"""Configuration: each GRIDFLOW_* variable is checked at start, and a bad one is refused
with its name and what is wrong — never a traceback, never a silent default."""

from __future__ import annotations

import pytest

from domain.deadlines import Limit
from gridflow.cli import main
from gridflow.settings import ConfigurationError, Settings


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("GRIDFLOW_TRANSFER_CAP", "-1", "greater than or equal to 0"),
        ("GRIDFLOW_TRANSFER_CAP", "two", "valid integer"),
        ("GRIDFLOW_RATE_LIMIT", "1.5", "valid integer"),
        ("GRIDFLOW_PROJECTION_BATCH", "0", "greater than or equal to 1"),
        ("GRIDFLOW_MISS_WARNING_RATE", "30", "less than or equal to 1"),
        ("GRIDFLOW_SATISFACTION_BASIC_WEIGHT", "-0.1", "greater than or equal to 0"),
        ("GRIDFLOW_COMPARISON_RADIUS_M", "0", "greater than 0"),
        ("GRIDFLOW_GROUP_COMMIT", "maybe", "valid boolean"),
        ("GRIDFLOW_ESCALATE_MISSED_SMALL", "perhaps", "valid boolean"),
        ("GRIDFLOW_DEADLINES", "{triage: 4wh}", "not valid JSON"),
        ("GRIDFLOW_DEADLINES", '{"triage": "4 hours"}', "is not a limit"),
        ("GRIDFLOW_DEADLINES", '{"tirage": "4wh"}', "unknown deadline kind"),
        ("GRIDFLOW_SCORE_WEIGHTS.on_time", '{"on_time": "high"}', "valid number"),
        ("GRIDFLOW_TIMEZONE", "Mars/Olympus", "No time zone"),
        ("GRIDFLOW_WORKING_HOURS", "17:30-08:30", "ends before it starts"),
        ("GRIDFLOW_CALENDAR_FILE", "/nonexistent/calendar.json", "No such file"),
        ("GRIDFLOW_CORS_ORIGINS", "ftp://files.example", "not an origin"),
        ("GRIDFLOW_WEBHOOK_ALLOW_NETWORKS", "10.0.0.0/33", "not a CIDR"),
    ],
)
def test_a_bad_variable_is_refused_with_its_name_and_the_reason(variable, value, why):
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({variable.split(".")[0]: value})
    message = str(refused.value)
    assert message.startswith(f"{variable}: ") and why in message
    assert "\n" not in message


def test_the_defaults_are_the_readmes():
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///./gridflow.db"
    assert (s.transfer_cap, s.rate_limit, s.projection_batch) == (2, 6000, 2000)
    assert (s.group_commit, s.escalate_missed_small) == (True, True)
    assert (s.ranking_min_sample, s.satisfaction_basic_weight) == (10, 0.9)
    assert s.calendars.default.timezone == "Asia/Shanghai"
    assert s.limits.limit("small_resolution", {}) == Limit(1, "wd")


def test_values_are_read_and_empty_ones_count_as_unset():
    s = Settings.from_env(
        {
            "GRIDFLOW_TRANSFER_CAP": "4",
            "GRIDFLOW_GROUP_COMMIT": "0",
            "GRIDFLOW_ESCALATE_MISSED_SMALL": "no",
            "GRIDFLOW_RATE_LIMIT": "",
            "GRIDFLOW_DEADLINES": '{"triage": "4wh"}',
            "GRIDFLOW_FOLLOWUP_REPLY": "2wd",
            "GRIDFLOW_SCORE_WEIGHTS": '{"on_time": 2}',
        }
    )
    assert (s.transfer_cap, s.group_commit, s.escalate_missed_small) == (4, False, False)
    assert s.rate_limit == 6000
    assert s.limits.limit("triage", {}) == Limit(4, "wh")
    assert s.limits.limit("flag_reply", {}) == Limit(2, "wd")
    assert s.score_weights == {"on_time": 2.0}
    assert s.policy.transfer_cap == 4 and not s.policy.escalate_missed_small


def test_a_given_environment_is_read_alone(monkeypatch):
    """Tests and the benchmarks' child processes pass their own: the process's
    variables must not leak into it."""
    monkeypatch.setenv("GRIDFLOW_TRANSFER_CAP", "7")
    assert Settings.from_env().transfer_cap == 7
    assert Settings.from_env({}).transfer_cap == 2


def test_the_command_line_prints_one_line_naming_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("GRIDFLOW_RATE_LIMIT", "lots")
    assert main(["token", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: GRIDFLOW_RATE_LIMIT: ") and "\n" not in err
