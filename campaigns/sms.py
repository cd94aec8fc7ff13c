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
