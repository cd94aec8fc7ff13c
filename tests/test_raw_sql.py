"""Raw SQL lives in one module per app (`<app>/sql.py`, each statement with its reason and
figure), and migrations are frozen: they import no app code."""

import ast
import importlib
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
APPS = ("crm", "sites", "campaigns", "billing", "webmagic")
# What runs SQL text or hands the driver a statement: a cursor, COPY, the ORM's raw escapes.
RAW_CALLS = {"cursor", "execute", "executemany", "copy", "raw", "extra", "RawSQL"}


def _python_files(*, migrations: bool):
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if ("migrations" in path.parts) == migrations:
                yield path


def _raw_calls(path: Path, label: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in RAW_CALLS and not _is_harmless(func):
                found.append(f"{label}:{node.lineno} {name}()")
    return found


def _is_harmless(func) -> bool:
    """dict.copy() / QueryDict.copy() / copy.copy() and friends are not SQL."""
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "copy"
        and not (isinstance(func.value, ast.Attribute) and func.value.attr == "cursor")
        and not (isinstance(func.value, ast.Name) and func.value.id == "cursor")
    )


def test_raw_sql_is_only_in_the_apps_sql_modules():
    outside = []
    for path in _python_files(migrations=False):
        relative = path.relative_to(ROOT).as_posix()
        if path.name == "sql.py":
            continue
        outside += _raw_calls(path, relative)
    assert outside == []


def test_the_finder_sees_a_cursor_outside_sql_py(tmp_path):
    """The scan above is not vacuous: it reports a cursor and a COPY where they are."""
    sample = tmp_path / "views.py"
    sample.write_text(
        "from django.db import connection\n"
        "def f():\n"
        "    with connection.cursor() as cursor, cursor.copy('COPY t FROM STDIN') as c:\n"
        "        cursor.execute('SELECT 1')\n"
        "    return {}.copy()\n"
    )
    calls = [line.split(" ", 1)[1] for line in _raw_calls(sample, "views.py")]
    assert calls == ["cursor()", "copy()", "execute()"]


def test_every_sql_function_gives_its_reason_and_figure():
    """Each public function of an app's sql.py says why the ORM is not used, with a figure."""
    missing = []
    for app in APPS:
        path = ROOT / app / "sql.py"
        if not path.exists():
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                doc = ast.get_docstring(node) or ""
                if "Why raw" not in doc or "Figure" not in doc or "MEASURE" in doc:
                    missing.append(f"{app}/sql.py {node.name}")
    assert missing == []


def test_migrations_import_no_app_code():
    """A migration must not change when app code does: it imports only Django and other
    migrations, never crm.tallies and the like."""
    imports = []
    for path in _python_files(migrations=True):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.split(".")[0] in APPS and ".migrations" not in name:
                    imports.append(f"{path.relative_to(ROOT)}: {name}")
    assert imports == []


@pytest.mark.skipif(connection.vendor not in ("postgresql", "sqlite"), reason="no triggers")
def test_the_recount_and_the_frozen_day_tally_triggers_agree():
    """Migration 0014 froze the engagement ranks into its triggers; crm.sql's recount reads
    them from crm.lifecycle. If the ladder changes, a new trigger migration is due."""
    from crm import sql
    from crm.lifecycle import ENGAGEMENT_RANK
    from crm.tallies import SITE_GENERATED

    frozen = importlib.import_module("crm.migrations.0014_lead_day_tally_triggers")
    assert sql._rank_sql(ENGAGEMENT_RANK) == frozen.RANK
    backfill = sql._day_backfill_sql(ENGAGEMENT_RANK, SITE_GENERATED)
    assert backfill == frozen.DAY_BACKFILL[connection.vendor]
