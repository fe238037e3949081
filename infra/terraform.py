"""``make terraform``: turn Chalice's Terraform output into a module current Terraform accepts.

``chalice package --pkg-format terraform`` writes ``chalice.tf.json`` with the
functions, the REST API, the schedule and the stream mapping, but (Chalice
1.34) pins Terraform < 1.4 and the AWS provider < 5, declares an unused
``null_data_source``, and knows nothing of ``infra/template.yaml`` (its
Terraform packager has no ``--merge-template``). This rewrites it to:

* accept Terraform >= 1.3 and the AWS provider 5.x, without the null provider;
* take what infra/ creates in CloudFormation as input variables: the table, its
  stream, the failed-batch queue, the outbound queue and one IAM role per
  function (the Chalice config's placeholder role is replaced), and apply the
  stream mapping's settings from the template (bisect, retries, failure
  destination, filter) and partial batch responses for the outbound queue;
* add what Chalice can't package for the inbound mail function: the inbound
  bucket's ObjectCreated notification (``mail/``), the permission letting S3
  invoke it, and its asynchronous-invocation config (retries and on-failure
  queue, from ``HandleInboundEmailInvokeConfig`` in the template).

Usage: ``python infra/terraform.py dist/terraform/<stage>/chalice.tf.json``
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
FUNCTIONS = {"api_handler": "APIHandler", "sla_stream": "SlaStream", "sla_tick": "SlaTick",
             "deliver_outbound": "DeliverOutbound", "handle_inbound_email": "HandleInboundEmail",
             "reports_daily": "ReportsDaily"}

VARIABLES = {
    "heed_table_name": "The DynamoDB table (infra/template.yaml HeedTable: keys, indexes, TTL, stream)",
    "heed_table_stream_arn": "The table's stream ARN (NEW_AND_OLD_IMAGES)",
    "heed_stream_failures_queue_arn": "The SQS queue for stream batches that keep failing (SlaStreamFailures)",
    "api_handler_role_arn": "The API function's role (infra/template.yaml ApiHandlerRole grants)",
    "sla_stream_role_arn": "The stream function's role (infra/template.yaml SlaStreamRole grants)",
    "sla_tick_role_arn": "The SLA checker's role (infra/template.yaml SlaTickRole grants)",
    "deliver_outbound_role_arn": "The outbound sender's role (infra/template.yaml DeliverOutboundRole grants)",
    "reports_daily_role_arn": "The reports job's role (infra/template.yaml ReportsDailyRole grants)",
    "heed_outbound_queue_arn": "The outbound queue (OutboundQueue, with its redrive dead-letter queue)",
    "heed_outbound_queue_url": "The outbound queue's URL",
    "handle_inbound_email_role_arn": "The inbound mail function's role (infra/template.yaml HandleInboundEmailRole "
                                     "grants); invoke it from the inbound bucket's ObjectCreated notifications",
    "heed_email_domain": "The mail domain of reply addresses (an SES-verified identity); empty turns email off",
    "heed_email_from": "Heed's From address, <local part>@<heed_email_domain>",
    "heed_inbound_bucket_name": "The inbound mail bucket the SES receipt rule writes to (InboundMailBucket); its "
                                "ObjectCreated notifications under mail/ are managed here",
    "heed_inbound_failures_queue_arn": "The SQS queue for inbound mail that failed after retries (InboundMailFailures)",
}


def rewrite(tf: dict[str, Any]) -> dict[str, Any]:
    tf["terraform"] = {"required_version": ">= 1.3.0",
                       "required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.0, < 6.0"}}}
    tf.get("data", {}).pop("null_data_source", None)
    tf["variable"] = {name: {"type": "string", "description": text} for name, text in VARIABLES.items()}
    functions = tf["resource"]["aws_lambda_function"]
    for name in FUNCTIONS:
        function = functions[name]
        function["role"] = f"${{var.{name}_role_arn}}"
        variables = function.setdefault("environment", {}).setdefault("variables", {})
        variables["HEED_TABLE"] = "${var.heed_table_name}"
        if name not in ("sla_tick", "handle_inbound_email", "reports_daily"):
            variables["HEED_OUTBOUND_QUEUE_URL"] = "${var.heed_outbound_queue_url}"
        if name != "sla_tick":
            variables["HEED_EMAIL_DOMAIN"] = "${var.heed_email_domain}"
            variables["HEED_EMAIL_FROM"] = "${var.heed_email_from}"
    functions["sla_tick"]["environment"]["variables"]["HEED_PUBLIC_URL"] = (
        "${aws_api_gateway_deployment.rest_api.invoke_url}")
    mapping = _stream_mapping(tf)
    source = _template_stream_source()
    mapping.update({
        "event_source_arn": "${var.heed_table_stream_arn}",
        "starting_position": source["StartingPosition"],
        "bisect_batch_on_function_error": source["BisectBatchOnFunctionError"],
        "maximum_retry_attempts": source["MaximumRetryAttempts"],
        "destination_config": {"on_failure": {"destination_arn": "${var.heed_stream_failures_queue_arn}"}},
        "filter_criteria": {"filter": [{"pattern": f["Pattern"]} for f in source["FilterCriteria"]["Filters"]]},
    })
    _mapping(tf, "deliver_outbound").update({"event_source_arn": "${var.heed_outbound_queue_arn}",
                                             "function_response_types": ["ReportBatchItemFailures"]})
    _inbound_mail(tf)
    return tf


def _inbound_mail(tf: dict[str, Any]) -> None:
    """S3 -> handle_inbound_email, as the template's S3 event and EventInvokeConfig give it to CloudFormation."""
    resources = _template_resources()
    invoke = resources["HandleInboundEmailInvokeConfig"]["Properties"]
    (rule,) = resources["HandleInboundEmail"]["Properties"]["Events"]["InboundMail"]["Properties"]["Filter"][
        "S3Key"]["Rules"]
    function = "aws_lambda_function.handle_inbound_email"
    bucket_arn = "arn:${data.aws_partition.chalice.partition}:s3:::${var.heed_inbound_bucket_name}"
    tf.setdefault("data", {}).setdefault("aws_partition", {}).setdefault("chalice", {})
    tf.setdefault("data", {}).setdefault("aws_caller_identity", {}).setdefault("chalice", {})
    resource = tf["resource"]
    resource.setdefault("aws_lambda_permission", {})["handle_inbound_email_s3"] = {
        "statement_id": "inbound-mail-bucket", "action": "lambda:InvokeFunction",
        "function_name": f"${{{function}.function_name}}", "principal": "s3.amazonaws.com",
        "source_arn": bucket_arn, "source_account": "${data.aws_caller_identity.chalice.account_id}"}
    resource.setdefault("aws_s3_bucket_notification", {})["inbound_mail"] = {
        "bucket": "${var.heed_inbound_bucket_name}",
        "lambda_function": [{"lambda_function_arn": f"${{{function}.arn}}", "events": ["s3:ObjectCreated:*"],
                             "filter_prefix": rule["Value"]}],
        "depends_on": ["aws_lambda_permission.handle_inbound_email_s3"]}
    resource.setdefault("aws_lambda_function_event_invoke_config", {})["handle_inbound_email"] = {
        "function_name": f"${{{function}.function_name}}", "qualifier": invoke["Qualifier"],
        "maximum_retry_attempts": invoke["MaximumRetryAttempts"],
        "maximum_event_age_in_seconds": invoke["MaximumEventAgeInSeconds"],
        "destination_config": {"on_failure": {"destination": "${var.heed_inbound_failures_queue_arn}"}}}


def _stream_mapping(tf: dict[str, Any]) -> dict[str, Any]:
    return _mapping(tf, "sla_stream")


def _mapping(tf: dict[str, Any], function: str) -> dict[str, Any]:
    (mapping,) = [m for name, m in tf["resource"]["aws_lambda_event_source_mapping"].items()
                  if name.startswith(function)]
    return mapping


def _template_stream_source() -> dict[str, Any]:
    """The stream mapping's settings as infra/template.yaml gives them to CloudFormation: one definition."""
    return _template_resources()["SlaStream"]["Properties"]["Events"]["SlaStreamDynamodbEventSource"]["Properties"]


def _template_resources() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE.read_text())["Resources"]


def main(path: str) -> None:
    target = Path(path)
    tf = rewrite(json.loads(target.read_text()))
    target.write_text(json.dumps(tf, indent=2) + "\n")
    print(f"{target}: Terraform JSON for Chalice's resources; inputs: {', '.join(VARIABLES)}")


if __name__ == "__main__":
    main(sys.argv[1])
