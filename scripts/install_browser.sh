#!/usr/bin/env bash
# Installs the browser the browser tests drive: Debian's `chromium` package at /usr/bin/chromium
# (Playwright is told to use it; no browser is downloaded). Does nothing when it is there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo "present at $CHROMIUM")"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: $CHROMIUM is missing and this system has no apt-get. Install Chromium so that" \
         "$CHROMIUM runs it (the browser tests need it)." >&2
    exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo)
    else
        echo "error: $CHROMIUM is missing and installing it needs root: run" \
             "'sudo scripts/install_browser.sh' (it runs apt-get install chromium)." >&2
        exit 1
    fi
fi

echo "Installing Debian's chromium package (apt-get)..."
if ! { "${sudo[@]}" apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >/dev/null; }; then
    echo "error: 'apt-get install chromium' failed (see above); the browser tests need $CHROMIUM." >&2
    exit 1
fi
if [ ! -x "$CHROMIUM" ]; then
    echo "error: the chromium package installed, but $CHROMIUM is not there." >&2
    exit 1
fi
echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo "installed at $CHROMIUM")"
