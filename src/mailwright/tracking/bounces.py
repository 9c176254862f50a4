"""Reading bounces and complaints: RFC 3464 delivery reports, RFC 5965 (ARF) feedback reports, VERP.

The VERP address the report is sent to (`bounce+<public id>@<bounce domain>`) names the message for
sure; when it is missing (a report forwarded by hand, an ARF report sent to the abuse address), the
original message's headers inside the report (its Message-ID, whose local part is the public id, its
Return-Path, Mailwright's X- headers) are the fallback. Status codes come from the delivery report's
per-recipient fields; reports without them (old Exim or qmail texts) fall back to `flufl.bounce`,
which tells permanent from temporary failures, and to codes found in the diagnostic text.

Classification (by the enhanced status code, RFC 3463):
  5.7.x  -> sender  (authentication, reputation, policy: the sender's problem, never the recipient's)
  5.2.2  -> soft    (mailbox full: it may empty)
  5.x.x  -> hard
  4.x.x  -> soft
Only `Action: failed` recipients are bounces; `delayed`, `delivered`, `relayed` and `expanded` are notices.
"""

import email
import email.policy
import hashlib
import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

log = logging.getLogger(__name__)
VERP_RE = re.compile(r"^(bounce|unsubscribe)\+([A-Za-z0-9_-]{4,32})@", re.IGNORECASE)
# An enhanced status code standing alone (never part of an IP address such as 10.2.5.100).
STATUS_RE = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?![\w.]*\d)")
SMTP_CODE_RE = re.compile(r"\b([45])\d\d[ -]")
MESSAGE_ID_RE = re.compile(r"<([A-Za-z0-9_-]{4,32})@[^>]+>")
ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "other"})
FAILED_ACTIONS = frozenset({"failed"})


@dataclass(frozen=True)
class Failure:
    """One recipient a delivery report says failed, and what kind of bounce that is."""

    recipient: str | None
    kind: str  # hard | soft | sender
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True)
class Report:
    """What an inbound message is, and the message it is about."""

    kind: str  # dsn | arf | unsubscribe | other
    report_id: str
    # Candidates for the outbox public id, most reliable first (VERP, then the original's headers).
    public_ids: tuple[str, ...]
    failures: tuple[Failure, ...] = ()
    feedback_type: str | None = None
    # The complaint's original recipient (ARF Original-Rcpt-To / Removal-Recipient).
    complainant: str | None = None
    # The sender of the report (a mailto unsubscribe: the person asking).
    sender: str | None = None


def classify(status: str | None, *, permanent: bool = True) -> str:
    """hard, soft or sender for an enhanced status code (RFC 3463); `permanent` decides when there is none."""
    if status:
        match = STATUS_RE.search(status)
        if match:
            klass, subject, detail = match.groups()
            if klass == "5" and subject == "7":
                return "sender"
            if klass == "5" and subject == "2" and detail == "2":
                return "soft"
            if klass == "5":
                return "hard"
            if klass == "4":
                return "soft"
    return "hard" if permanent else "soft"


def parse_bytes(raw: bytes) -> Message:
    """A message from raw bytes (CRLF or LF)."""
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def parse(raw: bytes, *, envelope_recipients: tuple[str, ...] = ()) -> Report:
    """Read a report: its kind, the message it is about and, for a DSN, each failed recipient."""
    msg = parse_bytes(raw)
    report_id = _report_id(msg, raw)
    verp_kind, verp_ids = _verp(msg, envelope_recipients)
    sender = parseaddr(str(msg.get("From", "")))[1] or None
    content_type = msg.get_content_type()
    report_type = (msg.get_param("report-type") or "").__str__().lower()
    if verp_kind == "unsubscribe":
        return Report(kind="unsubscribe", report_id=report_id, public_ids=verp_ids, sender=sender)
    if content_type == "multipart/report" and report_type == "feedback-report":
        fields, original = _arf_parts(msg)
        ids = _unique(
            verp_ids + _original_ids(original) + _ids_from_addresses(fields.get("original-mail-from"))
        )
        return Report(
            kind="arf",
            report_id=report_id,
            public_ids=ids,
            feedback_type=(fields.get("feedback-type") or "abuse").strip().lower(),
            complainant=_bare(fields.get("original-rcpt-to") or fields.get("removal-recipient")),
            sender=sender,
        )
    failures = _dsn_failures(msg) if content_type == "multipart/report" else []
    if not failures:
        failures = _heuristic_failures(msg)
    if not failures:
        return Report(kind="other", report_id=report_id, public_ids=verp_ids, sender=sender)
    ids = _unique(verp_ids + _original_ids(_original_part(msg)))
    return Report(kind="dsn", report_id=report_id, public_ids=ids, failures=tuple(failures), sender=sender)


def _report_id(msg: Message, raw: bytes) -> str:
    message_id = str(msg.get("Message-ID", "")).strip()
    basis = message_id.encode() if message_id else raw
    return hashlib.sha256(basis).hexdigest()[:40]


