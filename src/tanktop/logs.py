"""Logging that never shows a whole API key: every handler runs `RedactKeys`."""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from tanktop.auth import redact_keys


class RedactKeys(logging.Filter):
    """Rewrite a record's message with API keys (in paths, in errors) cut down to labels."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_keys(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_keys(a) if isinstance(a, str) else a for a in record.args)
        return True


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """Uvicorn's logging set-up plus our redaction filter and the `tanktop` logger."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_keys": {"()": "tanktop.logs.RedactKeys"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_keys"]
    config["loggers"]["tanktop"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config
