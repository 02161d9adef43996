"""The security headers of every answer of every Sada service, set in one place.

Pages (reporting's, `/login`) and API answers alike carry:

- `Content-Security-Policy`: nothing loads but this site's own style sheet and images; no
  script runs at all (Sada's pages have none, so an injected one is refused too); forms post
  only to this site; no other site may frame a page (`frame-ancestors 'none'`), and `<base>`
  cannot be redirected. Inline styles stay allowed: the charts and meters size their bars with
  `style="width: …"`, and the sign-in page has a small style block.
- `X-Frame-Options: DENY`: the same refusal to be framed, for browsers that predate CSP.
- `X-Content-Type-Options: nosniff`: a JSON or CSV answer is never run as a script or page.
- `Referrer-Policy: same-origin`: a URL naming a demand never leaks to another site. (Not
  `no-referrer`: with it browsers send `Origin: null` on this site's own form posts, which the
  cross-site check of services/auth.py and services/login.py must then refuse.)

A view that sets its own value keeps it.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def install(app: Flask) -> None:
    """Add the security headers to every answer of `app`, errors and redirects included."""

    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
