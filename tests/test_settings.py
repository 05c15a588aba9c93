"""Settings from JUNBAN_* variables: a bad value names its variable and the form it needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("name", "value", "form"),
    [
        ("PORT", "abc", "whole number, 0 to 65535"),
        ("PORT", "70000", "whole number, 0 to 65535"),
        ("REDIS_POOL", "0", "whole number, 1 or more"),
        ("MAX_BODY", "16k", "whole number"),
        ("RATE_IP", "ten/60", "COUNT/SECONDS"),
        ("RATE_FACILITY", "10/0", "COUNT/SECONDS"),
        ("LOGIN_THROTTLE", "-1/60", "COUNT/SECONDS"),
        ("SERVICE_HOURS", "6-25", "HH:MM-HH:MM"),
        ("WS_PING", "-1", "seconds above 0"),
        ("DAY_CHECK", "soon", "seconds above 0"),
        ("AUDIT_MAXLEN", "-5", "whole number, 0 or more"),
    ],
)
def test_a_bad_setting_names_its_variable_and_the_expected_form(
    name: str, value: str, form: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({f"JUNBAN_{name}": value})
    message = str(caught.value)
    assert caught.value.name == f"JUNBAN_{name}"
    assert f"JUNBAN_{name}={value!r}" in message
    assert form in message


def test_good_settings_parse_and_empty_ones_keep_the_default() -> None:
    settings = Settings.from_env(
        {
            "JUNBAN_PORT": "8080",
            "JUNBAN_RATE_IP": "3/30",
            "JUNBAN_WS_PING": "0.5",
            "JUNBAN_HOST": "",
        }
    )
    assert (settings.port, settings.rate_ip, settings.ws_ping_s) == (8080, (3, 30.0), 0.5)
    assert settings.host == Settings().host


def test_the_cli_refuses_a_bad_setting_with_its_name(tmp_path: Path) -> None:
    env = {**os.environ, "JUNBAN_PORT": "abc", "JUNBAN_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "JUNBAN_PORT='abc' is not valid: expected a whole number" in done.stderr
    assert "Traceback" not in done.stderr
