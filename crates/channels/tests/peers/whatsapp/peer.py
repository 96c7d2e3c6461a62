"""pywa as an independent peer of textdesk's WhatsApp channel.

Reads one JSON request on stdin and prints one JSON answer:
- {"op": "verify", "cases": [{"secret", "body", "signature"}]}: pywa's check of each X-Hub-Signature-256.
- {"op": "parse", "dir": ...}: each fixture read by pywa's own types (what a message or status is).
- {"op": "send", "api_base", "phone_id", "token", "to", "text", "template", "language", "values",
   "header"?: {"kind": "text"|"image"|"video"|"document", "value"}, "buttons"?: [{"kind": "quick_reply"|"url", "index", "value"}]}:
  a text and a template (with its header's and buttons' parameters) sent by pywa's client to the given Graph API (our fake).
"""
import glob
import json
import os
import sys

from pywa import WhatsApp, types, utils
from pywa.types.templates import (
    BodyText,
    HeaderDocument,
    HeaderImage,
    HeaderText,
    HeaderVideo,
    QuickReplyButton,
    TemplateLanguage,
    URLButton,
)


def verify(req):
    return [
        utils.webhook_updates_validator(c["secret"], c["body"].encode("utf-8"), c["signature"])
        for c in req["cases"]
    ]


def parse(req):
    wa = WhatsApp(phone_id="0", token="peer", server=None)
    out = {}
    for path in sorted(glob.glob(os.path.join(req["dir"], "*.json"))):
        name = os.path.basename(path)[:-5]
        update = json.load(open(path, encoding="utf-8"))
        value = update["entry"][0]["changes"][0]["value"]
        if "messages" in value:
            m = types.Message.from_update(client=wa, update=update)
            out[name] = {
                "type": str(m.type),
                "wa_id": m.from_user.wa_id,
                "name": m.from_user.name,
                "id": m.id,
                "text": m.text if m.type == "text" else None,
                "caption": m.caption,
            }
        elif "statuses" in value:
            s = types.MessageStatus.from_update(client=wa, update=update)
            out[name] = {"status": str(s.status), "id": s.id, "error": s.error.code if s.error else None}
    return out


def send(req):
    wa = WhatsApp(phone_id=req["phone_id"], token=req["token"], server=None)
    # pywa always talks to graph.facebook.com; its session is pointed at our fake instead.
    wa.api._session.base_url = req["api_base"]
    text = wa.send_message(to=req["to"], text=req["text"])
    params = []
    header = req.get("header")
    if header:
        kind, value = header["kind"], header["value"]
        params.append(
            {
                "text": lambda: HeaderText.params(value),
                "image": lambda: HeaderImage.params(image=value),
                "video": lambda: HeaderVideo.params(video=value),
                "document": lambda: HeaderDocument.params(document=value, filename=None),
            }[kind]()
        )
    if req["values"]:
        params.append(BodyText.params(*req["values"]))
    for b in req.get("buttons", []):
        if b["kind"] == "quick_reply":
            params.append(QuickReplyButton.params(callback_data=b["value"], index=b["index"]))
        else:
            params.append(URLButton.params(url_variable=b["value"], index=b["index"]))
    template = wa.send_template(
        to=req["to"], name=req["template"], language=TemplateLanguage(req["language"]), params=params
    )
    return {"text": text.id, "template": template.id}


def main():
    req = json.load(sys.stdin)
    answer = {"verify": verify, "parse": parse, "send": send}[req["op"]](req)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
