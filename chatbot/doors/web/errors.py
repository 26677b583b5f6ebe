"""Errors in words: every failure of the web app answers `{"error": "...", "status": N}` with the fitting status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatbot.doors.web.turnqueue import QueueFull, QueueTimeout
from chatbot.profile_schema import InvalidFeedback, ProfileError, UnknownProfile, UnknownSession
from chatbot.turn.agent import UnknownItem
from retrieval.errors import FilterError, LLMError, TastebudError

if TYPE_CHECKING:
    from fastapi import FastAPI

ERROR_STATUS: tuple[tuple[type[TastebudError], int], ...] = (
    (UnknownProfile, 404),
    (UnknownSession, 404),
    (InvalidFeedback, 422),
    (UnknownItem, 422),
    (FilterError, 422),
    (QueueFull, 503),
    (QueueTimeout, 503),
    (LLMError, 503),
    (ProfileError, 500),
)


def status_for(exc: TastebudError) -> int:
    """The HTTP status that says what kind of failure a TastebudError is."""
    for cls, status in ERROR_STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_body(message: str, status: int, **extra: Any) -> dict[str, Any]:
    """The one JSON shape of every API error."""
    return {"error": message, "status": status, **extra}


def describe_validation_errors(errors: list[dict[str, Any]]) -> str:
    """Pydantic/FastAPI validation errors as one sentence a person can act on."""
    parts = []
    for err in errors:
        kind = err.get("type", "")
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = ".".join(loc) or "the body"
        if kind == "json_invalid":
            ctx = err.get("ctx") or {}
            parts.append(f"the request body is not valid JSON ({ctx.get('error', 'cannot be parsed')})")
        elif kind == "missing":
            parts.append(f"'{where}' is required")
        elif kind == "extra_forbidden":
            parts.append(f"'{where}' is not a field this endpoint accepts")
        elif kind in ("model_attributes_type", "dict_type"):
            parts.append("the request body must be a JSON object")
        else:
            msg = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
            parts.append(f"'{where}': {msg}")
    return "; ".join(parts) or "the request is not valid"


def add_error_handlers(app: FastAPI) -> None:
    """Answer TastebudErrors, invalid requests, rate limits and HTTP errors in the one JSON shape."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from slowapi.errors import RateLimitExceeded
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(TastebudError)
    async def _tastebud_error(request: Request, exc: TastebudError) -> JSONResponse:
        """A TastebudError as JSON with the status that fits it."""
        status = status_for(exc)
        return JSONResponse(error_body(str(exc), status), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """Validation errors as one readable sentence."""
        return JSONResponse(error_body(describe_validation_errors(list(exc.errors())), 422), status_code=422)

    @app.exception_handler(RateLimitExceeded)
    async def _rate_limited(request: Request, exc: RateLimitExceeded) -> JSONResponse:
        """429 in words."""
        message = f"too many requests from your address (limit: {exc.detail}); wait a moment and try again"
        return JSONResponse(error_body(message, 429), status_code=429, headers={"Retry-After": "60"})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Starlette's HTTP errors in the same JSON shape."""
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse(error_body(message, exc.status_code), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
