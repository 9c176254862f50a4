"""The recipient-facing routes: pixel, clicks, view in browser, unsubscribe, preferences, sign-up.

None of these needs a login: each carries an HMAC-signed token (delivery signed it). A bad token gets a
clear 404 and writes nothing, except the pixel, which always answers with the GIF so a mail client never
shows a broken image. Bodies are parsed here (form or JSON) and the database work runs in a thread.
"""

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mailwright.core.errors import DomainError, InvalidInput, PayloadTooLarge
from mailwright.core.runtime import Runtime
from mailwright.core.uow import UnitOfWork
from mailwright.core.web import RuntimeDep, require_admin
from mailwright.delivery import tokens
from mailwright.tracking import health, pages, privacy, service, signup
from mailwright.tracking.service import Requester

router = APIRouter(tags=["tracking"])
log = logging.getLogger(__name__)

# The smallest transparent GIF (1x1, 43 bytes).
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0", "Pragma": "no-cache"}
MAX_FORM_BYTES = 16 * 1024
T = TypeVar("T")


def _key(runtime: Runtime) -> bytes:
    return tokens.signing_key(runtime.settings)


def _requester(request: Request) -> Requester:
    return Requester(
        ip=request.client.host if request.client else None, user_agent=request.headers.get("user-agent")
    )


def _in_uow(runtime: Runtime, work: Callable[[UnitOfWork], T]) -> T:
    with runtime.uow() as uow:
        return work(uow)


async def _run(runtime: Runtime, work: Callable[[UnitOfWork], T]) -> T:
    return await run_in_threadpool(_in_uow, runtime, work)


async def _form(request: Request) -> dict[str, list[str]]:
    """A form or JSON body as lists of values per field."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f"body over {MAX_FORM_BYTES} bytes", field="body")
    if "json" in request.headers.get("content-type", ""):
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise InvalidInput(f"body is not valid JSON: {exc}", field="body") from exc
        if not isinstance(data, dict):
            raise InvalidInput("body must be a JSON object", field="body")
        return {
            k: [str(x) for x in val] if isinstance(val, list) else [str(val)]
            for k, val in data.items()
            if val is not None
        }
    try:
        return parse_qs(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise InvalidInput("body is not UTF-8", field="body") from exc


def _first(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _page(runtime: Runtime, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = pages.render(name, shop_name=runtime.settings.shop_name, **context)
    return HTMLResponse(html, status_code=status, headers=NO_STORE)


def _error_page(runtime: Runtime, exc: DomainError) -> HTMLResponse:
    heading = "This link is not valid" if exc.status == 404 else "Something is not right"
    return _page(runtime, "message.html", exc.status, heading=heading, text=exc.message)


def _url(runtime: Runtime, path: str) -> str:
    return runtime.settings.public_url.rstrip("/") + path


# --- pixel, click, view ------------------------------------------------------------------------------


@router.get("/t/o/{token}.gif", summary="Open pixel", include_in_schema=True)
async def open_pixel(token: str, request: Request, runtime: RuntimeDep) -> Response:
    """A 1x1 GIF that records `Email Opened`; a bad token still gets the GIF and records nothing."""
    user_agent = request.headers.get("user-agent")
    key = _key(runtime)
    try:
        await _run(
            runtime,
            lambda uow: service.record_open(
                uow, key, token, user_agent=user_agent, settings=runtime.settings
            ),
        )
    except Exception:  # a failing open must never become a broken image in someone's inbox
        log.exception("open pixel failed")
    return Response(PIXEL_GIF, media_type="image/gif", headers=NO_STORE)


@router.get("/t/c/{token}", summary="Tracked link")
async def click(token: str, request: Request, runtime: RuntimeDep) -> Response:
    """Record `Email Clicked` and redirect (302) to that link of that message; sets the identity cookie."""
    user_agent = request.headers.get("user-agent")
    key = _key(runtime)
    try:
        target = await _run(
            runtime,
            lambda uow: service.record_click(
                uow, key, token, user_agent=user_agent, settings=runtime.settings
            ),
        )
    except DomainError as exc:
        return _error_page(runtime, exc)
    response = RedirectResponse(target.url, status_code=302, headers=NO_STORE)
    settings = runtime.settings
    response.set_cookie(
        settings.identity_cookie_name,
        service.identity_cookie(key, target.contact_id),
        max_age=settings.identity_cookie_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )
    return response


@router.get("/t/v/{token}", summary="View in browser", response_class=HTMLResponse)
async def view(token: str, runtime: RuntimeDep) -> HTMLResponse:
    """The message as it was sent."""
    key = _key(runtime)
    try:
        html = await _run(runtime, lambda uow: service.view_in_browser(uow, key, token))
    except DomainError as exc:
        return _error_page(runtime, exc)
    return HTMLResponse(html, headers={**NO_STORE, "X-Robots-Tag": "noindex"})


def _cors(request: Request, runtime: Runtime) -> dict[str, str]:
    """CORS headers for a configured shop origin (the cookie is SameSite=Lax: same site only)."""
    origin = request.headers.get("origin")
    if not origin or origin.rstrip("/") not in {
        o.rstrip("/") for o in runtime.settings.identity_allowed_origins
    }:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "content-type",
        "Vary": "Origin",
    }


@router.options("/t/alias", include_in_schema=False)
async def alias_preflight(request: Request, runtime: RuntimeDep) -> Response:
    """The CORS preflight of the alias call from the shop's pages."""
    return Response(status_code=204, headers=_cors(request, runtime))


