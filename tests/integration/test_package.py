"""The built Lambda package and its template, not the source tree.

Builds with ``make package`` (dev: IAM staff auth; prod: Cognito), unzips into
an empty directory, and in a fresh interpreter with only that directory and
boto3 (with its own dependencies) on the path imports ``app`` and handles
signed webhooks and staff requests against the emulator, configured the way
the packaged template configures the function: secrets from SSM, none in the
environment. Then checks the template: cfn-lint, per-function IAM, the staff
authorizer, the alarms; and the Terraform layout and ``make deploy``'s calls.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Optional

import boto3
import pytest
import yaml

from local.stack import LOCAL_SECRETS
from tests import payloads as p
from tests.signing import body, meta_headers, staff_headers

ROOT = Path(__file__).resolve().parents[2]
BOTO3_AND_DEPS = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
POOL = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123"
FUNCTIONS = {"APIHandler": "ApiHandlerRole", "SlaStream": "SlaStreamRole", "SlaTick": "SlaTickRole",
             "DeliverOutbound": "DeliverOutboundRole", "HandleInboundEmail": "HandleInboundEmailRole",
             "ReportsDaily": "ReportsDailyRole"}
STAFF_PATHS = {"/conversations", "/conversations/{conversation_id}", "/conversations/{conversation_id}/resolve",
               "/conversations/{conversation_id}/reopen", "/conversations/{conversation_id}/replies",
               "/conversations/{conversation_id}/handoff",
               "/reports/response-times", "/reports/conversations.csv",
               "/conversations/{conversation_id}/labels", "/incidents", "/incidents/{incident_id}",
               "/incidents/{incident_id}/resolve"}
TF_PLUGIN_DIR = Path(os.environ.get("HEED_TF_PLUGIN_DIR", "/opt/tf-plugins"))

PROBE = r"""
import json, sys
sys.path[:0] = sys.argv[1:3]
import app
import functions
assert functions.__file__.startswith(sys.argv[1]), functions.__file__
assert sys.modules["chalice"].__file__.startswith(sys.argv[1]), "chalice runtime must come from the zip"
from functions import templating
assert templating.TEMPLATES_DIR.is_relative_to(sys.argv[1]), "templates must come from the zip"
rendered = templating.render("ack", "telegram", "dm", "nl", {
    "customer_name": "Ana", "brand_name": "Heed", "next_available": "maandag om 09:00",
    "expected_response": "binnen 4 uur", "conversation_id": "c123"})
answers = [app.app(json.loads(event), None) for event in sys.stdin.read().split("\n") if event]
print(json.dumps({"rendered": rendered,
                  "answers": [{"status": a["statusCode"], "body": json.loads(a["body"])} for a in answers]}))
