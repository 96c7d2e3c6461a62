#!/usr/bin/env bash
# line-bot-sdk, LINE's own Messaging API SDK for Python, as an independent peer
# of the LINE channel (crates/channels/tests/line_peer.rs and
# crates/app/tests/app/chatapps.rs): its signature validator checks the
# x-line-signature we compute, its WebhookParser reads the bodies our tests
# post, and its models validate the reply and push requests textdesk sends.
# Pinned so the peer only changes when we choose to.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
LINE_VERSION="3.27.0"
venv="$PEERS_DIR/line"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('line-bot-sdk') != '$LINE_VERSION')" 2>/dev/null; then
    echo "line-bot-sdk $LINE_VERSION already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "line-bot-sdk==$LINE_VERSION"
"$venv/bin/python" -c "import importlib.metadata as m; print('line-bot-sdk', m.version('line-bot-sdk'), 'installed')"
