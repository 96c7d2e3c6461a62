"""wechatpy as an independent peer of textdesk's WeChat channel.

Reads one JSON request on stdin and prints one JSON answer:
- {"op": "verify", "cases": [{"token", "signature", "timestamp", "nonce"}]}: wechatpy's check of each signature.
- {"op": "encrypt", "token", "key", "app_id", "xml", "nonce", "timestamp"}: the message sealed by wechatpy.
- {"op": "decrypt", "token", "key", "app_id", "body", "msg_signature", "timestamp", "nonce"}: a sealed body opened
  by wechatpy, or {"error": ...}.
- {"op": "parse", "xml"}: the message as wechatpy reads it.
- {"op": "send", "api_base", "app_id", "secret", "openid", "text"}: a customer-service text sent by wechatpy's
  client to the given API (our fake).
- {"op": "send_media", "api_base", "app_id", "secret", "openid", "kind", "file_name", "content_type", "base64"}:
  a file uploaded as temporary media by wechatpy's client, then sent as a picture, voice or video message.
"""
import base64
import io
import json
import sys

import requests

from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature


def verify(req):
    out = []
    for c in req["cases"]:
        try:
            check_signature(c["token"], c["signature"], c["timestamp"], c["nonce"])
            out.append(True)
        except InvalidSignatureException:
            out.append(False)
    return out


def encrypt(req):
    crypto = WeChatCrypto(req["token"], req["key"], req["app_id"])
    return {"xml": crypto.encrypt_message(req["xml"], req["nonce"], req["timestamp"])}


def decrypt(req):
    crypto = WeChatCrypto(req["token"], req["key"], req["app_id"])
    try:
        return {"xml": crypto.decrypt_message(req["body"], req["msg_signature"], req["timestamp"], req["nonce"])}
    except (InvalidSignatureException, InvalidAppIdException) as e:
        return {"error": type(e).__name__}


def parse(req):
    m = parse_message(req["xml"])
    fields = {"type": m.type, "source": m.source, "target": m.target, "id": m.id}
    for name in ("content", "media_id", "recognition", "label", "event"):
        if hasattr(m, name):
            fields[name] = getattr(m, name)
    if m.type == "location":
        fields["location"] = list(m.location)
    return fields


def client_for(req):
    base = req["api_base"].rstrip("/") + "/cgi-bin/"
    client = WeChatClient(req["app_id"], req["secret"])
    client.API_BASE_URL = base
    # wechatpy asks for its token at WeChat's own address; ours is the fake's, asked the same way.
    token = requests.get(base + "token", params={"grant_type": "client_credential", "appid": req["app_id"],
                                                 "secret": req["secret"]}, timeout=10).json()
    client.session.set(client.access_token_key, token["access_token"])
    return client


def send(req):
    return client_for(req).message.send_text(req["openid"], req["text"])


def send_media(req):
    client = client_for(req)
    media = (req["file_name"], io.BytesIO(base64.b64decode(req["base64"])), req["content_type"])
    uploaded = client.media.upload(req["kind"], media)
    send = {"image": client.message.send_image, "voice": client.message.send_voice,
            "video": client.message.send_video}[req["kind"]]
    return {"upload": uploaded, "send": send(req["openid"], uploaded["media_id"])}


def main():
    req = json.load(sys.stdin)
    op = {"verify": verify, "encrypt": encrypt, "decrypt": decrypt, "parse": parse, "send": send,
          "send_media": send_media}[req["op"]]
    json.dump(op(req), sys.stdout, ensure_ascii=False, default=str)


if __name__ == "__main__":
    main()
