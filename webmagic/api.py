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
from crm.api_auth import BearerToken, StaffSession
from webmagic.api_analytics import router as analytics_router

_ERROR_ITEM = {
    "type": "object",
    "properties": {
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"},
        "type": {"type": "string"},
    },
    "required": ["loc", "msg", "type"],
}
_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}


def _json(ref: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


class WebMagicAPI(NinjaAPI):
    """django-ninja documents only the statuses a view declares; it also answers 422 for
    any parameter or body that fails validation, 401 without credentials and 403 for a
    role or CSRF refusal. The schema says so, so clients and fuzzers can rely on it."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(
            "ValidationError",
            {
                "type": "object",
                "properties": {"detail": {"type": "array", "items": _ERROR_ITEM}},
                "required": ["detail"],
            },
        )
        components.setdefault("ErrorDetail", _DETAIL)
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                # django-ninja keys responses by int; JSON keys are strings, and an int 422
                # beside a string "422" would publish the key twice (Swagger UI refuses it).
                responses = {str(k): v for k, v in operation.get("responses", {}).items()}
                operation["responses"] = responses
                if operation.get("parameters") or operation.get("requestBody"):
                    responses.setdefault(
                        "400", _json("ErrorDetail", "A body that is not JSON, or a refused request")
                    )
                    responses.setdefault(
                        "422", _json("ValidationError", "Invalid input; each error names its field")
                    )
                if operation.get("security"):
                    responses.setdefault("401", _json("ErrorDetail", "No valid session or token"))
                    if method in ("post", "put", "patch", "delete"):
                        responses.setdefault(
                            "403", _json("ErrorDetail", "Your role may not do this, or CSRF failed")
                        )
        return schema


api = WebMagicAPI(
    title="WebMagic CRM API",
    version="1",
    description="Leads, pipeline, campaigns and analytics. Authenticate with a staff session "
    "or `Authorization: Bearer <token>`.",
    # The token first: the session check enforces CSRF on writes, and would refuse a token
    # client's POST (which has no CSRF cookie) before the token was even looked at.
    auth=[BearerToken(), StaffSession()],
    urls_namespace="api",
)
api.add_router("/crm/campaigns", campaigns_router)
api.add_router("/crm/analytics/", analytics_router)
api.add_router("/crm/", crm_router)
api.add_router("/billing/", billing_router)
api.add_router("/", legacy_router)


@api.exception_handler(Unprocessable)
def unprocessable(request: HttpRequest, exc: Unprocessable):
    """Validation errors found past ninja's own (the lead FilterSet, cursors) in its shape."""
    return api.create_response(request, exc.body(), status=422)
