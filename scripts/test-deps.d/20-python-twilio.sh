#!/usr/bin/env bash
# Twilio's own Python helper library, as an independent check of our request
# signatures (crates/channels/tests/twilio_peer.rs). Pinned so the peer only
# changes when we choose to.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
TWILIO_VERSION="9.13.0"
venv="$PEERS_DIR/python"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import twilio, sys; sys.exit(twilio.__version__ != '$TWILIO_VERSION')" 2>/dev/null; then
    echo "python twilio $TWILIO_VERSION already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "twilio==$TWILIO_VERSION"
"$venv/bin/python" -c "import twilio; print('python twilio', twilio.__version__, 'installed')"
