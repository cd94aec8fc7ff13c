"""billing.recurrente against a local HTTP server that checks what a real Recurrente would:
the auth headers, the method, the path and the JSON body. Never the internet."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from billing.recurrente import RecurrenteClient, RecurrenteError

PUBLIC, SECRET = "pk_test_abc", "sk_test_xyz"


class FakeRecurrente:
    """Records requests; answers 401 on wrong keys and routes like the real API."""

    def __init__(self):
        self.requests: list[dict] = []
        self.checkout_status = 201
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body) -> None:
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(raw) if raw else None,
                    }
                )
                if (
                    self.headers.get("X-PUBLIC-KEY") != PUBLIC
                    or self.headers.get("X-SECRET-KEY") != SECRET
                ):
                    return self._answer(401, {"error": "No autorizado"})
                if self.command == "POST" and self.path == "/api/checkouts":
                    if self.headers.get("Content-Type") != "application/json":
                        return self._answer(415, {"error": "json only"})
                    if outer.checkout_status != 201:
                        return self._answer(outer.checkout_status, {"error": "Item inválido"})
                    return self._answer(
                        201,
                        {
                            "id": "ch_test123",
                            "checkout_url": "https://app.recurrente.com/c/ch_test123",
                        },
                    )
                if self.path == "/api/subscriptions/su_abc" and self.command == "GET":
                    return self._answer(200, {"id": "su_abc", "status": "active"})
                if self.path == "/api/subscriptions/su_abc" and self.command == "DELETE":
                    return self._answer(200, {"id": "su_abc", "status": "cancelled"})
                if self.path == "/api/subscriptions/su_html":
                    return self._answer(200, b"<html>oops</html>")
                return self._answer(404, {"error": "Not found"})

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    with FakeRecurrente() as server:
        yield server


def client_for(fake, public=PUBLIC, secret=SECRET) -> RecurrenteClient:
    return RecurrenteClient(public_key=public, secret_key=secret, base_url=fake.url, timeout=5)


ITEMS = [
    {"name": "Website setup", "currency": "USD", "amount_in_cents": 40000, "quantity": 1},
    {
        "name": "Website subscription",
        "currency": "USD",
        "amount_in_cents": 9700,
        "charge_type": "recurring",
        "billing_interval": "month",
        "billing_interval_count": 1,
        "quantity": 1,
    },
]


def test_checkout_create_sends_keys_and_body_and_returns_id_and_url(fake):
    result = client_for(fake).checkout_create(
        items=ITEMS,
        success_url="https://crm.example.com/p/joe/purchase/done/",
        cancel_url="https://crm.example.com/p/joe/purchase/cancelled/",
        metadata={"wm_checkout": "7", "wm_site": "3", "wm_business": "5", "wm_message": ""},
    )
    assert result == {"id": "ch_test123", "checkout_url": "https://app.recurrente.com/c/ch_test123"}
    (req,) = fake.requests
    assert (req["method"], req["path"]) == ("POST", "/api/checkouts")
    assert req["headers"]["x-public-key"] == PUBLIC
    assert req["headers"]["x-secret-key"] == SECRET
    assert req["body"] == {
        "items": ITEMS,
        "success_url": "https://crm.example.com/p/joe/purchase/done/",
        "cancel_url": "https://crm.example.com/p/joe/purchase/cancelled/",
        "metadata": {"wm_checkout": "7", "wm_site": "3", "wm_business": "5", "wm_message": ""},
    }


def test_wrong_keys_raise_with_the_status(fake):
    with pytest.raises(RecurrenteError) as err:
        client_for(fake, secret="sk_wrong").checkout_create(
            items=ITEMS, success_url="https://x/s", cancel_url="https://x/c", metadata={}
        )
    assert err.value.status == 401
    assert "No autorizado" in str(err.value)


def test_provider_validation_error_is_raised_not_swallowed(fake):
    fake.checkout_status = 422
    with pytest.raises(RecurrenteError) as err:
        client_for(fake).checkout_create(
            items=ITEMS, success_url="https://x/s", cancel_url="https://x/c", metadata={}
        )
    assert err.value.status == 422
    assert "Item inválido" in str(err.value)


def test_subscription_get_and_cancel(fake):
    client = client_for(fake)
    assert client.subscription_get("su_abc")["status"] == "active"
    assert client.subscription_cancel("su_abc")["status"] == "cancelled"
    assert [(r["method"], r["path"]) for r in fake.requests] == [
        ("GET", "/api/subscriptions/su_abc"),
        ("DELETE", "/api/subscriptions/su_abc"),
    ]
    assert all(r["headers"]["x-secret-key"] == SECRET for r in fake.requests)


def test_ids_are_escaped_into_the_path(fake):
    with pytest.raises(RecurrenteError) as err:
        client_for(fake).subscription_get("../checkouts")
    assert err.value.status == 404
    assert fake.requests[0]["path"] == "/api/subscriptions/..%2Fcheckouts"


def test_non_json_answer_raises(fake):
    with pytest.raises(RecurrenteError, match="non-JSON"):
        client_for(fake).subscription_get("su_html")


def test_unreachable_server_raises():
    with FakeRecurrente() as server:
        url = server.url
    client = RecurrenteClient(public_key=PUBLIC, secret_key=SECRET, base_url=url, timeout=2)
    with pytest.raises(RecurrenteError, match="failed"):
        client.subscription_get("su_abc")


def test_missing_keys_or_bad_base_url_are_refused():
    with pytest.raises(RecurrenteError, match="keys"):
        RecurrenteClient(public_key="", secret_key="", base_url="https://app.recurrente.com")
    with pytest.raises(RecurrenteError, match="http"):
        RecurrenteClient(public_key="a", secret_key="b", base_url="file:///etc/passwd")
