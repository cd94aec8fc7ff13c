"""The JSON API at /api/v1/: one NinjaAPI, routers from each app, one authentication.

OpenAPI 3 schema at /api/v1/openapi.json, interactive docs at /api/v1/docs.
Both are public: they describe the API, they hold no data.
"""

from django.http import HttpRequest
from ninja import NinjaAPI

from billing.api import router as billing_router
from campaigns.api import router as campaigns_router
from crm.api import Unprocessable, legacy_router
from crm.api import router as crm_router
from crm.api_auth import api_auth
from webmagic.api_analytics import router as analytics_router

api = NinjaAPI(
    title="WebMagic CRM API",
    version="1",
    description="Leads, pipeline, campaigns and analytics. Authenticate with a staff session "
    "or `Authorization: Bearer <token>`.",
    auth=api_auth(),
    urls_namespace="api",
)
api.add_router("/crm/campaigns/", campaigns_router)
api.add_router("/crm/analytics/", analytics_router)
api.add_router("/crm/", crm_router)
api.add_router("/billing/", billing_router)
api.add_router("/", legacy_router)


@api.exception_handler(Unprocessable)
def unprocessable(request: HttpRequest, exc: Unprocessable):
    """Validation errors found past ninja's own (the lead FilterSet, cursors) in its shape."""
    return api.create_response(request, exc.body(), status=422)
