"""What logs and listings may show of secrets: an API key cut down to a label, a webhook
signing secret not at all."""

from __future__ import annotations

import re

KEY_PREFIX = "tt_"
KEY_PATTERN = re.compile(r"tt_[A-Za-z0-9_\-]{8,64}")
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_PATTERN = re.compile(r"whsec_[A-Za-z0-9+/=]{8,}")
OAUTH_SECRET_PATTERN = re.compile(r"\b(tt[acdrs]_)[A-Za-z0-9_\-]{8,}")
"""OAuth tokens, codes and client secrets (`tanktop.oauth.models.TOKEN_PREFIXES`)."""


def key_label(key: str) -> str:
    """What logs and listings show of a key: enough to tell keys apart, useless to an attacker."""
    return key[:7] + "…"


def redact_keys(text: str) -> str:
    """Replace every API key in `text` (a path, a log line) with its label, and every webhook
    signing secret, OAuth token, code and client secret with a placeholder. Every access-log
    line passes here (its address, method, path and version each), so a text without the
    patterns' literal starts is returned before any regular expression runs."""
    if "tt" in text:
        text = KEY_PATTERN.sub(lambda m: key_label(m.group(0)), text)
        text = OAUTH_SECRET_PATTERN.sub(lambda m: m.group(1) + "…", text)
    if SECRET_PREFIX in text:
        text = SECRET_PATTERN.sub(SECRET_PREFIX + "…", text)
    return text
