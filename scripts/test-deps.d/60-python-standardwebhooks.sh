#!/usr/bin/env bash
# The Standard Webhooks reference library for Python, as an independent check
# of our outgoing webhooks' signatures (crates/app/tests/app/webhooks.rs).
# Pinned so the peer only changes when we choose to.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
SW_VERSION="1.3.0"
venv="$PEERS_DIR/standardwebhooks"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('standardwebhooks') != '$SW_VERSION')" 2>/dev/null; then
    echo "python standardwebhooks $SW_VERSION already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "standardwebhooks==$SW_VERSION"
"$venv/bin/python" -c "import importlib.metadata as m; print('python standardwebhooks', m.version('standardwebhooks'), 'installed')"
