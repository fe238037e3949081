"""SMS through SNS: Transactional, so carriers deliver alerts promptly."""
from __future__ import annotations

from functions import aws
from functions.log import log


def send(phone: str, text: str) -> bool:
    """Publish one SMS; False when SNS refused or failed after botocore's retries (logged, never the number)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        aws.client("sns").publish(
            PhoneNumber=phone,
            Message=text,
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )
        return True
    except (BotoCoreError, ClientError) as exc:
        log("sms_failed", level="ERROR", error=type(exc).__name__)
        return False
