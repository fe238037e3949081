"""``make report``: the weekly report now, against the running local stack (``make run``).

Points Heed at the local emulator, verifies the sender in moto's SES (the
cloud needs a verified identity too), sends the report for the seven days
that ended yesterday and says where the mail went: moto keeps it, readable at
``<emulator>/moto-api/data.json`` (``ses`` / ``sent_messages``).
"""
from __future__ import annotations

import os
import sys

from local.stack import DEFAULT_MOTO_PORT, LOCAL_SECRETS, LOCAL_SETTINGS

LOCAL_FROM = "reports@heed.local"
LOCAL_RECIPIENTS = "manager@heed.local"


def main() -> int:
    for name, value in {**LOCAL_SECRETS, **LOCAL_SETTINGS}.items():
        os.environ.setdefault(name, value)
    endpoint = os.environ.setdefault(
        "AWS_ENDPOINT_URL", f"http://127.0.0.1:{os.environ.get('HEED_EMULATOR_PORT', DEFAULT_MOTO_PORT)}")
    os.environ.setdefault("HEED_EMAIL_FROM", LOCAL_FROM)
    os.environ.setdefault("HEED_REPORT_RECIPIENTS", LOCAL_RECIPIENTS)
    import boto3
    from botocore.exceptions import EndpointConnectionError

    try:
        tables = boto3.client("dynamodb").list_tables()["TableNames"]
    except EndpointConnectionError:
        print(f"no local stack at {endpoint}: start it with `make run` first", file=sys.stderr)
        return 2
    if not tables:
        print(f"no table at {endpoint}: is `make run` ready?", file=sys.stderr)
        return 2
    os.environ.setdefault("HEED_TABLE", tables[0])
    boto3.client("ses").verify_email_identity(EmailAddress=os.environ["HEED_EMAIL_FROM"])
    from functions import weekly_report

    code = weekly_report.main(sys.argv[1:])
    if code == 0:
        print(f"the mail is in moto's SES: curl -s {endpoint}/moto-api/data.json | python3 -c "
              "'import json,sys; print(json.load(sys.stdin)[\"ses\"])'")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
