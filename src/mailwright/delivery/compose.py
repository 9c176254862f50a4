"""Building one message: signed links, tracked URLs, the open pixel, RFC 5322 headers, DKIM."""

import binascii
import html
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mailwright.core.settings import Settings
from mailwright.delivery import signing, tokens
from mailwright.templates.context import message_context

# render_many takes one link rewriter for a whole batch, but each message needs its own click tokens:
# the rewriter hands out numbered placeholders, and each message's placeholders are then replaced by its
# own signed URLs (numbered again from 0 in the order they appear, which is the order of `links`).
_PLACEHOLDER_HOST = "mailwright-link.invalid"
_PLACEHOLDER = re.compile(rf"https://{re.escape(_PLACEHOLDER_HOST)}/(\d+)")


# The MIME structure is written here directly: a multipart/alternative of two quoted-printable text
# parts, bodies encoded by binascii (C) and headers by the email package's helpers (RFC 2047 words,
# addresses, dates). The email package's generator costs several milliseconds per 20 KB message (it
# re-parses every header and re-splits every body line), more than rendering and SMTP together, and this
# runs once per email sent; the tests parse every message back with the email package. Headers are not
# folded (RFC 5322 allows 998 characters): folding a long List-Unsubscribe would turn it into encoded
# words, which mail clients do not read as URLs.
_CRLF = b"\r\n"


def _encoded(value: str) -> str:
    """A header value, as RFC 2047 encoded words when it is not plain ASCII."""
    clean = " ".join(value.split())  # a header value is one line, whatever the data held
    if clean.isascii():
        return clean
    return Header(clean, "utf-8").encode(linesep="\r\n")


def _qp(body: str) -> bytes:
    lines = body.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(lines).replace(b"\n", _CRLF)


def _mime_alternative(text: str, body_html: str) -> tuple[str, bytes]:
    """(the Content-Type header value, the body) of a multipart/alternative text + HTML message."""
    boundary = f"=_mw_{secrets.token_hex(12)}"
    parts = []
    for subtype, body in (("plain", text), ("html", body_html)):
        parts.append(
            b"--"
            + boundary.encode()
            + _CRLF
            + f'Content-Type: text/{subtype}; charset="utf-8"'.encode()
            + _CRLF
            + b"Content-Transfer-Encoding: quoted-printable"
            + _CRLF
            + _CRLF
            + _qp(body)
            + _CRLF
        )
    closing = b"--" + boundary.encode() + b"--" + _CRLF
    return f'multipart/alternative; boundary="{boundary}"', b"".join(parts) + closing


def verp_address(public_id: str, settings: Settings) -> str:
    """The envelope sender: bounces come back to bounce+<public id>@<bounce domain>."""
    return f"bounce+{public_id}@{settings.bounce_domain}"


