#!/usr/bin/env bash
# Independent readers of our OpenAPI document (crates/app/tests/openapi_peers.rs):
# openapi-python-client generates a client from it, and schemathesis sends
# generated requests to every operation and checks each answer against it.
# A venv of their own, pinned, so their dependencies never move the Twilio peer's.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
CLIENT_VERSION="0.29.1"
SCHEMATHESIS_VERSION="4.32.5"
venv="$PEERS_DIR/openapi"
if [ -x "$venv/bin/openapi-python-client" ] && [ -x "$venv/bin/schemathesis" ] \
    && "$venv/bin/python" -c "
import importlib.metadata as m, sys
sys.exit(m.version('openapi-python-client') != '$CLIENT_VERSION' or m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
    echo "openapi-python-client $CLIENT_VERSION and schemathesis $SCHEMATHESIS_VERSION already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "openapi-python-client==$CLIENT_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"
"$venv/bin/schemathesis" --version
"$venv/bin/openapi-python-client" --version
