"""SMS backends, shaped like Django's email backends and chosen by the SMS_BACKEND setting.

- ConsoleBackend: prints each text (the `make run` default).
- LocmemBackend: keeps texts in `campaigns.sms.outbox` (tests).
- TwilioBackend: the twilio package's REST client (production).

`send_sms()` is the one entry point; it returns the provider's message id (Twilio's
MessageSid), which the caller stores as Message.provider_message_id.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

outbox: list[SmsMessage] = []


@dataclass
class SmsMessage:
    to: str
    body: str
    from_number: str = ""
    status_callback: str | None = None
    sid: str = field(default_factory=lambda: "SM" + uuid.uuid4().hex)


class SmsSendError(Exception):
    """The provider refused the message; the text says why (stored on the Message)."""


class BaseBackend:
    def __init__(self, *, fail_silently: bool = False) -> None:
        self.fail_silently = fail_silently

    def send(self, message: SmsMessage) -> str:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def send(self, message: SmsMessage) -> str:
        sys.stdout.write(f"SMS {message.sid} to {message.to} from {message.from_number}:\n")
        sys.stdout.write(f"{message.body}\n{'-' * 60}\n")
        sys.stdout.flush()
        return message.sid


class LocmemBackend(BaseBackend):
    def send(self, message: SmsMessage) -> str:
        outbox.append(message)
        return message.sid


class TwilioBackend(BaseBackend):
    """Twilio's Programmable Messaging through the twilio package's REST client.

    TWILIO_FROM_NUMBER is a number (E.164) or a Messaging Service SID ("MG…").
    TWILIO_API_BASE (empty in production) points the client's HTTP calls elsewhere: tests
    run a local HTTP server there, so no test ever reaches the internet."""

    def __init__(self, *, fail_silently: bool = False) -> None:
        super().__init__(fail_silently=fail_silently)
        if not settings.TWILIO_ACCOUNT_SID or not settings.TWILIO_AUTH_TOKEN:
            raise SmsSendError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set")
        from twilio.rest import Client

        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=_http_client(settings.TWILIO_API_BASE),
        )

    def send(self, message: SmsMessage) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        kwargs: dict = {"to": message.to, "body": message.body}
        sender = message.from_number or settings.TWILIO_FROM_NUMBER
        if sender.startswith("MG"):
            kwargs["messaging_service_sid"] = sender
        else:
            kwargs["from_"] = sender
        if message.status_callback:
            kwargs["status_callback"] = message.status_callback
        try:
            created = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            raise SmsSendError(
                f"Twilio refused the message ({exc.status}, code {exc.code}): {exc.msg}"
            )
        except (TwilioException, OSError) as exc:
            raise SmsSendError(f"Twilio could not be reached: {exc}")
        return created.sid


def _http_client(base: str):
    from twilio.http.http_client import TwilioHttpClient

    if not base:
        return TwilioHttpClient(timeout=15)
    base = base.rstrip("/")

    class RebasedHttpClient(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            parts = urlsplit(url)
            return super().request(method, f"{base}{parts.path}", *args, **kwargs)

    return RebasedHttpClient(timeout=15)


def get_backend(path: str | None = None, **kwargs) -> BaseBackend:
    return import_string(path or settings.SMS_BACKEND)(**kwargs)


def send_sms(*, to: str, body: str, status_callback: str | None = None) -> str:
    """Send one text through the configured backend; raise SmsSendError when it is refused."""
    if not to:
        raise SmsSendError("no phone number")
    if not body.strip():
        raise SmsSendError("empty message")
    message = SmsMessage(
        to=to,
        body=body,
        from_number=settings.TWILIO_FROM_NUMBER,
        status_callback=status_callback,
    )
    return get_backend().send(message)
