"""Public preview pages. Prospects see only their own site; nothing about other leads."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from sites.models import Site


def preview(request: HttpRequest, slug: str) -> HttpResponse:
    site = get_object_or_404(Site, slug=slug)
    response = HttpResponse(site.html)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
