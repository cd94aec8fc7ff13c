"""The interactive API docs at /api/v1/docs work with no internet: Swagger UI comes from
django-ninja's own static files (`ninja` is an installed app), never a CDN."""

import json
import re

from django.contrib.staticfiles import finders


def test_docs_load_swagger_ui_from_our_own_static_files(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/ninja/swagger-ui-bundle.js" in sources
    assert "/static/ninja/swagger-ui.css" in sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
    for path in ("ninja/swagger-ui-bundle.js", "ninja/swagger-ui-init.js", "ninja/swagger-ui.css"):
        assert finders.find(path), f"{path} is not served by staticfiles"


def test_the_published_schema_has_no_key_twice(client):
    """JSON objects with a repeated key (an int and a str "422") are refused by Swagger UI's
    parser and read differently by different clients."""
    repeated = []

    def pairs(items):
        keys = [k for k, _ in items]
        repeated.extend(k for k in set(keys) if keys.count(k) > 1)
        return dict(items)

    json.loads(client.get("/api/v1/openapi.json").content, object_pairs_hook=pairs)
    assert repeated == []


def test_no_two_schemas_share_a_name():
    """The published schema keeps one component per class name: two `MoneyOut` classes
    would silently describe one of them with the other's fields."""
    from ninja import Schema

    from billing import api as billing_api
    from campaigns import api as campaigns_api
    from crm import api as crm_api
    from webmagic import api_analytics

    seen: dict[str, str] = {}
    clashes = []
    for module in (crm_api, campaigns_api, billing_api, api_analytics):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Schema) and value is not Schema:
                where = f"{value.__module__}.{value.__qualname__}"
                if seen.setdefault(value.__name__, where) != where:
                    clashes.append((seen[value.__name__], where))
    assert clashes == []
