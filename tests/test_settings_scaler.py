"""The scaler's settings: defaults, file and environment, bad values reported."""

import pytest
from test_settings import MINIMAL, problems_of, write_config

from bot.runtime import chat_policy
from bot.settings import Settings


def test_defaults_reach_the_scaling_service_settings():
    settings = Settings.load(MINIMAL)
    assert (settings.scaler_sync_s, settings.scaler_warmup_s, settings.scaler_auto_approve_s,
            settings.scaler_shutdown_timeout_s) == (15, 30, 0, 30)
    scaling = chat_policy(settings).scaling
    assert (scaling.sync_s, scaling.warmup_s, scaling.auto_approve_s) == (15.0, 30.0, 0.0)


def test_from_file_and_environment(tmp_path):
    path = write_config(tmp_path, "[scaler]\nsync_s = 5\nauto_approve_s = 600\n")
    settings = Settings.load({**MINIMAL, "STRATUS_SCALER_WARMUP_S": "12"}, path)
    assert (settings.scaler_sync_s, settings.scaler_warmup_s,
            settings.scaler_auto_approve_s) == (5, 12, 600)


@pytest.mark.parametrize("key, value", [("SCALER_SYNC_S", "0"), ("SCALER_WARMUP_S", "-1"),
                                        ("SCALER_AUTO_APPROVE_S", "soon")])
def test_bad_values_are_problems(key, value):
    problems = problems_of({**MINIMAL, f"STRATUS_{key}": value})
    assert len(problems) == 1 and key.lower() in problems[0]
