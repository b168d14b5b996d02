"""Standard Webhooks signatures: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`.

Signed with every secret of the service that is still valid, space-separated, so a receiver
keeps verifying during a secret rotation with whichever secret it holds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def signature_header(secrets: Sequence[str], webhook_id: str, timestamp: int, body: str) -> str:
    message = f"{webhook_id}.{timestamp}.{body}".encode()
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), message, hashlib.sha256).digest()).decode()
        for s in secrets
    )


def webhook_headers(
    secrets: Sequence[str], webhook_id: str, timestamp: int, body: str
) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, webhook_id, timestamp, body),
        "content-type": "application/x-www-form-urlencoded",
        "user-agent": "TankTop-Webhooks/1",
    }
