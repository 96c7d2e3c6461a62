#!/usr/bin/env bash
# Chromium (Debian's package, with a colour emoji font so screenshots show
# emoji as agents see them) and Playwright's client library (playwright-core,
# pinned in e2e/package-lock.json) for the browser tests in e2e/, driven by
# crates/app/tests/browser.rs. Playwright never downloads a browser here: the
# tests launch /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || missing+=(fonts-noto-color-emoji)
if [ ${#missing[@]} -gt 0 ]; then
    echo "test-deps: installing Debian's ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
echo "test-deps: npm ci in e2e/"
cd e2e
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
