import pytest

from campaigns import sms


def test_locmem_backend_keeps_the_text_and_returns_its_sid(settings):
    sms.outbox.clear()
    sid = sms.send_sms(to="+15125550100", body="Hello", status_callback="https://x/cb")
    assert [m.sid for m in sms.outbox] == [sid]
    assert sms.outbox[0].to == "+15125550100" and sms.outbox[0].status_callback == "https://x/cb"


def test_console_backend_prints(settings, capsys):
    settings.SMS_BACKEND = "campaigns.sms.ConsoleBackend"
    sid = sms.send_sms(to="+15125550100", body="Hi there")
    assert sid in capsys.readouterr().out


@pytest.mark.parametrize(("to", "body"), [("", "Hello"), ("+15125550100", "  ")])
def test_refuses_a_text_without_number_or_body(to, body):
    with pytest.raises(sms.SmsSendError):
        sms.send_sms(to=to, body=body)
