"""Deploy ``infra/template.yaml`` to an emulator's CloudFormation (moto in server mode).

The same file is merged into Chalice's template for the cloud, so local and
cloud share one definition. Two kinds of resource are dropped here: overlays on
Chalice's functions (no ``Type``) and resources marked
``Metadata: {Heed: {Local: false}}`` (IAM for Chalice's role). Locally there is
no function to overlay and no role to grant.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "template.yaml"
STACK_NAME = "heed-local"
# The template's parameters without defaults; in the cloud `make deploy` passes the stage's values.
LOCAL_PARAMETERS = {"Stage": "local", "SecretsPath": "/heed/local", "EmailDomain": "mail.heed.example"}


def local_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The infra template without what only exists beside Chalice's resources in the cloud."""
    template = yaml.safe_load(path.read_text())
    template["Resources"] = {name: res for name, res in template["Resources"].items() if _local(res)}
    return template


def _local(resource: dict[str, Any]) -> bool:
    return "Type" in resource and resource.get("Metadata", {}).get("Heed", {}).get("Local", True)


def deploy(endpoint_url: str, stack_name: str = STACK_NAME) -> dict[str, str]:
    """Create (or update) the stack and return its outputs, e.g. ``{"HeedTableName": ...}``."""
    cfn = boto3.client("cloudformation", endpoint_url=endpoint_url)
    body = json.dumps(local_template())
    parameters = [{"ParameterKey": key, "ParameterValue": value} for key, value in LOCAL_PARAMETERS.items()]
    existing = cfn.describe_stacks()["Stacks"]
    if any(s["StackName"] == stack_name and s["StackStatus"] != "DELETE_COMPLETE" for s in existing):
        try:
            cfn.update_stack(StackName=stack_name, TemplateBody=body, Parameters=parameters)
        except cfn.exceptions.ClientError as exc:
            if "No updates" not in str(exc):
                raise
    else:
        cfn.create_stack(StackName=stack_name, TemplateBody=body, Parameters=parameters)
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        raise RuntimeError(f"stack {stack_name} is {stack['StackStatus']}")
    verify_email_domain(endpoint_url)
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def verify_email_domain(endpoint_url: str, domain: str = LOCAL_PARAMETERS["EmailDomain"]) -> None:
    """What a brand does once in the SES console: verify the mail domain (moto refuses unverified senders).

    The receipt rule set isn't deployed locally (moto's CloudFormation has no SES
    receipt rules); the pump plays its S3 notifications instead.
    """
    boto3.client("ses", endpoint_url=endpoint_url).verify_domain_identity(Domain=domain)
