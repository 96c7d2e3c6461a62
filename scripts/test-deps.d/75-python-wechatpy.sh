#!/usr/bin/env bash
# wechatpy, a well-kept WeChat SDK for Python, as an independent peer of the
# WeChat channel (crates/channels/tests/wechat_peer.rs): its crypto module
# signs and encrypts messages as WeChat does (we must read them) and decrypts
# what we encrypt, its signature check accepts ours, its parser reads the XML
# our fake posts, and its client sends through our fake WeChat API so the fake
# and our client are compared with what another client sends.
# Pinned so the peer only changes when we choose to.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
WECHATPY_VERSION="1.8.18"
venv="$PEERS_DIR/wechatpy"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('wechatpy') != '$WECHATPY_VERSION')" 2>/dev/null; then
    echo "python wechatpy $WECHATPY_VERSION already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "wechatpy[cryptography]==$WECHATPY_VERSION"
"$venv/bin/python" -c "import importlib.metadata as m; print('python wechatpy', m.version('wechatpy'), 'installed')"
