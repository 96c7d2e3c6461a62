#!/usr/bin/env bash
# python-telegram-bot, a well-kept Bot API library for Python, as an
# independent peer of the Telegram channel (crates/channels/tests/telegram_peer.rs
# and crates/app/tests/app/chatapps.rs): its Update/Message models build and read
# what Telegram posts, and its Bot sends through our fake Bot API so our client's
# requests are compared with another client's. Pinned so the peer only changes
# when we choose to.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
PTB_VERSION="22.8"
venv="$PEERS_DIR/telegram"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('python-telegram-bot') != '$PTB_VERSION')" 2>/dev/null; then
    echo "python-telegram-bot $PTB_VERSION already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "python-telegram-bot==$PTB_VERSION"
"$venv/bin/python" -c "import importlib.metadata as m; print('python-telegram-bot', m.version('python-telegram-bot'), 'installed')"
