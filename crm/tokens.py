"""API tokens: created and revoked by staff, stored hashed, checked on every API request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from crm.models import ApiToken

KEY_PREFIX = "wm_"
# Writing last_used_at on every request would turn each API read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(*, user, name: str, created_by=None) -> tuple[ApiToken, str]:
    """Return the token row and the key; the key is not stored and cannot be shown again."""
    name = (name or "").strip()
    if not name:
        raise ValueError("A token needs a name.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=key[:10], key_hash=_digest(key), created_by=created_by
    )
    return token, key


def token_revoke(*, token: ApiToken | int) -> bool:
    pk = token.pk if isinstance(token, ApiToken) else int(token)
    return bool(
        ApiToken.objects.filter(pk=pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )


def token_user(key: str):
    """The active staff user a key belongs to, or None."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_digest(key), revoked_at__isnull=True)
        .first()
    )
    if token is None or not (token.user.is_active and token.user.is_staff):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
