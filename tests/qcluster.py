"""A real `manage.py qcluster` for the tests where queueing matters: it runs against the
test database in its own process group (so a test can kill -9 the whole group, or one
worker), with its log in a file the test can read and show."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def qcluster_spawn(log_path: Path, **env: str) -> subprocess.Popen:
    """Start a qcluster (ORM broker, two workers, file email unless `env` says otherwise)."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    full = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": "",
        "Q_SYNC": "0",
        "Q_WORKERS": "2",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(log_path.parent / "mail"),
        "SMS_BACKEND": "campaigns.sms.LocmemBackend",
        "PUBLIC_BASE_URL": "https://crm.example.com",
        **env,
    }
    full.pop("DJANGO_SETTINGS_MODULE", None)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so killpg hits only it
        )


def qcluster_kill(proc: subprocess.Popen) -> None:
    """kill -9 of the whole cluster (main, sentinel, pusher, monitor, workers)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def qcluster_stop(proc: subprocess.Popen) -> None:
    """A graceful stop (SIGTERM), then kill -9 if it does not come."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            qcluster_kill(proc)
