"""Logging: API keys and signing secrets redacted in every line, a request id on every line
logged while a request is served, and JSON lines when `TANKTOP_LOG_FORMAT=json`."""

from __future__ import annotations

import copy
import itertools
import json
import logging
import re
import secrets
from contextvars import ContextVar
from typing import Any

from starlette.types import Scope
from uvicorn.config import LOGGING_CONFIG

from tanktop.redaction import redact_keys

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RedactKeys(logging.Filter):
    """Rewrite a record's message with keys cut down to labels; attach the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_keys(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_keys(a) if isinstance(a, str) else a for a in record.args)
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = redact_keys(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


_PROCESS_PREFIX = secrets.token_hex(8)
_next_number = itertools.count(1)


def request_id_of(scope: Scope) -> str:
    """The caller's `X-Request-ID` (if sane), or a new one: 32 hex digits, this process's random
    prefix and a counter (unique without asking the system for randomness on every request)."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given: str = value.decode("latin-1")
            if _GIVEN_ID.match(given):
                return given
            break
    return f"{_PROCESS_PREFIX}{next(_next_number):016x}"


def logging_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """Uvicorn's logging set-up plus redaction, request ids and the `tanktop` logger."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_keys": {"()": "tanktop.logs.RedactKeys"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_keys"]
    if fmt == "json":
        for name in config["formatters"]:
            config["formatters"][name] = {"()": "tanktop.logs.JsonFormatter"}
    config["loggers"]["tanktop"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config
