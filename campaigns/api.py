"""JSON API for campaigns (preview, start, list, results), mounted by webmagic/api.py."""

from ninja import Router

router = Router(tags=["campaigns"])