@router.post("/t/alias", summary="Join the site visitor to the contact named by the identity cookie")
async def alias(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Link an anonymous id (the site's Segment/analytics.js id) to the contact of the identity cookie."""
    form = await _form(request)
    anonymous_id = (_first(form, "anonymousId") or _first(form, "anonymous_id") or "").strip()
    if not anonymous_id or len(anonymous_id) > 200:
        raise InvalidInput("anonymousId is required (at most 200 characters)", field="anonymousId")
    key = _key(runtime)
    headers = {**NO_STORE, **_cors(request, runtime)}
    contact_id = service.contact_from_cookie(key, request.cookies.get(runtime.settings.identity_cookie_name))
    if contact_id is None:
        return JSONResponse({"linked": False}, headers=headers)
    linked = await _run(runtime, lambda uow: service.link_anonymous_id(uow, contact_id, anonymous_id))
    return JSONResponse({"linked": linked}, headers=headers)


# --- unsubscribe ---------------------------------------------------------------------------------------


@router.get("/u/{token}", summary="Unsubscribe page", response_class=HTMLResponse)
async def unsubscribe_page(token: str, runtime: RuntimeDep) -> HTMLResponse:
    """Confirm before unsubscribing, and offer the preference centre (a GET never changes anything)."""
    key = _key(runtime)
    try:
        contact_id, _message = await _run(runtime, lambda uow: service.unsubscribe_target(uow, key, token))
        prefs = await _run(runtime, lambda uow: service.get_preferences(uow, contact_id, runtime.settings))
    except DomainError as exc:
        return _error_page(runtime, exc)
    return _page(
        runtime,
        "unsubscribe.html",
        email=prefs.email,
        action_url=_url(runtime, f"/u/{token}"),
        preferences_url=_url(runtime, f"/preferences/{tokens.preferences_token(key, contact_id)}"),
        pause_days=runtime.settings.marketing_pause_days,
    )


@router.post("/u/{token}", summary="One-click unsubscribe (RFC 8058) and the page's button")
async def unsubscribe_post(token: str, request: Request, runtime: RuntimeDep) -> Response:
    """Unsubscribe at once: no cookies, no login, 200 and never a redirect (RFC 8058)."""
    key = _key(runtime)
    try:
        form = await _form(request)
    except DomainError:
        # RFC 8058 allows multipart/form-data too, and a mailbox provider's odd body must not stop it.
        form = {}
    one_click = _first(form, "List-Unsubscribe") == "One-Click"
    method = "one_click" if one_click or _first(form, "confirm") != "page" else "page"
    requester = _requester(request)
    try:
        contact_id, message = await _run(runtime, lambda uow: service.unsubscribe_target(uow, key, token))
        await _run(
            runtime,
            lambda uow: service.unsubscribe(
                uow, contact_id, method=method, message=message, requester=requester
            ),
        )
    except DomainError as exc:
        return _error_page(runtime, exc)
    if method == "one_click":
        return Response("unsubscribed\n", media_type="text/plain", headers=NO_STORE)
    email = await _run(runtime, lambda uow: service.get_preferences(uow, contact_id, runtime.settings).email)
    return _page(
        runtime,
        "unsubscribed.html",
        email=email,
        preferences_url=_url(runtime, f"/preferences/{tokens.preferences_token(key, contact_id)}"),
    )


# --- preference centre ---------------------------------------------------------------------------------


@router.get("/preferences/{token}", summary="Preference centre", response_class=HTMLResponse)
async def preferences_page(token: str, runtime: RuntimeDep) -> HTMLResponse:
    """Topics, pause for 30 days, unsubscribe from all."""
    key = _key(runtime)
    try:
        prefs = await _run(
            runtime,
            lambda uow: service.get_preferences(
                uow, service.preferences_contact(uow, key, token), runtime.settings
            ),
        )
    except DomainError as exc:
        return _error_page(runtime, exc)
    return _page(
        runtime,
        "preferences.html",
        prefs=prefs,
        saved=None,
        action_url=_url(runtime, f"/preferences/{token}"),
        pause_days=runtime.settings.marketing_pause_days,
    )


_SAVED = {
    "save": "Your topics are saved.",
    "pause": "Marketing email is paused.",
    "resume": "Marketing email is resumed.",
    "resubscribe": "You are subscribed again.",
    "unsubscribe_all": "You are unsubscribed from all marketing email.",
}


@router.post("/preferences/{token}", summary="Save the preference centre", response_class=HTMLResponse)
async def preferences_save(token: str, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Apply the preference form and show the result."""
    key = _key(runtime)
    form = await _form(request)
    action = _first(form, "action") or "save"
    topics = form.get("topics", [])
    requester = _requester(request)
    try:
        prefs = await _run(
            runtime,
            lambda uow: service.update_preferences(
                uow,
                service.preferences_contact(uow, key, token),
                action=action,
                topics=topics,
                settings=runtime.settings,
                requester=requester,
            ),
        )
    except DomainError as exc:
        return _error_page(runtime, exc)
    return _page(
        runtime,
        "preferences.html",
        prefs=prefs,
        saved=_SAVED.get(action),
        action_url=_url(runtime, f"/preferences/{token}"),
        pause_days=runtime.settings.marketing_pause_days,
    )


# --- sign-up -----------------------------------------------------------------------------------------------


@router.get(
    "/subscribe/form", summary="The embeddable sign-up form (HTML snippet)", response_class=HTMLResponse
)
async def subscribe_form(runtime: RuntimeDep, form: str = "default", source: str = "website") -> HTMLResponse:
    """An HTML snippet to paste into the shop's pages; `form` and `source` label the sign-ups it brings."""
    html = pages.render(
        "subscribe_form.html",
        shop_name=runtime.settings.shop_name,
        action_url=_url(runtime, "/subscribe"),
        form=form[:100],
        source=source[:100],
    )
    return HTMLResponse(html)


_SIGNUP_TEXT = {
    "pending": ("Check your inbox", "We sent you an email: follow its link to confirm your subscription."),
    "ignored": ("Check your inbox", "We sent you an email: follow its link to confirm your subscription."),
    "subscribed": ("You are subscribed", "Thank you for signing up."),
    "already_subscribed": ("You are already subscribed", "This address is already on our list."),
}


@router.post("/subscribe", summary="Sign up (form or JSON)")
async def subscribe(request: Request, runtime: RuntimeDep) -> Response:
    """Sign an address up (double opt-in when configured); JSON in, JSON out; a form gets a page."""
    wants_json = "json" in request.headers.get("content-type", "") or "json" in request.headers.get(
        "accept", ""
    )
    requester = _requester(request)
    settings = runtime.settings
    key = _key(runtime)
    try:
        # Counted in its own transaction, so a request that fails below still counts against the limit.
        await _run(runtime, lambda uow: signup.check_rate(uow, requester.ip, settings))
        form = await _form(request)
        email = (_first(form, "email") or "").strip()
        if not email:
            raise InvalidInput("email is required", field="email")
        data = signup.SignupIn(
            email=email,
            first_name=_first(form, "first_name") or _first(form, "firstName"),
            form=_first(form, "form"),
            source=_first(form, "source"),
            anonymous_id=_first(form, "anonymous_id") or _first(form, "anonymousId"),
            honeypot=_first(form, "website"),
        )
        result = await _run(
            runtime, lambda uow: signup.subscribe(uow, data, settings=settings, key=key, requester=requester)
        )
    except DomainError as exc:
        if wants_json:
            raise
        return _page(runtime, "message.html", exc.status, heading="Sign-up failed", text=exc.message)
    # A bot that filled the honeypot sees the same answer as a person.
    status = "pending" if result.status == "ignored" else result.status
    if wants_json:
        return JSONResponse({"status": status}, status_code=200)
    heading, text = _SIGNUP_TEXT[result.status]
    return _page(runtime, "message.html", heading=heading, text=text)


@router.get(
    "/subscribe/confirm/{token}", summary="Double opt-in confirmation link", response_class=HTMLResponse
)
async def subscribe_confirm(token: str, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Confirm a pending sign-up."""
    key = _key(runtime)
    requester = _requester(request)
    try:
        result = await _run(runtime, lambda uow: signup.confirm(uow, key, token, requester=requester))
    except DomainError as exc:
        return _error_page(runtime, exc)
    if result.status == "already_subscribed":
        return _page(
            runtime, "message.html", heading="Already confirmed", text="Your subscription is active."
        )
    return _page(
        runtime, "message.html", heading="Subscription confirmed", text="Thank you: you are on the list."
    )


# --- management API: deliverability health, privacy export and erasure -------------------------------

admin_router = APIRouter(tags=["tracking"], dependencies=[Depends(require_admin)])


@admin_router.get("/api/v1/health/deliverability", summary="Daily bounce and complaint rates")
def deliverability(runtime: RuntimeDep, days: Annotated[int, Query(ge=1, le=366)] = 14) -> dict[str, Any]:
    """Bounce and complaint rates per day with Gmail's thresholds (0.1 % warning, 0.3 % critical)."""
    with runtime.uow() as uow:
        report = health.deliverability(uow.session, now=uow.now(), days=days, settings=runtime.settings)
    return asdict(report)


@admin_router.get("/api/v1/contacts/{contact_id}/export", summary="Everything held about a contact (GDPR)")
def export_contact(contact_id: int, runtime: RuntimeDep) -> dict[str, Any]:
    """Profile, identities, consent evidence, events, orders, messages, bounces, scores, segments."""
    with runtime.uow() as uow:
        return privacy.export(uow, contact_id)


@admin_router.post("/api/v1/contacts/{contact_id}/erase", summary="Erase a contact's personal data (GDPR)")
def erase_contact(contact_id: int, runtime: RuntimeDep) -> dict[str, Any]:
    """Blank the profile, anonymize events and messages, keep the address suppressed by its hash."""
    with runtime.uow() as uow:
        changed = privacy.erase(uow, contact_id, source="api")
    return {"erased": True, "contact_id": contact_id, **changed}
