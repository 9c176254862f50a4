"""DKIM keys from `cryptography`, signatures through OpenSSL: the same bytes dkimpy computes, and they verify."""

import re

import dkim  # type: ignore[import-untyped]
import pytest
from tests.delivery.conftest import dns_answer

from mailwright.core.errors import InvalidInput
from mailwright.delivery import signing

MESSAGE = (
    b"From: News <news@shop.test>\r\nTo: ann@example.com\r\nSubject: Hello\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <abc@shop.test>\r\n"
    b"List-Unsubscribe: <https://shop.test/u/x>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nHi Ann,\r\nour news.\r\n"
)


@pytest.mark.parametrize("bits", [1024, 2048])
def test_openssl_signature_is_dkimpys_own_and_verifies(bits: int, monkeypatch: pytest.MonkeyPatch) -> None:
    pem, public = signing.generate_key(bits)
    assert signing.public_key_der(pem) == public
    key = signing.DkimKey("s1", "shop.test", pem)
    # dkimpy stamps t= from the wall clock: hold it still so both signatures sign the same header.
    monkeypatch.setattr(dkim.time, "time", lambda: 1_795_000_000.0)
    fast = signing.sign(MESSAGE, key)
    monkeypatch.setattr(dkim, "RSASSA_PKCS1_v1_5_sign", signing.PURE_PYTHON_RSASSA_SIGN)
    slow = signing.sign(MESSAGE, key)
    assert fast == slow
    assert dkim.verify(fast, dnsfunc=dns_answer(pem))
    unfolded = fast.split(b"\r\n\r\n", 1)[0].replace(b"\r\n\t", b"").replace(b"\r\n ", b"")
    signed = re.search(rb"\bh=([^;]+)", unfolded)
    assert signed is not None
    names = {name.strip().lower() for name in signed.group(1).split(b":")}
    required = {
        b"from",
        b"to",
        b"subject",
        b"date",
        b"message-id",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
    }
    assert required <= names
    # A changed body no longer verifies.
    assert not dkim.verify(fast.replace(b"our news", b"our NEWS"), dnsfunc=dns_answer(pem))


def test_bad_key_files_are_refused_naming_the_setting() -> None:
    with pytest.raises(InvalidInput) as refused:
        signing.public_key_der(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    assert refused.value.field == "dkim_private_key_file"
    with pytest.raises(InvalidInput):
        signing.generate_key(512)
