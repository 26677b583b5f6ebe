"""Errors in words: every failure of the web app answers `{"error": "...", "status": N}` with the fitting status."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from chatbot.doors.web.clients import RateLimited
from chatbot.doors.web.door import ForeignSession, SessionBusy
from chatbot.doors.web.sanitize import scrub_paths
from chatbot.doors.web.turnqueue import QueueFull, QueueTimeout
from chatbot.profile_schema import (
    InvalidFeedback, InvalidText, ProfileError, StoreUnavailable, UnknownProfile, UnknownSession,
)
from chatbot.turn.agent import UnknownItem
from retrieval.errors import FilterError, LLMError, TastebudError

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)
UNEXPECTED = "tastebud hit an unexpected problem; please try again in a moment"

ERROR_STATUS: tuple[tuple[type[TastebudError], int], ...] = (
    (UnknownProfile, 404),
    (UnknownSession, 404),
    (ForeignSession, 403),
    (SessionBusy, 409),
    (RateLimited, 429),
    (InvalidFeedback, 422),
    (UnknownItem, 422),
    (FilterError, 422),
    (QueueFull, 503),
    (QueueTimeout, 503),
    (LLMError, 503),
    (StoreUnavailable, 503),
    (InvalidText, 422),
    (ProfileError, 500),
)


def status_for(exc: TastebudError) -> int:
    """The HTTP status that says what kind of failure a TastebudError is."""
    for cls, status in ERROR_STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_body(message: str, status: int, **extra: Any) -> dict[str, Any]:
    """The one JSON shape of every API error; the message names no server path."""
    return {"error": scrub_paths(message), "status": status, **extra}


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


def add_error_handlers(app: FastAPI, hidden_paths: tuple[str, ...] = ()) -> None:
    """Answer TastebudErrors, invalid requests, rate limits, HTTP errors and crashes in the one JSON shape.

    `hidden_paths` (the data dir, the database file) are scrubbed from every message, as is anything shaped like
    an absolute path.
    """
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(TastebudError)
    async def _tastebud_error(request: Request, exc: TastebudError) -> JSONResponse:
        """A TastebudError as JSON with the status that fits it (429 says when to come back)."""
        status = status_for(exc)
        headers = ({"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))} if isinstance(exc, RateLimited)
                   else None)
        return JSONResponse(error_body(scrub_paths(str(exc), hidden_paths), status), status_code=status,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """Validation errors as one readable sentence."""
        return JSONResponse(error_body(describe_validation_errors(list(exc.errors())), 422), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Starlette's HTTP errors in the same JSON shape."""
        message = "no such page" if exc.status_code == 404 else scrub_paths(str(exc.detail), hidden_paths)
        return JSONResponse(error_body(message, exc.status_code), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        """Anything unforeseen: JSON 500 in words, the details only in the server's log."""
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body(UNEXPECTED, 500), status_code=500)
