"""JSON API for billing, mounted by webmagic/api.py."""

from ninja import Router

router = Router(tags=["billing"])
