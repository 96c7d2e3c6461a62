"""Checks TwiML we serve against what Twilio's own Python helper library builds.

Reads {"xml": ..., "caller_id": ..., "number": ...} on stdin and builds the
expected <Dial callerId=…><Number>…</Number></Dial>, or with {"xml": ...,
"say": ...} the expected <Say>…</Say><Hangup/>, with twilio.twiml's
VoiceResponse; parses both, and exits 0 when they are the same document
(element names, attributes and text), else prints both and exits 1.
"""
import json
import sys
import xml.etree.ElementTree as ET

from twilio.twiml.voice_response import VoiceResponse


def shape(element):
    return (
        element.tag,
        sorted(element.attrib.items()),
        (element.text or "").strip(),
        [shape(child) for child in element],
    )


def main():
    request = json.load(sys.stdin)
    expected = VoiceResponse()
    if "say" in request:
        expected.say(request["say"])
        expected.hangup()
    else:
        dial = expected.dial(caller_id=request["caller_id"])
        dial.number(request["number"])
    want = str(expected)
    got = request["xml"]
    if shape(ET.fromstring(got.encode())) != shape(ET.fromstring(want.encode())):
        print("served:   " + got)
        print("expected: " + want)
        sys.exit(1)
    print("same TwiML as twilio-python's VoiceResponse")


if __name__ == "__main__":
    main()
