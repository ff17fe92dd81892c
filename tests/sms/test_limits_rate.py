"""The send rate is counted per backend and sender: Aliyun's texts do not use up Twilio's
slots, and each backend may have a rate of its own (SMS_BACKEND_RATES). On the app's
own rate-limit store: Redis when TEST_REDIS_URL is set, the in-process one otherwise."""

from __future__ import annotations

import uuid

import pytest

from volunteer_hub.config import from_environment
from volunteer_hub.sms import tasks
from volunteer_hub.sms.backends import sender_identity
from volunteer_hub.sms.gateway import TransientSmsError

CONFIG = {
    "TWILIO_FROM_NUMBER": "+15005550006",
    "ALIYUN_ACCESS_KEY_ID": "LTAIkey",
    "TENCENT_SMS_APP_ID": "1400000001",
    "SMS_SIGN_NAME": "退役军人志愿服务",
    "SMS_SIGNATURE": "【退役军人志愿服务】",
}


def test_each_backend_is_counted_by_who_it_sends_as():
    assert sender_identity(CONFIG, "twilio") == "+15005550006"
    assert sender_identity({**CONFIG, "TWILIO_MESSAGING_SERVICE_SID": "MG1"}, "twilio") == "MG1"
    assert sender_identity(CONFIG, "aliyun") == "LTAIkey:退役军人志愿服务"
    assert sender_identity(CONFIG, "tencent") == "1400000001:退役军人志愿服务"
    assert sender_identity({"SMS_SIGNATURE": "【签名】"}, "aliyun") == "-:签名"
    assert sender_identity(CONFIG, "console") == "-"


def test_a_backend_sends_at_its_own_rate_or_the_default():
    config = {"SMS_RATE_PER_SECOND": 10, "SMS_BACKEND_RATES": {"aliyun": 50}}
    assert tasks.send_rate(config, "aliyun") == 50
    assert tasks.send_rate(config, "twilio") == 10


def test_backend_rates_are_read_and_checked(tmp_path):
    config = from_environment(str(tmp_path), {"SMS_BACKEND_RATES": "Aliyun=50, tencent=20"})
    assert config["SMS_BACKEND_RATES"] == {"aliyun": 50, "tencent": 20}
    assert from_environment(str(tmp_path), {})["SMS_BACKEND_RATES"] == {}
    for bad in ("aliyun", "aliyun=0", "aliyun=fast", "=5"):
        with pytest.raises(ValueError, match="SMS_BACKEND_RATES"):
            from_environment(str(tmp_path), {"SMS_BACKEND_RATES": bad})


@pytest.fixture
def one_text_a_second(app, monkeypatch):
    """Every backend at one text per second (one slot per one-second slice), and no
    waiting for a free slot: a full bucket raises at once."""
    settings = {
        **CONFIG,
        "SMS_RATE_PER_SECOND": 1,
        "SMS_BACKEND_RATES": {},
        # buckets of this test only: the slots other tests took may share the slice
        "DRAMATIQ_NAMESPACE": f"rate-test-{uuid.uuid4().hex[:8]}",
    }
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setattr(tasks, "RATE_WAIT_SECONDS", -1)


def _bucket_is_full(backend: str, *, tries: int = 3) -> bool:
    """Take ``backend``'s slot, then try for another at once: refused if they share the
    slice. Tried a few times, since a slice may end between the two (and then the next
    try's first take may be the one refused: the slot taken just before fills it)."""
    for _ in range(tries):
        try:
            tasks._wait_for_send_slot(backend)
            tasks._wait_for_send_slot(backend)
        except TransientSmsError as exc:
            assert exc.code == "send-rate"
            return True
    return False


def test_one_backends_full_bucket_leaves_the_others_free(one_text_a_second):
    assert _bucket_is_full("aliyun")
    # taken at once, in the very slice aliyun's bucket is full: a bucket of its own
    tasks._wait_for_send_slot("twilio")
    tasks._wait_for_send_slot("tencent")


def test_two_aliyun_accounts_have_a_bucket_each(app, monkeypatch, one_text_a_second):
    assert _bucket_is_full("aliyun")
    monkeypatch.setitem(app.config, "ALIYUN_ACCESS_KEY_ID", "LTAIother")
    tasks._wait_for_send_slot("aliyun")


def test_without_a_backend_the_slot_is_sms_backends(app, monkeypatch, one_text_a_second):
    monkeypatch.setitem(app.config, "SMS_BACKEND", "tencent")
    monkeypatch.setitem(app.config, "SMS_ROUTES", None)
    assert _bucket_is_full("tencent")
    with pytest.raises(TransientSmsError):
        for _ in range(3):  # one of these lands in tencent's full slice
            tasks._wait_for_send_slot()
            tasks._wait_for_send_slot()
