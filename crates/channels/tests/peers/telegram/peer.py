"""python-telegram-bot as an independent peer of textdesk's Telegram channel.

Reads one JSON request on stdin and prints one JSON answer:
- {"op": "build", "user_id", "first_name"}: updates of every kind textdesk keeps, made with
  python-telegram-bot's own Update / Message models and serialised as Telegram sends them.
- {"op": "send", "base", "token", "chat_id", "text", "photo", "caption"}: a text and a photo by
  link sent by python-telegram-bot's Bot to the given Bot API (our fake).
"""
import asyncio
import datetime
import json
import sys

from telegram import Bot, Chat, Contact, Document, Location, Message, PhotoSize, Update, User, Voice


def build(req):
    user = User(id=req["user_id"], first_name=req["first_name"], is_bot=False, last_name="Fisher")
    chat = Chat(id=req["user_id"], type=Chat.PRIVATE, first_name=req["first_name"])
    date = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    kinds = {
        "text": {"text": "Does the crown come in another shade?"},
        "photo": {
            "photo": [
                PhotoSize("AgACsmall", "AQADs", 90, 67, file_size=1200),
                PhotoSize("AgAClarge", "AQADl", 1280, 960, file_size=99000),
            ],
            "caption": "This tooth",
        },
        "document": {
            "document": Document("BQACdoc", "AgADd", file_name="invoice.pdf", mime_type="application/pdf", file_size=16)
        },
        "voice": {"voice": Voice("AwACvoice", "AgADv", 3, mime_type="audio/ogg", file_size=900)},
        "location": {"location": Location(longitude=-122.148981, latitude=37.483307)},
        "own_contact": {"contact": Contact("14155550123", req["first_name"], user_id=req["user_id"])},
        "other_contact": {"contact": Contact("+14155550124", "Bo", user_id=req["user_id"] + 1)},
    }
    out = {}
    for i, (name, content) in enumerate(kinds.items()):
        message = Message(message_id=100 + i, date=date, chat=chat, from_user=user, **content)
        out[name] = Update(update_id=9000 + i, message=message).to_dict()
    return out


async def send(req):
    bot = Bot(req["token"], base_url=req["base"] + "/bot", base_file_url=req["base"] + "/file/bot")
    async with bot:
        text = await bot.send_message(chat_id=req["chat_id"], text=req["text"])
        photo = await bot.send_photo(chat_id=req["chat_id"], photo=req["photo"], caption=req["caption"])
    return {"text": text.message_id, "photo": photo.message_id}


def main():
    req = json.load(sys.stdin)
    if req["op"] == "build":
        answer = build(req)
    elif req["op"] == "send":
        answer = asyncio.run(send(req))
    else:
        raise SystemExit("unknown op " + req["op"])
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