"""


def proxy_event(method: str, path: str, headers: dict, raw: bytes = b"", context: Optional[dict] = None) -> str:
    """An API Gateway (REST, proxy) event as Lambda receives it; ``context`` adds what an authorizer verified."""
    return json.dumps({
        "resource": path, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
        "stageVariables": None, "body": raw.decode() if raw else None, "isBase64Encoded": False,
        "requestContext": {"resourcePath": path, "httpMethod": method, "path": f"/api{path}",
                           "stage": "api", "requestId": "req-1", "identity": {"sourceIp": "127.0.0.1"},
                           **(context or {})},
    })


def boto3_only(tmp_path: Path) -> Path:
    """A directory holding boto3 and its dependencies only (symlinks into this environment)."""
    target = tmp_path / "boto3-only"
    target.mkdir()
    for name in BOTO3_AND_DEPS:
        origin = Path(importlib.util.find_spec(name).origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (target / source.name).symlink_to(source)
    return target


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """``make package`` for dev and prod (prod's staff routes use a Cognito user pool)."""
    out = tmp_path_factory.mktemp("dist")
    for stage in ("dev", "prod"):
        built = subprocess.run(["make", "-s", "package", f"STAGE={stage}", f"DIST={out}"], cwd=ROOT, check=True,
                               capture_output=True, text=True, env={**os.environ, "HEED_STAFF_USER_POOL_ARN": POOL})
        assert f"{out}/{stage}/deployment.zip: " in built.stdout and " MB zipped, " in built.stdout  # size printed
    return out


def template(dist: Path, stage: str) -> dict[str, Any]:
    return yaml.safe_load((dist / stage / "sam.yaml").read_text())


def run_from_zip(dist: Path, stage: str, tmp_path: Path, table: str, events: list[str]) -> list[dict]:
    """Unzip ``stage``'s package and answer ``events`` in a fresh interpreter, configured as its template says."""
    unzipped = tmp_path / f"lambda-{stage}"
    with zipfile.ZipFile(dist / stage / "deployment.zip") as package:
        package.extractall(unzipped)
    variables = template(dist, stage)["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    function_env = {k: v for k, v in variables.items() if isinstance(v, str)}  # HEED_TABLE is a Ref
    prefix = function_env["HEED_SSM_PREFIX"]
    ssm = boto3.client("ssm")
    for name, value in LOCAL_SECRETS.items():
        ssm.put_parameter(Name=f"{prefix}/{name}", Value=value, Type="SecureString", Overwrite=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k not in LOCAL_SECRETS}
    env.update(function_env, HEED_TABLE=table, AWS_LAMBDA_FUNCTION_NAME=f"heed-{stage}-APIHandler")
    result = subprocess.run([sys.executable, "-S", "-E", "-c", PROBE, str(unzipped), str(boto3_only(tmp_path))],
                            input="\n".join(events), env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert "Ana" in output["rendered"]  # a Jinja2 template from the zip's templates/, rendered in the zip's jinja2
    return output["answers"]


def test_package_carries_functions_and_templates_and_handles_a_webhook(dist, tmp_path, stack_env):
    with zipfile.ZipFile(dist / "dev" / "deployment.zip") as package:
        names = set(package.namelist())
    assert {"app.py", "functions/store/dynamo.py", "functions/adapters/meta.py", "functions/metrics.py",
            "templates/ack.nl.txt.j2", "jinja2/sandbox.py", "functions/defaults/heed.toml"} <= names
    assert not any("__pycache__" in n or n.startswith(("tests/", "local/", "infra/")) for n in names)

    raw = body(p.meta("page", p.messenger_entry(p.messenger_event("pkg-psid", "m_pkg", "from the zip"))))
    iam_caller = {"identity": {"sourceIp": "127.0.0.1", "userArn": "arn:aws:iam::123456789012:user/agent"}}
    first, duplicate, listing, bearer_only = run_from_zip(dist, "dev", tmp_path, stack_env["table"], [
        proxy_event("POST", "/webhooks/meta", meta_headers(raw), raw),
        proxy_event("POST", "/webhooks/meta", meta_headers(raw), raw),
        proxy_event("GET", "/conversations", {}, context=iam_caller),
        proxy_event("GET", "/conversations", staff_headers()),
    ])
    assert first == {"status": 200, "body": {"received": 1}}  # META_APP_SECRET came from SSM
    assert duplicate == {"status": 200, "body": {"received": 0}}
    assert [c["customer"]["id"] for c in listing["body"]["conversations"]] == ["pkg-psid"]
    assert bearer_only["status"] == 401  # dev uses IAM: the bearer token opens nothing


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_packaged_template_passes_cfn_lint(dist, stage):
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(dist / stage / "sam.yaml")],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_prod_staff_routes_carry_the_cognito_authorizer(dist, tmp_path, stack_env):
    api = template(dist, "prod")["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = api["securityDefinitions"]["HeedStaff"]
    assert authorizer["x-amazon-apigateway-authtype"] == "cognito_user_pools"
    assert authorizer["x-amazon-apigateway-authorizer"]["providerARNs"] == [POOL]
    for path, methods in api["paths"].items():
        for method, spec in methods.items():
            expected = [{"HeedStaff": []}] if path in STAFF_PATHS else None
            assert spec.get("security") == expected, (path, method)
    dev = template(dist, "dev")["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert dev["securityDefinitions"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"

    user = {"authorizer": {"claims": {"sub": "7d8a-user", "email": "agent@example.com"}}}
    verified, unverified, bearer = run_from_zip(dist, "prod", tmp_path, stack_env["table"], [
        proxy_event("GET", "/conversations", {}, context=user),
        proxy_event("GET", "/conversations", {}),
        proxy_event("GET", "/conversations", staff_headers()),
    ])
    assert verified == {"status": 200, "body": {"conversations": [], "next": None}}
    assert unverified["status"] == bearer["status"] == 401


def statements(role: dict) -> list[dict]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def test_each_function_has_its_own_least_privilege_role(dist):
    resources = template(dist, "prod")["Resources"]
    assert "DefaultRole" not in resources  # Chalice creates no role (manage_iam_role: false)
    assert not [n for n, r in resources.items() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]
    granted = {}
    for function, role in FUNCTIONS.items():
        assert resources[function]["Properties"]["Role"] == {"Fn::GetAtt": [role, "Arn"]}
        allowed = [s for s in statements(resources[role]) if s["Effect"] == "Allow"]
        for statement in allowed:
            assert all("*" not in action for action in statement["Action"]), statement  # no wildcard actions
            if statement["Resource"] == "*" and function == "APIHandler":  # DetectSentiment has no resource type
                assert statement["Action"] == ["comprehend:DetectSentiment"]
            elif statement["Resource"] == "*":  # SMS: phone numbers have no ARN
                assert statement["Action"] == ["sns:Publish"] and function in ("SlaTick", "DeliverOutbound")
        granted[function] = {action for s in allowed for action in s["Action"]}
    assert [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"].__len__() == len(FUNCTIONS)
    assert "sns:Publish" not in granted["APIHandler"] | granted["SlaStream"]
    assert "comprehend:DetectSentiment" not in granted["SlaStream"] | granted["SlaTick"] | granted["DeliverOutbound"]
    assert "ssm:GetParametersByPath" not in granted["SlaStream"]  # needs no secret
    assert "dynamodb:GetRecords" in granted["SlaStream"] and "sqs:SendMessage" in granted["SlaStream"]
    assert not {"dynamodb:GetRecords", "sqs:SendMessage"} & granted["SlaTick"]
    assert "dynamodb:GetRecords" not in granted["APIHandler"] | granted["DeliverOutbound"]
    queued = [s for s in statements(resources["ApiHandlerRole"]) if s.get("Sid") == "Outbound"]
    assert queued[0]["Resource"] == [{"Fn::GetAtt": ["OutboundQueue", "Arn"]}]  # staff replies: the queue only
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= granted["DeliverOutbound"]
    for role in ("SlaTickRole", "DeliverOutboundRole"):
        denied = [s for s in statements(resources[role]) if s["Effect"] == "Deny"]
        assert denied == [{"Sid": "SmsOnly", "Effect": "Deny", "Action": ["sns:Publish"],
                           "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:sns:*"}]}]
    # Inbound email: reads raw mail from its bucket only; failed events to its own queue. Only DeliverOutbound
    # and the weekly report send email, and only from the stage's domain.
    assert granted["HandleInboundEmail"] == {"logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject",
                                             "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem",
                                             "sqs:SendMessage"}
    [failed_mail] = [s for s in statements(resources["HandleInboundEmailRole"]) if s.get("Sid") == "FailedMail"]
    assert failed_mail["Resource"] == [{"Fn::GetAtt": ["InboundMailFailures", "Arn"]}]
    invoke = resources["HandleInboundEmailInvokeConfig"]["Properties"]
    assert invoke["FunctionName"] == {"Ref": "HandleInboundEmail"} and invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["InboundMailFailures", "Arn"]}
    assert [f for f, actions in granted.items() if "ses:SendRawEmail" in actions] == ["DeliverOutbound", "ReportsDaily"]
    for role in ("DeliverOutboundRole", "ReportsDailyRole"):
        sent = [s["Resource"] for s in statements(resources[role]) if "ses:SendRawEmail" in s["Action"]]
        domain = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${EmailDomain}"
        assert sent == [[{"Fn::Sub": domain}]]
    events = resources["HandleInboundEmail"]["Properties"]["Events"]
    assert events["InboundMail"]["Properties"]["Bucket"] == {"Ref": "InboundMailBucket"}
    bucket = resources["InboundMailBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == {"Ref": "InboundMailDays"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    [ses_put] = [s for s in resources["InboundMailBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
                 if s["Effect"] == "Allow"]
    assert ses_put["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    rule = resources["InboundMailRule"]["Properties"]["Rule"]
    assert rule["Actions"][0]["S3Action"]["BucketName"] == {"Ref": "InboundMailBucket"}
    secrets = [s for s in statements(resources["ApiHandlerRole"]) if s.get("Sid") == "Secrets"]
    assert all("${SecretsPath}" in r["Fn::Sub"] for r in secrets[0]["Resource"])


def test_alarms_watch_failures_and_silence(dist):
    resources = template(dist, "prod")["Resources"]
    alarms = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    for function in FUNCTIONS:
        errors = alarms[f"{function}ErrorsAlarm"]
        assert (errors["MetricName"], errors["Dimensions"]) == ("Errors", [{"Name": "FunctionName",
                                                                           "Value": {"Ref": function}}])
    assert alarms["SlaStreamFailuresAlarm"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["SlaStreamFailures",
                                                                                        "QueueName"]}
    silence = {n: a for n, a in alarms.items() if n.startswith("Silence")}
    platforms = {a["Dimensions"][1]["Value"] for a in silence.values()}
    assert platforms == {"facebook", "instagram", "whatsapp", "x", "telegram"}
    for alarm in silence.values():
        assert (alarm["Namespace"], alarm["MetricName"], alarm["TreatMissingData"]) == ("Heed", "MessagesReceived",
                                                                                         "breaching")
        assert alarm["Dimensions"][0] == {"Name": "Stage", "Value": {"Ref": "Stage"}}
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms.values())


def test_cloud_stages_follow_the_names_make_deploy_passes():
    """``make deploy`` passes Stage and SecretsPath from the stage's config; metrics and IAM use them."""
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    for stage in ("dev", "prod"):
        variables = stages[stage]["environment_variables"]
        assert variables["HEED_STAGE"] == stage and variables["HEED_SSM_PREFIX"] == f"/heed/{stage}"
        assert variables["HEED_STAFF_AUTH"] in ("cognito", "iam")
        assert not any(secret in variables for secret in LOCAL_SECRETS)  # secrets live in SSM only
    assert stages["local"]["environment_variables"] == {"HEED_STAFF_AUTH": "token"}


def test_make_deploy_packages_then_calls_cloudformation(tmp_path):
    """Everything before the AWS call runs here; a stand-in ``aws`` records the calls."""
    calls = tmp_path / "calls"
    fake = tmp_path / "aws"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    fake.chmod(0o755)
    out = tmp_path / "dist"
    subprocess.run(["make", "-s", "deploy", "STAGE=dev", f"DIST={out}", f"AWS={fake}", "ARTIFACT_BUCKET=brand-art",
                    "ALARM_EMAIL=ops@example.com", "PARAMS=SilenceHoursX=0"], cwd=ROOT, check=True,
                   capture_output=True, text=True)
    package, deploy, describe = calls.read_text().splitlines()
    assert package.startswith(f"cloudformation package --template-file {out}/dev/sam.yaml --s3-bucket brand-art")
    assert deploy.startswith(f"cloudformation deploy --template-file {out}/dev/packaged.yaml --stack-name heed-dev")
    assert "--capabilities CAPABILITY_IAM" in deploy
    assert deploy.endswith("Stage=dev SecretsPath=/heed/dev AlarmEmail=ops@example.com SilenceHoursX=0")
    assert describe.startswith("cloudformation describe-stacks --stack-name heed-dev")

    missing = subprocess.run(["make", "-s", "deploy", "STAGE=dev", f"DIST={out}", f"AWS={fake}"], cwd=ROOT,
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "ARTIFACT_BUCKET" in missing.stderr
    no_pool = subprocess.run(["make", "-s", "package", "STAGE=prod", f"DIST={out}"], cwd=ROOT, capture_output=True,
                             text=True, env={k: v for k, v in os.environ.items() if k != "HEED_STAFF_USER_POOL_ARN"})
    assert no_pool.returncode != 0 and "HEED_STAFF_USER_POOL_ARN" in no_pool.stderr


def test_terraform_layout(tmp_path):
    out = tmp_path / "dist"
    subprocess.run(["make", "-s", "terraform", "STAGE=prod", f"DIST={out}"], cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, "HEED_STAFF_USER_POOL_ARN": POOL})
    module = out / "terraform" / "prod"
    tf = json.loads((module / "chalice.tf.json").read_text())
    assert (module / "deployment.zip").exists()
    functions = tf["resource"]["aws_lambda_function"]
    assert {name: f["role"] for name, f in functions.items()} == {
        "api_handler": "${var.api_handler_role_arn}", "sla_stream": "${var.sla_stream_role_arn}",
        "sla_tick": "${var.sla_tick_role_arn}", "deliver_outbound": "${var.deliver_outbound_role_arn}",
        "handle_inbound_email": "${var.handle_inbound_email_role_arn}",
        "reports_daily": "${var.reports_daily_role_arn}"}
    inbound_env = functions["handle_inbound_email"]["environment"]["variables"]
    assert inbound_env["HEED_EMAIL_DOMAIN"] == "${var.heed_email_domain}"
    assert all(f["environment"]["variables"]["HEED_TABLE"] == "${var.heed_table_name}" for f in functions.values())
    mappings = {name.split("-")[0]: m for name, m in tf["resource"]["aws_lambda_event_source_mapping"].items()}
    stream = next(m for name, m in mappings.items() if name.startswith("sla_stream"))
    assert stream["event_source_arn"] == "${var.heed_table_stream_arn}" and stream["bisect_batch_on_function_error"]
    queue = next(m for name, m in mappings.items() if name.startswith("deliver_outbound"))
    assert queue["event_source_arn"] == "${var.heed_outbound_queue_arn}"
    # S3 -> the inbound mail function, which Chalice can't package: notification, permission, async config
    resource = tf["resource"]
    [notified] = resource["aws_s3_bucket_notification"]["inbound_mail"]["lambda_function"]
    assert notified == {"lambda_function_arn": "${aws_lambda_function.handle_inbound_email.arn}",
                        "events": ["s3:ObjectCreated:*"], "filter_prefix": "mail/"}
    permission = resource["aws_lambda_permission"]["handle_inbound_email_s3"]
    assert permission["principal"] == "s3.amazonaws.com" and "${var.heed_inbound_bucket_name}" in permission[
        "source_arn"]
    invoke = resource["aws_lambda_function_event_invoke_config"]["handle_inbound_email"]
    assert invoke["maximum_retry_attempts"] == 2 and invoke["destination_config"]["on_failure"][
        "destination"] == "${var.heed_inbound_failures_queue_arn}"
    swagger = json.loads(tf["locals"]["chalice_api_swagger"])
    assert swagger["securityDefinitions"]["HeedStaff"]["x-amazon-apigateway-authorizer"]["providerARNs"] == [POOL]

    terraform = shutil.which("terraform")
    if terraform is None or not TF_PLUGIN_DIR.is_dir():
        pytest.skip("terraform or its AWS provider (HEED_TF_PLUGIN_DIR) is not on this machine: JSON checked only")
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    for args in (["init", "-backend=false", "-input=false", f"-plugin-dir={TF_PLUGIN_DIR}"], ["validate"]):
        run = subprocess.run([terraform, *args, "-no-color"], cwd=module, env=env, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
