"""Who is not a person: privacy proxies that fetch images, and scanners that follow every link.

Opens and clicks by these are still recorded, flagged `machine_open` / `bot`, so engagement figures
can leave them out. The lists are substrings of the User-Agent header, matched case-insensitively.
"""

from datetime import datetime, timedelta

# Image proxies that fetch the pixel for the recipient (or for everyone, on delivery):
# - Apple Mail Privacy Protection prefetches through Apple's proxy with a bare "Mozilla/5.0" (matched
#   exactly, below), no browser tokens at all;
# - Gmail caches images through "GoogleImageProxy" (…via ggpht.com GoogleImageProxy);
# - Yahoo/AOL through "YahooMailProxy"; Outlook.com/Office 365 prefetch through "Microsoft Office" agents
#   from its safe-links service, Mimecast, Proofpoint and Barracuda scan images and links on arrival.
PROXY_USER_AGENTS = (
    "googleimageproxy",
    "ggpht.com",
    "yahoomailproxy",
    "yahoo! slurp",
    "ymailproxy",
    "mimecast",
    "proofpoint",
    "barracuda",
    "symantec",
    "trendmicro",
    "messagelabs",
    "ironport",
)
APPLE_MPP_USER_AGENT = "mozilla/5.0"

# Link checkers and automated clients: security gateways, crawlers, command-line and library clients.
BOT_USER_AGENTS = (
    "bot",
    "spider",
    "crawl",
    "slurp",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "curl/",
    "wget/",
    "go-http-client",
    "java/",
    "libwww-perl",
    "okhttp",
    "mimecast",
    "proofpoint",
    "barracuda",
    "safelinks",
    "symantec",
    "trendmicro",
    "messagelabs",
    "ironport",
    "cisco",
    "fortinet",
    "sophos",
)


def is_proxy_agent(user_agent: str | None) -> bool:
    """Whether the User-Agent is a known image proxy or security scanner (not a person's mail client)."""
    agent = (user_agent or "").strip().lower()
    if not agent or agent == APPLE_MPP_USER_AGENT:
        return True
    return any(marker in agent for marker in PROXY_USER_AGENTS)


def is_bot_agent(user_agent: str | None) -> bool:
    """Whether the User-Agent is a link scanner, crawler or scripted client."""
    agent = (user_agent or "").strip().lower()
    if not agent:
        return True
    return any(marker in agent for marker in BOT_USER_AGENTS)


def too_soon(sent_at: datetime | None, at: datetime, seconds: float) -> bool:
    """Whether a request came within `seconds` of sending: only a machine reads or clicks that fast."""
    return sent_at is not None and timedelta(0) <= at - sent_at < timedelta(seconds=seconds)


def is_machine_open(user_agent: str | None, sent_at: datetime | None, at: datetime, seconds: float) -> bool:
    """An open by a proxy or a scanner, or one too soon after sending to be a person."""
    return is_proxy_agent(user_agent) or too_soon(sent_at, at, seconds)


def is_bot_click(user_agent: str | None, sent_at: datetime | None, at: datetime, seconds: float) -> bool:
    """A click by a scanner or a scripted client, or one too soon after sending to be a person."""
    return is_bot_agent(user_agent) or too_soon(sent_at, at, seconds)
