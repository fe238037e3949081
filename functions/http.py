"""HTTP plumbing shared by the route handlers: JSON errors, body limits, staff auth."""
from __future__ import annotations

import functools
import hmac
import os
from typing import Any, Callable, Mapping, Optional, TypeVar

from chalice import CognitoUserPoolAuthorizer, IAMAuthorizer, Response

from functions import settings
from functions.errors import HeedError, PayloadTooLarge, ServiceUnavailable, Unauthorized
from functions.log import log

# WhatsApp documents payloads of up to 3 MB, the largest any platform sends.
MAX_BODY_BYTES = 3 * 1024 * 1024

F = TypeVar("F", bound=Callable[..., Any])


def json_response(status: int, body: Any, headers: Optional[dict[str, str]] = None) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def guarded(handler: F) -> F:
    """Turn :class:`HeedError` into its JSON answer: ``{"error": code, "message": ...}``."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except HeedError as err:
            if err.status >= 500:
                log("request_failed", level="ERROR", status=err.status, error=err.code)
            headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
            return json_response(err.status, {"error": err.code, "message": err.message}, headers)

    return wrapper  # type: ignore[return-value]


def body_of(request: Any, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw request bytes (what signatures cover), refused with 413 above ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is larger than {limit} bytes")
    body = request.raw_body or b""
    if len(body) > limit:
        raise PayloadTooLarge(f"body is larger than {limit} bytes")
    return body


# How staff prove who they are, per stage (HEED_STAFF_AUTH in .chalice/config.json):
#   token    Authorization: Bearer <STAFF_API_TOKEN>, checked here (local stage; simple deployments);
#   cognito  a Cognito user-pool ID token, checked by API Gateway (HEED_STAFF_USER_POOL_ARN at package time);
#   iam      SigV4-signed requests, checked by API Gateway against the caller's IAM policy.
STAFF_AUTH_MODES = ("token", "cognito", "iam")
USER_POOL_PLACEHOLDER = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_setatpackagetime"


def staff_auth_mode() -> str:
    mode = os.environ.get("HEED_STAFF_AUTH") or "token"
    if mode not in STAFF_AUTH_MODES:
        log("setting_invalid", level="ERROR", setting="HEED_STAFF_AUTH", allowed=list(STAFF_AUTH_MODES))
        allowed = ", ".join(STAFF_AUTH_MODES)
        raise ServiceUnavailable(f"Heed is not configured: HEED_STAFF_AUTH must be one of {allowed}")
    return mode


def staff_authorizer() -> Any:
    """The API Gateway authorizer for the staff routes (``None`` for ``token``: :func:`require_staff` checks).

    Chalice reads it when packaging, so the user pool ARN must be set then; in
    Lambda the gateway has already checked and the object is only a label.
    """
    mode = os.environ.get("HEED_STAFF_AUTH") or "token"
    if mode == "iam":
        return IAMAuthorizer()
    if mode == "cognito":
        pool = os.environ.get("HEED_STAFF_USER_POOL_ARN", "")
        if not pool and not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
            raise RuntimeError("HEED_STAFF_AUTH=cognito needs HEED_STAFF_USER_POOL_ARN (the staff user pool's ARN) "
                               "when packaging, e.g. make deploy STAGE=prod HEED_STAFF_USER_POOL_ARN=arn:aws:...")
        return CognitoUserPoolAuthorizer("HeedStaff", provider_arns=[pool or USER_POOL_PLACEHOLDER])
    return None


def require_staff(headers: Mapping[str, str], context: Optional[Mapping[str, Any]] = None) -> None:
    """Every staff route. ``token``: ``Authorization: Bearer <STAFF_API_TOKEN>``, else 401.

    ``cognito``/``iam``: API Gateway has verified the caller; this checks that
    it said so (the request context names the user), so a route that lost its
    authorizer fails closed with 401 instead of opening up.
    """
    mode = staff_auth_mode()
    if mode == "cognito":
        claims = ((context or {}).get("authorizer") or {}).get("claims") or {}
        if not claims.get("sub"):
            raise Unauthorized("no verified Cognito user on this request")
        return
    if mode == "iam":
        if not ((context or {}).get("identity") or {}).get("userArn"):
            raise Unauthorized("no verified IAM caller on this request")
        return
    expected = settings.secret("STAFF_API_TOKEN")
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    if not hmac.compare_digest(token.strip().encode("utf-8", "surrogateescape"), expected.encode()):
        raise Unauthorized("invalid bearer token")