def _verp(msg: Message, envelope: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    addresses = list(envelope)
    for header in ADDRESS_HEADERS:
        addresses.extend(address for _, address in getaddresses([str(v) for v in msg.get_all(header, [])]))
    kind: str | None = None
    ids: list[str] = []
    for address in addresses:
        match = VERP_RE.match(address.strip().strip("<>"))
        if match:
            kind = kind or match.group(1).lower()
            ids.append(match.group(2))
    return kind, _unique(tuple(ids))


def _ids_from_addresses(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = []
    for _, address in getaddresses([value]):
        match = VERP_RE.match(address.strip().strip("<>"))
        if match:
            found.append(match.group(2))
    return tuple(found)


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _bare(value: str | None) -> str | None:
    if not value:
        return None
    text = value.split(";", 1)[1] if ";" in value and value.lower().startswith("rfc822") else value
    address = parseaddr(text.strip())[1] or text.strip().strip("<>")
    return address or None


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The header blocks of a message/delivery-status or message/feedback-report part, lower-cased names."""
    payload = part.get_payload()
    blocks: list[Message] = []
    if isinstance(payload, list):
        blocks = [p for p in payload if isinstance(p, Message)]
    elif isinstance(payload, str):
        text = payload.replace("\r\n", "\n")
        blocks = [HeaderParser().parsestr(chunk) for chunk in re.split(r"\n\s*\n", text) if chunk.strip()]
    return [{k.lower(): " ".join(str(v).split()) for k, v in block.items()} for block in blocks]


def _dsn_failures(msg: Message) -> list[Failure]:
    failures: list[Failure] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _field_blocks(part):
            if "final-recipient" not in block and "original-recipient" not in block:
                continue  # the per-message block (Reporting-MTA, Arrival-Date)
            action = (block.get("action") or "failed").lower()
            if action not in FAILED_ACTIONS:
                continue
            status = _status(
                block.get("status"), block.get("diagnostic-code") or block.get("x-exim-diagnostic")
            )
            diagnostic = block.get("diagnostic-code")
            failures.append(
                Failure(
                    recipient=_bare(block.get("original-recipient") or block.get("final-recipient")),
                    kind=classify(status, permanent=True),
                    status=status,
                    diagnostic=diagnostic,
                )
            )
    return failures


def _status(field: str | None, diagnostic: str | None) -> str | None:
    """The enhanced status code: the Status field's, or the diagnostic's when that one is more specific.

    Exim writes a generic `Status: 5.0.0` and puts the server's real code (5.1.1, 5.2.2, 5.7.1) in the
    Diagnostic-Code; a generic code must not hide a mailbox-full or a sender-side block.
    """
    found = STATUS_RE.search(field or "")
    code = found.group(0) if found else None
    detail = STATUS_RE.search(diagnostic or "")
    if detail and (code is None or (code.endswith(".0.0") and detail.group(1) == code[0])):
        return detail.group(0)
    return code


def _heuristic_failures(msg: Message) -> list[Failure]:
    """Reports that are not RFC 3464 (plain-text Exim/qmail bounces): flufl.bounce finds the recipients."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # flufl's heuristic detectors index into headers a damaged report lacks
        log.warning("flufl.bounce could not read a report", exc_info=True)
        return []
    text = _plain_text(msg)
    found = STATUS_RE.search(text)
    status = found.group(0) if found else None
    diagnostic = None
    if status is None:
        code = SMTP_CODE_RE.search(text)
        if code:
            status = f"{code.group(1)}.0.0"
    for line in text.splitlines():
        if status and status.split(".")[0] in line and any(ch.isdigit() for ch in line):
            diagnostic = line.strip()[:500]
            break
    failures = []
    for recipients, permanent_flag in ((permanent, True), (temporary, False)):
        for recipient in sorted(recipients):
            address = recipient.decode("utf-8", "replace") if isinstance(recipient, bytes) else str(recipient)
            kind = classify(status, permanent=permanent_flag)
            if not permanent_flag and kind == "hard":
                kind = "soft"
            failures.append(Failure(recipient=address, kind=kind, status=status, diagnostic=diagnostic))
    return failures


def _plain_text(msg: Message) -> str:
    chunks = []
    for part in msg.walk():
        if part.get_content_maintype() == "text" and part.get_content_subtype() in ("plain", "html"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                chunks.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(chunks)


def _original_part(msg: Message) -> Message | None:
    """The returned original (message/rfc822) or its headers (text/rfc822-headers), if included."""
    for part in msg.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if content_type in ("text/rfc822-headers", "text/rfc822-header"):
            payload = part.get_payload(decode=True)
            text = (
                payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(part.get_payload())
            )
            return HeaderParser().parsestr(text)
    return None


def _arf_parts(msg: Message) -> tuple[dict[str, str], Message | None]:
    fields: dict[str, str] = {}
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            for block in _field_blocks(part):
                fields.update(block)
    return fields, _original_part(msg)


def _original_ids(original: Message | None) -> tuple[str, ...]:
    """Public-id candidates in the original message's headers: X-Mailwright-*, Return-Path, Message-ID."""
    if original is None:
        return ()
    ids: list[str] = []
    for name, value in original.items():
        if name.lower().startswith("x-mailwright"):
            token = str(value).strip().strip("<>")
            if re.fullmatch(r"[A-Za-z0-9_-]{4,32}", token):
                ids.append(token)
    ids.extend(_ids_from_addresses(str(original.get("Return-Path", "")) or None))
    match = MESSAGE_ID_RE.search(str(original.get("Message-ID", "")))
    if match:
        ids.append(match.group(1))
    return tuple(ids)
