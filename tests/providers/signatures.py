"""The request signatures Alibaba Cloud's and Tencent Cloud's gateways check, recomputed the
way they do for the stand-ins."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from werkzeug import Request


def acs3_signature_ok(request: Request, secret: str) -> bool:
    """Recompute the ACS3-HMAC-SHA256 signature the way Alibaba's gateway does."""
    fields = dict(part.split("=", 1) for part in request.headers["Authorization"][17:].split(","))
    signed = fields["SignedHeaders"]
    query = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(request.args.items()))
    headers = "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed.split(";"))
    payload = hashlib.sha256(request.get_data()).hexdigest()
    canonical = "\n".join([request.method, request.path, query, headers, signed, payload])
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["Signature"])


def tc3_signature_ok(request: Request, secret_key: str) -> bool:
    """Recompute the TC3-HMAC-SHA256 signature the way Tencent's gateway does."""
    fields = dict(
        part.strip().split("=", 1) for part in request.headers["Authorization"][16:].split(",")
    )
    _secret_id, date, service, _ = fields["Credential"].split("/")
    headers = f"content-type:{request.headers['Content-Type']}\nhost:{request.headers['Host']}\n"
    payload = hashlib.sha256(request.get_data()).hexdigest()
    canonical = "\n".join(["POST", "/", "", headers, fields["SignedHeaders"], payload])
    scope = f"{date}/{service}/tc3_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = "\n".join(["TC3-HMAC-SHA256", request.headers["X-TC-Timestamp"], scope, digest])
    key = f"TC3{secret_key}".encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["Signature"])
