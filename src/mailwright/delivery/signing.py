"""DKIM (RFC 6376): key generation, the DNS record to publish, and signing with dkimpy."""

import base64
import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import dkim  # type: ignore[import-untyped]

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
_PUBLIC_EXPONENT = 65537
_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, math.isqrt(p) + 1, 2))]


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
# Plain RSA with the standard library: the project has no cryptography dependency, and a key is made
# once per installation (a second or two for 2048 bits).


def _probable_prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if any(candidate % p == 0 for p in _SMALL_PRIMES):
            continue
        if candidate % _PUBLIC_EXPONENT == 1:
            continue
        if _miller_rabin(candidate, 40):
            return candidate


def _miller_rabin(n: int, rounds: int) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        a = secrets.randbelow(n - 3) + 2
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading zero keeps it positive
    return _der(0x02, raw)


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"\n".join([f"-----BEGIN {label}-----".encode(), *lines, f"-----END {label}-----".encode(), b""])


_RSA_ALGORITHM = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + _der(0x05, b""))


def generate_key(bits: int = 2048) -> tuple[bytes, bytes]:
    """A new RSA key: (PKCS#1 private key PEM, SubjectPublicKeyInfo DER for the DNS record)."""
    if bits < 1024 or bits % 2:
        raise InvalidInput("a DKIM key needs at least 1024 bits", field="bits")
    while True:
        p, q = _probable_prime(bits // 2), _probable_prime(bits // 2)
        n = p * q
        if p != q and n.bit_length() == bits:
            break
    if p < q:
        p, q = q, p
    phi = (p - 1) * (q - 1)
    d = pow(_PUBLIC_EXPONENT, -1, phi)
    private = _der(
        0x30,
        b"".join(
            _der_int(v) for v in (0, n, _PUBLIC_EXPONENT, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p))
        ),
    )
    rsa_public = _der(0x30, _der_int(n) + _der_int(_PUBLIC_EXPONENT))
    public_info = _der(0x30, _RSA_ALGORITHM + _der(0x03, b"\x00" + rsa_public))
    return _pem("RSA PRIVATE KEY", private), public_info


def public_key_der(private_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo DER of a PKCS#1 or PKCS#8 RSA private key (for the DNS record)."""
    parsed = dkim.crypto.parse_pem_private_key(private_pem)
    rsa_public = _der(0x30, _der_int(parsed["modulus"]) + _der_int(parsed["publicExponent"]))
    return _der(0x30, _RSA_ALGORITHM + _der(0x03, b"\x00" + rsa_public))


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
