#!/usr/bin/env bash
# pywa, a well-kept WhatsApp Cloud API library for Python, as an independent
# peer of the WhatsApp channel (crates/channels/tests/whatsapp_peer.rs): it
# checks Meta's X-Hub-Signature-256 on what our tests sign, reads Meta's
# example bodies we keep as fixtures, and sends through our fake Graph API so
# the fake and our client are compared with what another client sends.
# Pinned so the peer only changes when we choose to.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
PYWA_VERSION="4.5.0"
venv="$PEERS_DIR/pywa"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pywa') != '$PYWA_VERSION')" 2>/dev/null; then
    echo "python pywa $PYWA_VERSION already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "pywa==$PYWA_VERSION"
"$venv/bin/python" -c "import importlib.metadata as m; print('python pywa', m.version('pywa'), 'installed')"
