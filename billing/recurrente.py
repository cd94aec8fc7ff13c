"""A small client for the Recurrente API (Recurrente publishes no Python SDK).

Auth is two headers, `X-PUBLIC-KEY` and `X-SECRET-KEY`. Only what we use is here:

    client = RecurrenteClient.from_settings()
    client.checkout_create(items=[...], success_url=..., cancel_url=..., metadata={...})
        → {"id": "ch_…", "checkout_url": "https://app.recurrente.com/checkout-session/ch_…"}
    client.subscription_get("su_…") → dict
    client.subscription_cancel("su_…") → dict (DELETE /api/subscriptions/{id})

Errors (network, timeouts, non-2xx, non-JSON) raise RecurrenteError with the status and
the provider's message, never a half-parsed result.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from django.conf import settings

TIMEOUT_SECONDS = 15


class RecurrenteError(Exception):
    def __init__(self, message: str, *, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


class RecurrenteClient:
    def __init__(
        self, *, public_key: str, secret_key: str, base_url: str, timeout: float = TIMEOUT_SECONDS
    ):
        if not public_key or not secret_key:
            raise RecurrenteError("Recurrente keys are not configured")
        self.public_key = public_key
        self.secret_key = secret_key
        if not base_url.startswith(("https://", "http://")):
            raise RecurrenteError(f"RECURRENTE_API_BASE must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    @classmethod
    def from_settings(cls) -> RecurrenteClient:
        return cls(
            public_key=settings.RECURRENTE_PUBLIC_KEY,
            secret_key=settings.RECURRENTE_SECRET_KEY,
            base_url=settings.RECURRENTE_API_BASE,
        )

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={
                "X-PUBLIC-KEY": self.public_key,
                "X-SECRET-KEY": self.secret_key,
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": "webmagic-crm",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail: Any = json.loads(raw)
            except ValueError:
                detail = raw.decode("utf-8", "replace")[:500]
            raise RecurrenteError(
                f"Recurrente {method} {path} answered {exc.code}: {detail}",
                status=exc.code,
                body=detail,
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise RecurrenteError(f"Recurrente {method} {path} failed: {exc}") from None
        if not raw.strip():
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise RecurrenteError(
                f"Recurrente {method} {path} returned non-JSON ({status})", status=status
            ) from None
        if not isinstance(parsed, dict):
            raise RecurrenteError(f"Recurrente {method} {path} returned {type(parsed).__name__}")
        return parsed

    def checkout_create(
        self,
        *,
        items: list[dict[str, Any]],
        success_url: str,
        cancel_url: str,
        metadata: dict[str, Any],
    ) -> dict:
        """POST /api/checkouts → {"id": "ch_…", "checkout_url": "…"} (both required)."""
        result = self._request(
            "POST",
            "/api/checkouts",
            {
                "items": items,
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": metadata,
            },
        )
        if not result.get("id") or not result.get("checkout_url"):
            raise RecurrenteError("checkout response lacks id or checkout_url", body=result)
        return result

    def subscription_get(self, subscription_id: str) -> dict:
        return self._request("GET", f"/api/subscriptions/{quote(subscription_id, safe='')}")

    def subscription_cancel(self, subscription_id: str) -> dict:
        return self._request("DELETE", f"/api/subscriptions/{quote(subscription_id, safe='')}")
