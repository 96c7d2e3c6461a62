"""Checks TwiML we serve against what Twilio's own Python helper library builds.

Reads {"xml": ..., "caller_id": ..., "number": ...} on stdin. Builds the
expected <Dial callerId=…><Number>…</Number></Dial> with twilio.twiml's
VoiceResponse, parses both, and exits 0 when they are the same document
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
