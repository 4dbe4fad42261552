"""The security headers of every answer: what a browser may run, load, frame, sniff or keep.

Pages use no inline script or style (scripts and styles are files under ``/static``,
charts are inline SVG), so the Content-Security-Policy allows only the service's own files;
``data:`` images are for the icons of the API docs' stylesheet. The API docs page
(flask-smorest's Swagger UI) starts with a small inline script of its own: that script,
and only it, is allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re

from werkzeug.wrappers import Response

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

#: The endpoint whose own inline script is allowed by its hash.
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def apply_security_headers(
    response: Response, *, endpoint: str | None, https: bool, signed_in: bool
) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # A PDF is shown by the browser's own viewer, which some browsers refuse to run
    # under a page policy; a PDF runs no page script anyway.
    if response.mimetype != "application/pdf":
        headers.setdefault("Content-Security-Policy", _policy(response, endpoint))
    if https:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if signed_in:
        # A member's invoices or the ledger must not stay in a shared computer's cache.
        headers.setdefault("Cache-Control", "no-store")
    return response


def _policy(response: Response, endpoint: str | None) -> str:
    directives = dict(CONTENT_SECURITY_POLICY)
    if endpoint == DOCS_ENDPOINT and not response.is_streamed:
        hashes = [
            f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
            for script in _INLINE_SCRIPT.findall(response.get_data())
        ]
        directives["script-src"] = " ".join(["'self'", *hashes])
    return "; ".join(f"{name} {value}" for name, value in directives.items())
