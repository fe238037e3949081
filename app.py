"""Heed's routes and events: wiring only. Each hands off to one function in ``functions/``."""
from chalice import Chalice

from functions.handlers import staff, webhooks

app = Chalice(app_name="heed")


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


# Staff API: bearer token (functions.http.require_staff).
@app.route("/conversations", methods=["GET"])
def list_conversations():
    return staff.list_conversations(app.current_request)


@app.route("/conversations/{conversation_id}", methods=["GET"])
def get_conversation(conversation_id):
    return staff.get_conversation(app.current_request, conversation_id)
