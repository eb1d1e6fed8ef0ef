"""How long a URL stays valid, read from the URL itself.

A signed URL (S3 ``querystring_auth``, CloudFront, Google Cloud Storage, Azure
SAS) carries its expiry in its query string. Reading it from the URL works
whichever layer of a stack produced it, without knowing the backend's options.
"""

from __future__ import annotations

import datetime
from urllib.parse import parse_qsl, urlsplit

__all__ = ["seconds_left"]

# Query parameters that mean "this URL is signed", whatever the scheme.
_SIGNATURE_PARAMETERS = frozenset(
    {
        "signature",  # S3 SigV2, CloudFront
        "x-amz-signature",  # S3 SigV4
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",  # Google Cloud Storage V4
        "googleaccessid",  # Google Cloud Storage V2
        "sig",  # Azure SAS
        "key-pair-id",  # CloudFront
        "policy",  # CloudFront custom policy
    }
)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def seconds_left(url: str, now: datetime.datetime | None = None) -> float | None:
    """Seconds until ``url`` stops working: ``None`` for an unsigned URL, ``0.0``
    for a signed URL whose expiry cannot be read (so that it is never cached)."""
    query = {key.lower(): value for key, value in parse_qsl(urlsplit(url).query)}
    if not _SIGNATURE_PARAMETERS & query.keys() and "expires" not in query and "se" not in query:
        return None
    now = now or datetime.datetime.now(datetime.UTC)
    expiry = _expiry(query)
    if expiry is None:
        return 0.0
    return max(0.0, (expiry - now).total_seconds())


def _expiry(query: dict[str, str]) -> datetime.datetime | None:
    try:
        for prefix in ("x-amz-", "x-goog-"):  # SigV4-style: start date + lifetime
            if f"{prefix}date" in query and f"{prefix}expires" in query:
                start = datetime.datetime.strptime(query[f"{prefix}date"], _AMZ_DATE_FORMAT)
                lifetime = datetime.timedelta(seconds=int(query[f"{prefix}expires"]))
                return start.replace(tzinfo=datetime.UTC) + lifetime
        if "expires" in query:  # S3 SigV2, CloudFront: epoch seconds
            return datetime.datetime.fromtimestamp(int(query["expires"]), datetime.UTC)
        if "se" in query:  # Azure SAS: ISO 8601
            expiry = datetime.datetime.fromisoformat(query["se"])  # "Z" too, since 3.11
            return expiry if expiry.tzinfo else expiry.replace(tzinfo=datetime.UTC)
    except (ValueError, OverflowError):
        return None
    return None
