"""DKIM (RFC 6376): key generation, the DNS record to publish, and signing with dkimpy."""

import base64
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dkim  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from mailwright.core.errors import InvalidInput

# h= of every signature: the headers a receiver shows or acts on, List-Unsubscribe* included so that
# nobody on the way can swap the one-click unsubscribe target (Gmail and Yahoo require it signed).
SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"Reply-To",
    b"List-Id",
    b"Feedback-ID",
    b"MIME-Version",
    b"Content-Type",
)
_HASHES: dict[str, hashes.HashAlgorithm] = {"sha256": hashes.SHA256(), "sha1": hashes.SHA1()}


@functools.lru_cache(maxsize=16)
def _openssl_key(
    n: int, e: int, d: int, p: int, q: int, dmp1: int, dmq1: int, iqmp: int
) -> rsa.RSAPrivateKey:
    numbers = rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, rsa.RSAPublicNumbers(e, n))
    return numbers.private_key()


def _openssl_rsassa_sign(hash_object: Any, private_key: dict[str, int]) -> bytes:
    """dkimpy's RSASSA-PKCS1-v1_5 signature step, computed by OpenSSL through `cryptography`.

    dkimpy signs with Python integers (`pow` with CRT), about 7 ms per RSA-2048 signature here; OpenSSL
    takes a tenth of that. PKCS#1 v1.5 signatures are deterministic, so the bytes are the same either way
    (a test compares them); everything else (canonicalization, the header, h=) stays dkimpy's.
    """
    algorithm = _HASHES[hash_object.name]
    key = _openssl_key(
        private_key["modulus"],
        private_key["publicExponent"],
        private_key["privateExponent"],
        private_key["prime1"],
        private_key["prime2"],
        private_key["exponent1"],
        private_key["exponent2"],
        private_key["coefficient"],
    )
    return key.sign(hash_object.digest(), padding.PKCS1v15(), Prehashed(algorithm))


# dkimpy has no pluggable RSA backend: its module-level signing function is the one seam it offers.
PURE_PYTHON_RSASSA_SIGN = dkim.RSASSA_PKCS1_v1_5_sign
dkim.RSASSA_PKCS1_v1_5_sign = _openssl_rsassa_sign


@dataclass(frozen=True)
class DkimKey:
    """A loaded signing key with its selector and domain."""

    selector: str
    domain: str
    private_pem: bytes


def sign(message: bytes, key: DkimKey) -> bytes:
    """The message with a DKIM-Signature header (rsa-sha256, relaxed/relaxed) in front of it."""
    present = {
        line.split(b":", 1)[0].strip().lower() for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    }
    headers = [h for h in SIGNED_HEADERS if h.lower() in present]
    signature = dkim.sign(
        message,
        key.selector.encode("ascii"),
        key.domain.encode("ascii"),
        key.private_pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=headers,
        linesep=b"\r\n",
    )
    return bytes(signature) + message


def load_key(selector: str, domain: str, path: Path) -> DkimKey:
    """Read a PEM private key; InvalidInput naming the setting when it is missing or not a key."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read the DKIM key {path}: {exc.strerror}", field="dkim_private_key_file"
        ) from exc
    if b"PRIVATE KEY" not in pem:
        raise InvalidInput(f"{path} is not a PEM private key", field="dkim_private_key_file")
    return DkimKey(selector=selector, domain=domain, private_pem=pem)


# --- key generation ---------------------------------------------------------------------------------


def generate_key(bits: int = 2048) -> tuple[bytes, bytes]:
    """A new RSA key: (PKCS#1 private key PEM, SubjectPublicKeyInfo DER for the DNS record)."""
    if bits < 1024 or bits % 2:
        raise InvalidInput("a DKIM key needs at least 1024 bits", field="bits")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem, _public_der(key)


def _public_der(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_rsa(private_pem: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(private_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a readable PEM private key: {exc}", field="dkim_private_key_file") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidInput("the DKIM key must be an RSA key", field="dkim_private_key_file")
    return key


def public_key_der(private_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo DER of a PKCS#1 or PKCS#8 RSA private key (for the DNS record)."""
    return _public_der(_load_rsa(private_pem))


def dns_txt_value(public_der: bytes) -> str:
    """The TXT record's value: v=DKIM1; k=rsa; p=<base64 public key>."""
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public_der).decode('ascii')}"


def dns_record(selector: str, domain: str, public_der: bytes) -> str:
    """The whole record as a zone file line."""
    return f'{selector}._domainkey.{domain}. IN TXT "{dns_txt_value(public_der)}"'


def write_private_key(path: Path, pem: bytes) -> None:
    """Write a key readable by its owner only (0600), refusing to overwrite an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InvalidInput(f"{path} exists already; move it away first", field="out") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
