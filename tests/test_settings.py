"""Settings come from the environment only, and production refuses unsafe defaults."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _import_settings(**env):
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import webmagic.settings as s; print(s.DATABASES['default']['ENGINE'])",
        ],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_the_default_secret_key():
    result = _import_settings(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_starts_with_a_real_secret_key():
    result = _import_settings(DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="crm.example.com")
    assert result.returncode == 0, result.stderr


def test_default_database_is_the_embedded_sqlite_file():
    assert "sqlite3" in _import_settings().stdout


def test_database_url_selects_postgresql():
    result = _import_settings(DATABASE_URL="postgres://u@127.0.0.1:5432/x")
    assert "postgresql" in result.stdout


@pytest.mark.parametrize(("name", "value"), [("DEBUG", "maybe"), ("SETUP_FEE_CENTS", "cheap")])
def test_a_malformed_value_fails_loudly(name, value):
    result = _import_settings(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr
