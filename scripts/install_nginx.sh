#!/usr/bin/env bash
# Installs the reverse proxy of `make run-cluster`: Debian's `nginx` package at /usr/sbin/nginx
# (started with its own config under build/, not as a system service). Does nothing when it is there.
set -euo pipefail

NGINX=/usr/sbin/nginx

if [ -x "$NGINX" ]; then
    echo "nginx: $("$NGINX" -v 2>&1)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: $NGINX is missing and this system has no apt-get. Install nginx so that" \
         "$NGINX runs it (make run-cluster needs it)." >&2
    exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo)
    else
        echo "error: $NGINX is missing and installing it needs root: run" \
             "'sudo scripts/install_browser.sh' (it runs apt-get install nginx)." >&2
        exit 1
    fi
fi

echo "Installing Debian's nginx package (apt-get)..."
if ! { "${sudo[@]}" apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends nginx >/dev/null; }; then
    echo "error: 'apt-get install nginx' failed (see above); make run-cluster needs $NGINX." >&2
    exit 1
fi
if [ ! -x "$NGINX" ]; then
    echo "error: the nginx package installed, but $NGINX is not there." >&2
    exit 1
fi
echo "nginx: $("$NGINX" -v 2>&1)"
