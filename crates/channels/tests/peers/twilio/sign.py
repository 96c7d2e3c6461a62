"""Signs a request the way Twilio's own Python helper library does.

Reads {"token": ..., "url": ..., "params": [[name, value], ...]} on stdin and
prints the X-Twilio-Signature. Repeated names are passed as a multi-valued
mapping, as a web framework would hand them over.
"""
import json
import sys

from twilio.request_validator import RequestValidator


class MultiParams(dict):
    """A dict of name -> [values] that answers getall() like a MultiDict."""

    def getall(self, name):
        return self[name]


def main():
    request = json.load(sys.stdin)
    params = MultiParams()
    for name, value in request["params"]:
        params.setdefault(name, []).append(value)
    validator = RequestValidator(request["token"])
    print(validator.compute_signature(request["url"], params))


if __name__ == "__main__":
    main()
