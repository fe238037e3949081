"""Email through SES: one raw MIME message per send, so Heed sets its own headers.

Raw sending (not SES's simple ``SendEmail``) is what lets a handoff or a report
carry ``Message-ID``, ``In-Reply-To``/``References`` (threading in the
customer's mail client), ``Reply-To`` and inline SVG parts.
"""
from __future__ import annotations

from email.message import EmailMessage

from functions import aws
from functions.log import log


class EmailNotSent(Exception):
    """SES refused or failed after botocore's retries; the reason names the SES error code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def send(message: EmailMessage) -> str:
    """Send ``message`` as it is (its From must be an SES-verified identity); returns SES's message id."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = aws.client("ses").send_raw_email(RawMessage={"Data": message.as_bytes()})
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        log("email_failed", level="ERROR", error=code)
        raise EmailNotSent(code) from exc
    except BotoCoreError as exc:
        log("email_failed", level="ERROR", error=type(exc).__name__)
        raise EmailNotSent(type(exc).__name__) from exc
    return answer["MessageId"]
