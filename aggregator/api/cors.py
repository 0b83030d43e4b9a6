"""Cross-origin requests: Starlette's CORS middleware, its refusals told as problems."""

from __future__ import annotations

from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.responses import Response

from aggregator.api.problems import problem_response


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as every other error is: an RFC
    9457 problem (it was a bare text/plain "Disallowed CORS origin")."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode("utf-8", "replace")  # "Disallowed CORS origin"
        kept = {
            name: value
            for name, value in response.headers.items()
            if name.lower().startswith("access-control-") or name.lower() == "vary"
        }
        return problem_response(
            400,
            "CORS preflight refused",
            f"{refused.replace('Disallowed CORS', 'not allowed:')} (api.cors_origins)",
            kind="cors-refused",
            headers=kept,
        )
