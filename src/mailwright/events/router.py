"""HTTP ingestion: the Segment-compatible Tracking API."""

import gzip
import zlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mailwright.core.errors import InvalidInput, PayloadTooLarge, Unauthorized
from mailwright.core.keys import verify_key
from mailwright.core.runtime import Runtime
from mailwright.core.web import RuntimeDep, basic_user, problem, require_admin
from mailwright.events import segment, service
from mailwright.events.schemas import EventOut, IncomingEvent, IngestResult, RejectedItem

router = APIRouter(prefix="/v1", tags=["ingest (Segment-compatible)"])


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped when sent with Content-Encoding: gzip, refused past `limit` bytes."""
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding == "gzip":
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, limit + 1)
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise InvalidInput("body is not valid gzip") from exc
    elif encoding not in ("", "identity"):
        raise InvalidInput(f"unsupported Content-Encoding {encoding!r} (use gzip or none)")
    if len(raw) > limit:
        raise PayloadTooLarge(f"body is over the limit of {limit} bytes")
    return raw


def decode_json(raw: bytes) -> dict[str, Any]:
    """Parse a JSON object body with a message that says what is wrong."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def _write_key(request: Request, body: dict[str, Any]) -> str:
    key = basic_user(request) or body.get("writeKey")
    if not isinstance(key, str) or not key:
        raise Unauthorized("missing write key (HTTP Basic user name or writeKey in the body)")
    return key


def _store(
    runtime: Runtime, key: str, events: list[IncomingEvent], rejected: list[RejectedItem]
) -> IngestResult:
    # Key check, storage and commit in one transaction: the 200 goes out only after the commit.
    with runtime.uow() as uow:
        verify_key(uow.session, key, kind="write")
        return service.ingest(
            uow, events, rejected=rejected, notify=service.EVENTS_INGESTED_JOB in runtime.registry.handlers
        )


def _response(result: IngestResult, total: int) -> JSONResponse:
    errors = [r.model_dump() for r in result.rejected]
    if total and len(result.rejected) == total:
        first = result.rejected[0]
        status = 413 if "bytes" in first.message and total == 1 else 400
        return problem(
            status,
            {
                "type": "https://mailwright.dev/problems/invalid_input",
                "title": "invalid input",
                "status": status,
                "detail": f"{first.field or 'event'}: {first.message}" if first.field else first.message,
                "field": first.field,
                "errors": errors,
            },
        )
    return JSONResponse(
        {"success": True, "accepted": result.accepted, "duplicates": result.duplicates, "errors": errors}
    )


async def _single(request: Request, runtime: Runtime, kind: str) -> JSONResponse:
    settings = runtime.settings
    raw = await read_body(request, settings.max_event_bytes)
    body = decode_json(raw)
    key = _write_key(request, body)
    body.pop("writeKey", None)
    body["type"] = kind
    events, rejected = segment.parse_batch(
        [body],
        received_at=runtime.clock.now(),
        default_currency=settings.shop_currency,
        max_event_bytes=settings.max_event_bytes,
    )
    if rejected:
        # Authenticate before telling anything about the payload.
        await run_in_threadpool(_store, runtime, key, [], [])
        return _response(IngestResult(rejected=rejected), 1)
    result = await run_in_threadpool(_store, runtime, key, events, rejected)
    return _response(result, 1)


def _single_endpoint(kind: str) -> Callable[[Request, Runtime], Awaitable[JSONResponse]]:
    async def endpoint(request: Request, runtime: RuntimeDep) -> JSONResponse:
        return await _single(request, runtime, kind)

    endpoint.__doc__ = f"Segment {kind}."
    return endpoint


# The single-message calls of the Segment Tracking API differ only in their type.
for _kind, _summary in (
    ("identify", "Identify a user and set traits"),
    ("track", "Record an event"),
    ("page", "Record a page view"),
    ("screen", "Record a screen view"),
    ("alias", "Link a previous id to a user id"),
    ("group", "Associate a user with a group (stored as a custom event)"),
):
    router.add_api_route(f"/{_kind}", _single_endpoint(_kind), methods=["POST"], summary=_summary, name=_kind)


@router.post("/batch", summary="Send many calls at once")
async def batch(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Segment batch: valid events are stored, invalid ones reported by index."""
    settings = runtime.settings
    raw = await read_body(request, settings.max_batch_bytes)
    body = decode_json(raw)
    key = _write_key(request, body)
    items = body.get("batch")
    if not isinstance(items, list):
        raise InvalidInput("batch must be a list of messages", field="batch")
    context = body.get("context") if isinstance(body.get("context"), dict) else None
    # Validation and storage run together on one worker thread: the event loop stays free to read the
    # next request, and the two halves do not hand the GIL back and forth.
    result = await run_in_threadpool(_parse_and_store, runtime, key, items, context)
    return _response(result, len(items))


def _parse_and_store(
    runtime: Runtime, key: str, items: list[Any], context: dict[str, Any] | None
) -> IngestResult:
    settings = runtime.settings
    events, rejected = segment.parse_batch(
        items,
        received_at=runtime.clock.now(),
        default_currency=settings.shop_currency,
        max_event_bytes=settings.max_event_bytes,
        context=context,
    )
    return _store(runtime, key, events, rejected)


admin_router = APIRouter(prefix="/api/v1/events", tags=["events"], dependencies=[Depends(require_admin)])


@admin_router.get("", summary="List events")
def list_events(
    runtime: RuntimeDep,
    contact_id: int | None = None,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[EventOut]:
    """Events newest first, filtered by contact and name."""
    with runtime.uow() as uow:
        return service.list_events(uow.session, contact_id=contact_id, name=name, limit=limit, offset=offset)
