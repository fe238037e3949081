"""Staff read API. Every route checks the bearer token first (``require_staff``).

What only some routes need (clocks, replies, handoff) is imported by those routes: the API's one Lambda
also answers the webhooks, whose cold start shouldn't pay for it.
"""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from chalice import Response

from functions.domain import triage
from functions.errors import BadRequest, NotFound
from functions.http import body_of, guarded, json_response, require_staff
from functions.store import dynamo

STATUSES = ("open", "resolved", "breached")
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
# conversations.conversation_id(): "c" + 24 base32 characters
CONVERSATION_ID = re.compile(r"c[a-z2-7]{24}")
MAX_REPLY_BODY = 64 * 1024  # the longest platform text (an X DM, 10,000 characters) fits many times


@guarded
def list_conversations(request: Any) -> Response:
    require_staff(request.headers, request.context)
    params = request.query_params or {}
    status = params.get("status", "open")
    if status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    limit = _limit(params.get("limit"))
    conversations, cursor = dynamo.list_conversations(status, limit, params.get("next"))
    return json_response(200, {"conversations": [c.to_json() for c in conversations], "next": cursor})


@guarded
def get_conversation(request: Any, conversation_id: str) -> Response:
    require_staff(request.headers, request.context)
    found = dynamo.get_conversation(conversation_id) if CONVERSATION_ID.fullmatch(conversation_id) else None
    if found is None:
        raise NotFound(f"no conversation {conversation_id[:64]}")
    return json_response(200, found.to_json(with_messages=True))


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


@guarded
def resolve_conversation(request: Any, conversation_id: str) -> Response:
    from functions import clocks

    require_staff(request.headers, request.context)
    if not CONVERSATION_ID.fullmatch(conversation_id) or not clocks.resolve(conversation_id):
        raise NotFound(f"no conversation {conversation_id[:64]}")
    return json_response(200, dynamo.get_conversation(conversation_id).to_json(with_messages=True))


@guarded
def reopen_conversation(request: Any, conversation_id: str) -> Response:
    require_staff(request.headers, request.context)
    if not CONVERSATION_ID.fullmatch(conversation_id) or not dynamo.set_status(conversation_id, "open"):
        raise NotFound(f"no conversation {conversation_id[:64]}")
    return json_response(200, dynamo.get_conversation(conversation_id).to_json(with_messages=True))


LABELS_BODY = 4 * 1024
INCIDENT_ID = re.compile(r"i[0-9a-f]{24}")


@guarded
def relabel(request: Any, conversation_id: str) -> Response:
    """``{"labels": [...], "priority": "high"}``: staff's triage; see functions/clocks.relabel."""
    from functions import clocks

    require_staff(request.headers, request.context)
    if not CONVERSATION_ID.fullmatch(conversation_id):
        raise NotFound(f"no conversation {conversation_id[:64]}")
    labels, priority = _labels_body(body_of(request, LABELS_BODY))
    if not clocks.relabel(conversation_id, labels, priority):
        raise NotFound(f"no conversation {conversation_id[:64]}")
    return json_response(200, dynamo.get_conversation(conversation_id).to_json(with_messages=True))


def _labels_body(raw: bytes) -> tuple[list[str], str | None]:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(body, dict) or set(body) - {"labels", "priority"} or "labels" not in body:
        raise BadRequest('body must be {"labels": [...], "priority": "..."} (priority optional)')
    labels = body["labels"]
    if not isinstance(labels, list) or not all(isinstance(label, str) and label in triage.LABELS for label in labels):
        raise BadRequest(f"labels must be a list of: {', '.join(triage.LABELS)}")
    if len(set(labels) & triage.DISMISSED) and len(set(labels) - triage.DISMISSED):
        raise BadRequest("noise and spam stand alone: no other label with them")
    priority = body.get("priority")
    if priority is not None and priority not in triage.PRIORITIES:
        raise BadRequest(f"priority must be one of: {', '.join(triage.PRIORITIES)}")
    return sorted(set(labels)), priority


@guarded
def list_incidents(request: Any) -> Response:
    from functions import incidents
    from functions.config import load_config
    from functions.domain.incidents import STATUSES as INCIDENT_STATUSES

    require_staff(request.headers, request.context)
    params = request.query_params or {}
    wanted = params.get("status") or None
    if wanted is not None and wanted not in INCIDENT_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(INCIDENT_STATUSES)}")
    found, cursor = incidents.listing(wanted, _limit(params.get("limit")), params.get("next"), load_config(),
                                      datetime.now(UTC))
    return json_response(200, {"incidents": found, "next": cursor})


@guarded
def get_incident(request: Any, incident_id: str) -> Response:
    from functions import incidents
    from functions.config import load_config

    require_staff(request.headers, request.context)
    found = dynamo.get_incident(incident_id) if INCIDENT_ID.fullmatch(incident_id) else None
    if found is None:
        raise NotFound(f"no incident {incident_id[:64]}")
    return json_response(200, incidents.view(found, load_config(), datetime.now(UTC)))


@guarded
def resolve_incident(request: Any, incident_id: str) -> Response:
    """Idempotent: resolving a resolved incident answers it as it is."""
    from functions import incidents
    from functions.config import load_config

    require_staff(request.headers, request.context)
    now = datetime.now(UTC)
    resolved = incidents.resolve(incident_id, now) if INCIDENT_ID.fullmatch(incident_id) else None
    if resolved is None:
        raise NotFound(f"no incident {incident_id[:64]}")
    return json_response(200, incidents.view(resolved, load_config(), now))


@guarded
def reply(request: Any, conversation_id: str) -> Response:
    from functions import replies

    require_staff(request.headers, request.context)
    if not CONVERSATION_ID.fullmatch(conversation_id):
        raise NotFound(f"no conversation {conversation_id[:64]}")
    raw = body_of(request, MAX_REPLY_BODY)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    queued = replies.queue_reply(conversation_id, body, request.headers.get("idempotency-key"))
    return json_response(202, {"id": queued.id, "status": "queued"})


MAX_HANDOFF_BODY = 4 * 1024


@guarded
def hand_off(request: Any, conversation_id: str) -> Response:
    """Move the conversation to email now; ``{"email": "..."}`` optional (the customer's address, if staff know it).

    Idempotent: a second call answers the same and sends nothing again.
    """
    from functions import handoff
    from functions.domain.handoff import email_address_in

    require_staff(request.headers, request.context)
    if not CONVERSATION_ID.fullmatch(conversation_id):
        raise NotFound(f"no conversation {conversation_id[:64]}")
    raw = body_of(request, MAX_HANDOFF_BODY) if request.raw_body else b""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(body, dict) or set(body) - {"email"}:
        raise BadRequest('body must be empty or a JSON object like {"email": "customer@example.com"}')
    address = body.get("email")
    if address is not None and (not isinstance(address, str) or
                                email_address_in(address) != address.strip().lower()):
        raise BadRequest("email must be one email address")
    state = handoff.hand_off(conversation_id, "staff", customer_email=address.strip().lower() if address else None)
    found = dynamo.get_conversation(conversation_id)
    assert found is not None and state.handoff is not None
    return json_response(200, {**found.to_json(with_messages=False), "reply_address": state.handoff.reply_address})
