"""The interactive API docs render in a real browser with every request outside our own
server refused: Swagger UI is served from django-ninja's static files, not a CDN."""

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_docs_render_offline(page, live_server):
    ours = urlsplit(live_server.url).netloc
    refused: list[str] = []

    def only_ours(route):
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_ours)
    page.goto(live_server.url + "/api/v1/docs")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=15_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert "campaign-performance" in page.content()
    assert refused == []
