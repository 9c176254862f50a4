"""The site snippet in real Chromium: a shop page on loopback sends its events to a real `mailwright serve`."""

import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from tests.support.server import ServerProcess, mailwright

from mailwright.contacts import service as contacts
from mailwright.core.db import Database, make_engine
from mailwright.core.settings import Settings
from mailwright.delivery.tokens import signing_key
from mailwright.events.models import Event
from mailwright.tracking.service import identity_cookie

CHROMIUM = shutil.which("chromium")
SIGNING_KEY = "snippet-test-signing-key"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (which chromium)"
)

PAGE = """<!doctype html>
<html><head><title>Joust Duffle Bag - Demo Shop</title>
<script src="{base}/snippet/mailwright.js" data-write-key="{key}"></script>
</head><body>
<h1>Joust Duffle Bag</h1>
<form id="signup"><input name="email" value="newbie@example.com"><button>Sign up</button></form>
</body></html>"""


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[str]:
    """A real `mailwright serve` process; yields its base URL and kills it afterwards."""
    server = ServerProcess(env)
    server.start()
    try:
        yield server.base
    finally:
        server.kill()


@contextmanager
def shop_site(html: str) -> Iterator[str]:
    """The shop's own web server (another origin than Mailwright), serving one product page."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/products/joust-duffle-bag"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _events(url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Event.contact_id, Event.name, Event.properties, Event.source)).all()
        return [{"contact_id": r[0], "name": r[1], "properties": r[2], "source": r[3]} for r in rows]
    finally:
        engine.dispose()


def _contact_id(url: str, email: str) -> int | None:
    database = Database(make_engine(url))
    try:
        with database.session_factory() as session:
            found = contacts.find_by_email(session, email)
            return None if found is None else found.id
    finally:
        database.engine.dispose()


def test_snippet_sends_site_events_and_joins_identity_on_signup_and_click(fresh_database_url: str) -> None:
    from playwright.sync_api import sync_playwright

    env = {"MAILWRIGHT_DATABASE_URL": fresh_database_url, "MAILWRIGHT_SIGNING_KEY": SIGNING_KEY}
    key = json.loads(mailwright(["keys", "create", "--json"], env).stdout)["key"]
    with running_server(env) as base:
        served = httpx.get(f"{base}/snippet/mailwright.js")
        assert served.status_code == 200 and "javascript" in served.headers["content-type"]
        # A customer who will arrive from a tracked email click.
        identified = httpx.post(
            f"{base}/v1/identify",
            auth=(key, ""),
            json={"userId": "cust-9", "traits": {"email": "clicker@example.com"}},
        )
        assert identified.status_code == 200, identified.text
        clicker_id = _contact_id(fresh_database_url, "clicker@example.com")
        assert clicker_id is not None
        settings = Settings(signing_key=SecretStr(SIGNING_KEY), _env_file=None)  # type: ignore[call-arg]
        cookie = identity_cookie(signing_key(settings), clicker_id)

        with shop_site(PAGE.format(base=base, key=key)) as page_url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                # 1. An anonymous visitor browses, adds to cart, starts checkout, then signs up.
                context = browser.new_context()
                page = context.new_page()
                page.goto(page_url)
                page.evaluate("() => window.mailwright.ready")
                anonymous_id = page.evaluate("() => window.mailwright.anonymousId()")
                page.evaluate(
                    """async () => {
                        await mailwright.productViewed({product_id: "1", sku: "24-MB01", name: "Joust Duffle Bag", price: 34});
                        await mailwright.productAdded({product_id: "1", sku: "24-MB01", name: "Joust Duffle Bag", price: 34, quantity: 1});
                        await mailwright.checkoutStarted({value: 34, currency: "USD", products: [{product_id: "1", quantity: 1}]});
                    }"""
                )
                cookies = {c["name"]: c["value"] for c in context.cookies(page_url)}
                assert cookies["mw_anon"] == anonymous_id  # first-party cookie on the shop's site
                page.reload()
                page.evaluate("() => window.mailwright.ready")
                assert (
                    page.evaluate("() => window.mailwright.anonymousId()") == anonymous_id
                )  # kept across pages
                page.evaluate(
                    "async () => { await mailwright.identify('newbie@example.com', {first_name: 'Nina'}); }"
                )
                context.close()

                # 2. A visitor who came from a tracked email click carries Mailwright's identity cookie.
                clicked = browser.new_context()
                clicked.add_cookies(
                    [
                        {
                            "name": "mw_contact",
                            "value": cookie,
                            "domain": "127.0.0.1",
                            "path": "/",
                            "httpOnly": True,
                            "sameSite": "Lax",
                        }
                    ]
                )
                page = clicked.new_page()
                page.goto(page_url)
                page.evaluate("() => window.mailwright.ready")
                page.evaluate(
                    "async () => { await mailwright.productViewed({product_id: '2', name: 'Fusion Backpack', price: 59}); }"
                )
                clicked.close()
            finally:
                browser.close()

    newbie_id = _contact_id(fresh_database_url, "newbie@example.com")
    assert newbie_id is not None
    stored = _events(fresh_database_url)
    mine = [e for e in stored if e["contact_id"] == newbie_id]
    names = [e["name"] for e in mine]
    # Everything the anonymous visitor did belongs to the person who signed up.
    for name in ("Page Viewed", "Product Viewed", "Product Added", "Checkout Started", "Identify"):
        assert name in names, (name, names)
    viewed = next(e for e in mine if e["name"] == "Product Viewed")
    assert viewed["properties"]["sku"] == "24-MB01"
    # The visitor from the email click: the product view is on the clicker's profile.
    clicker_views = [e for e in stored if e["contact_id"] == clicker_id and e["name"] == "Product Viewed"]
    assert [e["properties"]["name"] for e in clicker_views] == ["Fusion Backpack"]
