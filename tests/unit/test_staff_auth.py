"""Staff auth per stage: bearer token here, or the identity API Gateway verified (Cognito, IAM)."""
from __future__ import annotations

import pytest
from chalice import CognitoUserPoolAuthorizer, IAMAuthorizer

from functions.errors import ServiceUnavailable, Unauthorized
from functions.http import require_staff, staff_authorizer
from local.stack import LOCAL_SECRETS

POOL = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123"
BEARER = {"authorization": f"Bearer {LOCAL_SECRETS['STAFF_API_TOKEN']}"}
COGNITO = {"authorizer": {"claims": {"sub": "7d8a-user", "email": "agent@example.com"}}}
IAM = {"identity": {"userArn": "arn:aws:iam::123456789012:user/agent", "sourceIp": "192.0.2.1"}}


@pytest.fixture
def mode(monkeypatch):
    def set_mode(value: str) -> None:
        monkeypatch.setenv("HEED_STAFF_AUTH", value)

    monkeypatch.delenv("HEED_STAFF_USER_POOL_ARN", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    return set_mode


def test_token_is_the_default(monkeypatch):
    monkeypatch.delenv("HEED_STAFF_AUTH", raising=False)
    assert staff_authorizer() is None
    require_staff(BEARER)
    with pytest.raises(Unauthorized, match="missing bearer token"):
        require_staff({}, COGNITO)  # an identity from a gateway doesn't replace the token


def test_cognito_trusts_only_the_gateway_verified_user(mode):
    mode("cognito")
    require_staff({}, COGNITO)
    for context in (None, {}, {"authorizer": {}}, {"authorizer": {"claims": {}}}, IAM):
        with pytest.raises(Unauthorized, match="no verified Cognito user"):
            require_staff(BEARER, context)  # the bearer token means nothing here


def test_iam_trusts_only_the_gateway_verified_caller(mode):
    mode("iam")
    require_staff({}, IAM)
    for context in (None, {"identity": {"userArn": None, "sourceIp": "192.0.2.1"}}, COGNITO):
        with pytest.raises(Unauthorized, match="no verified IAM caller"):
            require_staff(BEARER, context)


def test_unknown_mode_is_a_503(mode):
    mode("basic")
    with pytest.raises(ServiceUnavailable, match="HEED_STAFF_AUTH must be one of token, cognito, iam"):
        require_staff(BEARER)


def test_authorizers_for_the_template(mode, monkeypatch):
    mode("iam")
    assert isinstance(staff_authorizer(), IAMAuthorizer)
    mode("cognito")
    with pytest.raises(RuntimeError, match="needs HEED_STAFF_USER_POOL_ARN"):
        staff_authorizer()  # packaging without the pool fails loudly
    monkeypatch.setenv("HEED_STAFF_USER_POOL_ARN", POOL)
    authorizer = staff_authorizer()
    assert isinstance(authorizer, CognitoUserPoolAuthorizer)
    assert authorizer.to_swagger()["x-amazon-apigateway-authorizer"]["providerARNs"] == [POOL]


def test_in_lambda_a_missing_pool_never_crashes_the_import(mode, monkeypatch):
    mode("cognito")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "heed-prod-APIHandler")
    assert isinstance(staff_authorizer(), CognitoUserPoolAuthorizer)
