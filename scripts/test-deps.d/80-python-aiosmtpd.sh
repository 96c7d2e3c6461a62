#!/usr/bin/env bash
# aiosmtpd, a real SMTP server, for the email escalation tests
# (crates/app/tests/app/escalations.rs): the test starts it on a free port and
# reads what it received from a Maildir. Pinned so the peer only changes when
# we choose to.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS_DIR="${PEERS_DIR:-$PWD/target/peers}"
AIOSMTPD_VERSION="1.4.6"
venv="$PEERS_DIR/aiosmtpd"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('aiosmtpd') != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    echo "python aiosmtpd $AIOSMTPD_VERSION already installed in $venv"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
"$venv/bin/python" -c "import importlib.metadata as m; print('python aiosmtpd', m.version('aiosmtpd'), 'installed')"
