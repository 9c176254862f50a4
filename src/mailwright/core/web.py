"""The HTTP edge shared by every router: the runtime, authentication and problem responses."""

import base64
import binascii
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from mailwright.core.errors import DomainError, Unauthorized
from mailwright.core.keys import verify_key
from mailwright.core.runtime import Runtime

PROBLEM_JSON = "application/problem+json"


def get_runtime(request: Request) -> Runtime:
    """The runtime the app was built with."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def require_admin(request: Request, runtime: RuntimeDep) -> None:
    """Bearer-token authentication for the management API."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send 'Authorization: Bearer <admin token>'")
    env_token = runtime.settings.admin_token.get_secret_value() if runtime.settings.admin_token else None
    with runtime.uow() as uow:
        verify_key(uow.session, token.strip(), kind="admin", env_admin_token=env_token)


def basic_user(request: Request) -> str | None:
    """The user name of HTTP Basic auth (Segment sends the write key there), if present."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, _ = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("malformed HTTP Basic credentials") from exc
    return user


def problem(status: int, body: dict[str, Any]) -> JSONResponse:
    """An RFC 7807 problem response."""
    headers = {"WWW-Authenticate": 'Bearer realm="mailwright"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Map domain errors and request validation errors to problem responses naming the field."""

    async def on_domain_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return problem(exc.status, exc.to_problem())

    async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "message": err["msg"]}
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        return problem(
            422,
            {
                "type": "https://mailwright.dev/problems/invalid_input",
                "title": "invalid input",
                "status": 422,
                "detail": f"{first['field']}: {first['message']}",
                "field": first["field"],
                "errors": errors,
            },
        )

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
