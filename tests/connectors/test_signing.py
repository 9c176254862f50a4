"""Signatures, as invariants: what Mailwright signs verifies, and any change to the body or time does not."""

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailwright.connectors.common import verify_base64_hmac
from mailwright.connectors.webhooks import signing
from mailwright.core.errors import Unauthorized

secrets = st.text(min_size=1, max_size=64).filter(lambda s: s.strip() != "")


@given(body=st.binary(max_size=2048), secret=secrets, ts=st.integers(0, 2**33), flip=st.integers(0, 2047))
def test_outbound_signature_verifies_and_any_changed_byte_fails(
    body: bytes, secret: str, ts: int, flip: int
) -> None:
    header = signing.sign(body, secret, ts)
    signing.verify(body, header, secret, now=ts)
    if body:
        i = flip % len(body)
        changed = body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]
        with pytest.raises(Unauthorized):
            signing.verify(changed, header, secret, now=ts)
    # The timestamp is signed too: moving it (to dodge the replay window) breaks the signature.
    forged = header.replace(f"t={ts},", f"t={ts + 1},")
    with pytest.raises(Unauthorized):
        signing.verify(body, forged, secret, now=ts + 1)


@given(body=st.binary(max_size=2048), secret=secrets, other=secrets)
def test_woocommerce_signature_needs_the_right_secret(body: bytes, secret: str, other: str) -> None:
    header = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    verify_base64_hmac(body, header, secret, "X-WC-Webhook-Signature")
    if other != secret:
        with pytest.raises(Unauthorized):
            verify_base64_hmac(body, header, other, "X-WC-Webhook-Signature")
