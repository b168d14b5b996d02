"""What logs may never show: whole API keys and webhook signing secrets."""

from __future__ import annotations

import logging

from tanktop.logs import JsonFormatter, RedactKeys
from tanktop.redaction import redact_keys
from tanktop.tenants.service import new_signing_secret


def test_keys_and_secrets_are_redacted() -> None:
    key, secret = "tt_" + "a1B2" * 8, new_signing_secret()
    text = redact_keys(f"GET /api/1/{key}/user/7 signed with {secret}")
    assert key not in text
    assert secret not in text
    assert "tt_a1B2…" in text
    assert "whsec_…" in text


def test_filter_and_json_formatter_redact_arguments() -> None:
    key = "tt_" + "Zz9_" * 8
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s"',
        ("127.0.0.1", "GET", f"/api/1/{key}/"),
        None,
    )
    assert RedactKeys().filter(record)
    line = JsonFormatter().format(record)
    assert key not in line
    assert "tt_Zz9_…" in line
