"""DKIM signing: byte for byte what dkimpy signs, it verifies, and a changed message no longer does."""

import re
from datetime import UTC, datetime

import dkim  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.delivery.conftest import dns_answer

from mailwright.core.errors import InvalidInput
from mailwright.delivery import signing

MESSAGE = (
    b"From: News <news@shop.test>\r\nTo: ann@example.com\r\nSubject: Hello\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <abc@shop.test>\r\n"
    b"List-Unsubscribe: <https://shop.test/u/x>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nHi Ann,\r\nour news.\r\n"
)
# What relaxed canonicalization must get right: folded and repeated headers, tabs, runs of spaces,
# trailing spaces, empty lines at the end, and a header that is not signed.
AWKWARD = (
    b"From:  News \t<news@shop.test> \r\nTo: ann@example.com\r\nSubject: A long\r\n\tfolded  subject\r\n"
    b"X-Other: not signed\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nSubject: the second one\r\n"
    b"Content-Type: text/html\r\n\r\n<p>  indented \t text</p>   \r\n\tx\r\n<b>bold</b>\r\n\r\n\r\n"
)
SIGNED_AT = datetime(2026, 11, 23, 10, 0, 7, tzinfo=UTC)


def _dkimpy(message: bytes, key: signing.DkimKey, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """dkimpy's own signature of the message, with its clock held at SIGNED_AT."""
    monkeypatch.setattr(dkim.time, "time", lambda: SIGNED_AT.timestamp())
    present = {line.split(b":", 1)[0].lower() for line in message.split(b"\r\n\r\n")[0].split(b"\r\n")}
    header = dkim.sign(
        message,
        key.selector.encode(),
        key.domain.encode(),
        key.private_pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[h for h in signing.SIGNED_HEADERS if h.lower() in present],
        linesep=b"\r\n",
    )
    return bytes(header) + message


@pytest.mark.parametrize("bits", [1024, 2048])
@pytest.mark.parametrize("message", [MESSAGE, AWKWARD], ids=["plain", "awkward"])
def test_signature_is_dkimpys_own_and_verifies(
    bits: int, message: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem, public = signing.generate_key(bits)
    assert signing.public_key_der(pem) == public
    key = signing.DkimKey("s1", "shop.test", pem)
    signed = signing.sign(message, key, now=SIGNED_AT)
    assert signed == _dkimpy(message, key, monkeypatch)
    assert signed.endswith(message)
    assert dkim.verify(signed, dnsfunc=dns_answer(pem))
    unfolded = signed.split(b"\r\n\r\n", 1)[0].replace(b"\r\n\t", b"").replace(b"\r\n ", b"")
    assert re.search(rb"\bt=(\d+);", unfolded).group(1) == b"%d" % SIGNED_AT.timestamp()  # type: ignore[union-attr]
    signed_names = re.search(rb"\bh=([^;]+)", unfolded)
    assert signed_names is not None
    names = {name.strip().lower() for name in signed_names.group(1).split(b":")}
    if message is MESSAGE:
        required = {b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe"}
        assert required | {b"list-unsubscribe-post"} <= names
    # A changed body or a changed signed header no longer verifies.
    assert not dkim.verify(signed.replace(b"ann@", b"bob@"), dnsfunc=dns_answer(pem))
    body_word = b"our news" if message is MESSAGE else b"bold"
    assert not dkim.verify(signed.replace(body_word, body_word.upper()), dnsfunc=dns_answer(pem))


def test_relaxed_body_matches_dkimpys_canonicalization() -> None:
    policy = dkim.CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    for body in (b"", b"\r\n", b"\r\n\r\n", b"x", b"x  \r\n", b" a\t\tb \r\n\r\nc\r\n\r\n", b"a\r\n \r\n"):
        assert signing.relaxed_body(body) == policy.canonicalize_body(body), body


@given(st.lists(st.sampled_from([b"a", b"b", b" ", b"\t", b"\r\n", b"\r", b"\n"]), max_size=40))
def test_relaxed_body_matches_dkimpy_on_any_mix_of_whitespace_and_line_ends(parts: list[bytes]) -> None:
    body = b"".join(parts)
    policy = dkim.CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    assert signing.relaxed_body(body) == policy.canonicalize_body(body)


def test_a_message_without_a_body_separator_is_refused() -> None:
    key = signing.DkimKey("s1", "shop.test", signing.generate_key(1024)[0])
    with pytest.raises(ValueError, match="blank line"):
        signing.sign(b"From: a@shop.test\r\nTo: b@example.org\r\n", key, now=SIGNED_AT)


def test_bad_key_files_are_refused_naming_the_setting() -> None:
    with pytest.raises(InvalidInput) as refused:
        signing.public_key_der(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    assert refused.value.field == "dkim_private_key_file"
    with pytest.raises(InvalidInput):
        signing.generate_key(512)
