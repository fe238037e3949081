"""Heed's routes and events: wiring only. Each hands off to one function in ``functions/``."""
import os

from chalice import Chalice, Cron, Rate

from functions.handlers import ack, dashboard, events, reports, staff, webhooks
from functions.http import staff_authorizer

app = Chalice(app_name="heed")

# Staff routes: API Gateway checks a Cognito or IAM identity when the stage sets
# HEED_STAFF_AUTH=cognito|iam; with "token" (None here) require_staff checks the bearer token.
STAFF_AUTHORIZER = staff_authorizer()


@app.route("/health")
def health():
    return {"status": "ok"}


# Platform webhooks: public, each verifies its platform's proof.
@app.route("/webhooks/meta", methods=["GET"])
def meta_handshake():
    return webhooks.meta_handshake(app.current_request)


@app.route("/webhooks/meta", methods=["POST"])
def meta_delivery():
    return webhooks.meta_delivery(app.current_request)


@app.route("/webhooks/x", methods=["GET"])
def x_crc():
    return webhooks.x_crc(app.current_request)


@app.route("/webhooks/x", methods=["POST"])
def x_delivery():
    return webhooks.x_delivery(app.current_request)


@app.route("/webhooks/telegram", methods=["POST"])
def telegram_delivery():
    return webhooks.telegram_delivery(app.current_request)


# Staff API: the stage's authorizer, or the bearer token (functions.http.require_staff).
@app.route("/conversations", methods=["GET"], authorizer=STAFF_AUTHORIZER)
def list_conversations():
    return staff.list_conversations(app.current_request)


@app.route("/conversations/{conversation_id}", methods=["GET"], authorizer=STAFF_AUTHORIZER)
def get_conversation(conversation_id):
    return staff.get_conversation(app.current_request, conversation_id)


@app.route("/conversations/{conversation_id}/resolve", methods=["POST"], authorizer=STAFF_AUTHORIZER)
def resolve_conversation(conversation_id):
    return staff.resolve_conversation(app.current_request, conversation_id)


@app.route("/conversations/{conversation_id}/reopen", methods=["POST"], authorizer=STAFF_AUTHORIZER)
def reopen_conversation(conversation_id):
    return staff.reopen_conversation(app.current_request, conversation_id)


@app.route("/conversations/{conversation_id}/replies", methods=["POST"], authorizer=STAFF_AUTHORIZER)
def reply(conversation_id):
    return staff.reply(app.current_request, conversation_id)


@app.route("/conversations/{conversation_id}/handoff", methods=["POST"], authorizer=STAFF_AUTHORIZER)
def hand_off(conversation_id):
    return staff.hand_off(app.current_request, conversation_id)


@app.route("/reports/response-times", methods=["GET"], authorizer=STAFF_AUTHORIZER)
def report_response_times():
    return reports.response_times(app.current_request)


@app.route("/reports/conversations.csv", methods=["GET"], authorizer=STAFF_AUTHORIZER)
def report_conversations_csv():
    return reports.conversations_csv(app.current_request)


# The staff dashboard: a page without data; its script calls the staff API with the staff token.
@app.route("/dashboard", methods=["GET"])
def staff_dashboard():
    return dashboard.page()


@app.route("/conversations/{conversation_id}/labels", methods=["POST"], authorizer=STAFF_AUTHORIZER)
def relabel(conversation_id):
    return staff.relabel(app.current_request, conversation_id)


@app.route("/incidents", methods=["GET"], authorizer=STAFF_AUTHORIZER)
def list_incidents():
    return staff.list_incidents(app.current_request)


@app.route("/incidents/{incident_id}", methods=["GET"], authorizer=STAFF_AUTHORIZER)
def get_incident(incident_id):
    return staff.get_incident(app.current_request, incident_id)


@app.route("/incidents/{incident_id}/resolve", methods=["POST"], authorizer=STAFF_AUTHORIZER)
def resolve_incident(incident_id):
    return staff.resolve_incident(app.current_request, incident_id)


# One-tap acknowledgement from an alert SMS: the signed token is the credential.
@app.route("/ack/{token}", methods=["GET"])
def acknowledge(token):
    return ack.acknowledge(token)


# SLA clocks follow the table's stream. The ARN is set per stage by the merged
# template (infra/template.yaml); locally the pump reads moto's stream.
@app.on_dynamodb_record(stream_arn=os.environ.get("HEED_TABLE_STREAM_ARN", events.STREAM_ARN_PLACEHOLDER),
                        batch_size=100)
def sla_stream(event):
    events.on_table_records(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sla_tick(event):
    events.on_tick()


# Acknowledgements and staff replies, sent from the outbound queue (locally the pump).
@app.on_sqs_message(queue_arn=os.environ.get("HEED_OUTBOUND_QUEUE_ARN", events.QUEUE_ARN_PLACEHOLDER), batch_size=10)
def deliver_outbound(event):
    return events.on_outbound(event)


# Inbound email: an SES receipt rule writes raw mail to the inbound bucket, whose ObjectCreated
# notifications invoke this (wired in infra/template.yaml: Chalice can't package on_s3_event;
# locally the pump delivers them).
@app.lambda_function(name="handle_inbound_email")
def handle_inbound_email(event, context):
    return events.on_inbound_email(event)


# Day rollups for the reports, every morning; on Mondays also the weekly report by email.
@app.schedule(Cron(0, 6, "*", "*", "?", "*"))
def reports_daily(event):
    events.on_reports_day()