@dataclass(frozen=True)
class MessageLinks:
    """The signed URLs of one message."""

    open_url: str
    view_url: str
    unsubscribe_url: str
    preferences_url: str
    unsubscribe_mailto: str

    def template_message(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The template's `message` variable: these links, plus what the caller queued with the message."""
        base = message_context(
            unsubscribe_url=self.unsubscribe_url,
            preferences_url=self.preferences_url,
            view_in_browser_url=self.view_url,
        )
        return {**base, **(extra or {})}


def message_links(key: bytes, settings: Settings, public_id: str, contact_id: int) -> MessageLinks:
    """Sign the open, view, unsubscribe and preference links of one message."""
    base = settings.public_url.rstrip("/")
    return MessageLinks(
        open_url=f"{base}/t/o/{tokens.open_token(key, public_id)}.gif",
        view_url=f"{base}/t/v/{tokens.view_token(key, public_id)}",
        unsubscribe_url=f"{base}/u/{tokens.unsubscribe_token(key, contact_id, public_id)}",
        preferences_url=f"{base}/preferences/{tokens.preferences_token(key, contact_id)}",
        unsubscribe_mailto=f"unsubscribe+{public_id}@{settings.bounce_domain}",
    )


@dataclass
class LinkCollector:
    """The batch-wide link rewriter handed to the renderer (see the placeholder note above)."""

    # The messages' own links (unsubscribe, preferences, view, a confirmation URL ...): never tracked.
    own_urls: set[str] = field(default_factory=set)
    urls: list[str] = field(default_factory=list)

    def keep(self, message: dict[str, Any]) -> dict[str, Any]:
        """Note the URLs of a template `message` variable as links to leave alone; returns it."""
        self.own_urls.update(v for v in message.values() if isinstance(v, str) and v.startswith("http"))
        return message

    def __call__(self, url: str) -> str:
        """A placeholder for a tracked URL; the message's own links stay as they are."""
        plain = html.unescape(url)
        if plain in self.own_urls:
            return url
        self.urls.append(plain)
        return f"https://{_PLACEHOLDER_HOST}/{len(self.urls) - 1}"


def with_utm(url: str, settings: Settings, campaign: str) -> str:
    """Add the configured UTM parameters to a URL, keeping any the URL already has."""
    if not settings.utm_source:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    for name, value in (
        ("utm_source", settings.utm_source),
        ("utm_medium", settings.utm_medium),
        ("utm_campaign", campaign),
    ):
        if value and name not in present:
            query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def track_links(
    body: str, collector: LinkCollector, key: bytes, settings: Settings, public_id: str, campaign: str
) -> tuple[str, list[str]]:
    """Replace this message's placeholders by signed click URLs; returns the HTML and `links` in order."""
    order: dict[int, int] = {}
    links: list[str] = []
    base = settings.public_url.rstrip("/")

    def replace(match: re.Match[str]) -> str:
        global_index = int(match.group(1))
        index = order.get(global_index)
        if index is None:
            index = order[global_index] = len(links)
            links.append(with_utm(collector.urls[global_index], settings, campaign))
        return f"{base}/t/c/{tokens.click_token(key, public_id, index)}"

    return _PLACEHOLDER.sub(replace, body), links


def add_pixel(body: str, open_url: str) -> str:
    """Put the open pixel just before </body> (or at the end)."""
    pixel = (
        f'<img src="{open_url}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px;" />'
    )
    at = body.rfind("</body>")
    return body + pixel if at < 0 else body[:at] + pixel + body[at:]


@dataclass(frozen=True)
class Envelope:
    """A finished message: who it is from on the envelope, to whom, and the signed bytes."""

    envelope_from: str
    recipient: str
    data: bytes


def _feedback_part(value: str) -> str:
    return value.replace(":", "-")[:60]


def build_message(
    *,
    settings: Settings,
    public_id: str,
    to_address: str,
    to_name: str | None,
    subject: str,
    text: str,
    body_html: str,
    links: MessageLinks,
    now: datetime,
    template_name: str,
    category: str,
    source_id: str | None,
    dkim_key: signing.DkimKey | None,
) -> Envelope:
    """An RFC 5322 multipart/alternative message with the bulk-sender headers, DKIM-signed when a key is set."""
    domain = settings.from_address.rsplit("@", 1)[-1]
    content_type, body = _mime_alternative(text, body_html)
    headers = [
        ("From", formataddr((" ".join(settings.from_name.split()), settings.from_address), charset="utf-8")),
        ("To", formataddr((to_name, to_address), charset="utf-8") if to_name else to_address),
        ("Subject", _encoded(subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", f"<{public_id}@{domain}>"),
    ]
    if settings.reply_to:
        headers.append(("Reply-To", settings.reply_to))
    headers += [
        ("List-Unsubscribe", f"<{links.unsubscribe_url}>, <mailto:{links.unsubscribe_mailto}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("List-Id", f"{_encoded(settings.shop_name)} <{settings.list_id}>"),
        # Gmail's Feedback-ID: campaign : customer-facing kind : mail type : sender, complaint rates per part.
        (
            "Feedback-ID",
            ":".join(
                _feedback_part(p)
                for p in (source_id or template_name, template_name, category, settings.list_id)
            ),
        ),
        ("MIME-Version", "1.0"),
        ("Content-Type", content_type),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    if "\n" in head.replace("\r\n", "") or not head.isascii():
        raise ValueError("a header value holds a line break or non-ASCII characters")
    data = head.encode("ascii") + _CRLF + body
    if dkim_key is not None:
        data = signing.sign(data, dkim_key, now=now)
    return Envelope(verp_address(public_id, settings), to_address, data)
