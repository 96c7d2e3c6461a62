#!/usr/bin/env bash
# node-smpp as an independent SMSC for crates/channels/tests/smpp_peer.rs.
# Installed from the committed lock file into $PEERS_DIR/smpp, outside the source tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
src=crates/channels/tests/peers/smpp
dest="$PEERS_DIR/smpp"
if ! command -v npm >/dev/null 2>&1; then
    echo "30-npm-smpp: npm is not installed; install Node.js 20 (apt-get install nodejs npm)" >&2
    exit 1
fi
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
npm ci --prefix "$dest" --no-audit --no-fund --loglevel=error
echo "30-npm-smpp: node-smpp installed in $dest"
