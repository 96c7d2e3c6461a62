"""line-bot-sdk (LINE's own SDK) as an independent peer of textdesk's LINE channel.

Reads one JSON request on stdin and prints one JSON answer:
- {"op": "verify", "cases": [{"secret", "body", "signature"}]}: the SDK's check of each x-line-signature.
- {"op": "parse", "secret", "body", "signature"}: the events as the SDK's WebhookParser reads them.
- {"op": "validate", "requests": [{"kind": "reply"|"push", "body"}]}: each body read by the SDK's
  ReplyMessageRequest / PushMessageRequest models (what LINE accepts), and written back.
- {"op": "push", "host", "token", "to", "text", "image"}: a push sent by the SDK's MessagingApi
  to the given host (our fake).
"""
import json
import sys

from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    ImageMessage,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhook import SignatureValidator


def verify(req):
    return [SignatureValidator(c["secret"]).validate(c["body"], c["signature"]) for c in req["cases"]]


def parse(req):
    try:
        events = WebhookParser(req["secret"]).parse(req["body"], req["signature"])
    except InvalidSignatureError:
        return {"error": "signature"}
    out = []
    for e in events:
        source = getattr(e, "source", None)
        message = getattr(e, "message", None)
        delivery = getattr(e, "delivery_context", None)
        out.append({
            "type": getattr(e, "type", None),
            "source": getattr(source, "type", None),
            "user_id": getattr(source, "user_id", None),
            "event_id": getattr(e, "webhook_event_id", None),
            "redelivery": getattr(delivery, "is_redelivery", None),
            "reply_token": getattr(e, "reply_token", None),
            "message_type": getattr(message, "type", None),
            "message_id": getattr(message, "id", None),
            "text": getattr(message, "text", None),
            "file_name": getattr(message, "file_name", None),
        })
    return out


def validate(req):
    out = []
    for r in req["requests"]:
        model = ReplyMessageRequest if r["kind"] == "reply" else PushMessageRequest
        try:
            parsed = model.from_dict(r["body"])
            out.append({"ok": parsed is not None, "written": parsed.to_dict()})
        except Exception as e:  # pydantic's ValidationError and the SDK's own ValueErrors
            out.append({"ok": False, "error": type(e).__name__})
    return out


def push(req):
    config = Configuration(host=req["host"], access_token=req["token"])
    with ApiClient(config) as client:
        api = MessagingApi(client)
        messages = [TextMessage(text=req["text"]),
                    ImageMessage(original_content_url=req["image"], preview_image_url=req["image"])]
        answer = api.push_message(PushMessageRequest(to=req["to"], messages=messages))
    return {"ids": [m.id for m in answer.sent_messages]}


def main():
    req = json.load(sys.stdin)
    ops = {"verify": verify, "parse": parse, "validate": validate, "push": push}
    json.dump(ops[req["op"]](req), sys.stdout)


if __name__ == "__main__":
    main()
