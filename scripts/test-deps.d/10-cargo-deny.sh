#!/usr/bin/env bash
# cargo-deny, which .ci/run uses to check the dependency tree's licences,
# bans and sources (deny.toml). Built from crates.io, pinned.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
DENY_VERSION="0.20.2"
root="$PEERS_DIR/cargo-deny"
if [ -x "$root/bin/cargo-deny" ] && "$root/bin/cargo-deny" --version | grep -q " $DENY_VERSION\$"; then
    echo "cargo-deny $DENY_VERSION already installed in $root"
    exit 0
fi
cargo install --quiet --locked cargo-deny --version "$DENY_VERSION" --root "$root"
"$root/bin/cargo-deny" --version
