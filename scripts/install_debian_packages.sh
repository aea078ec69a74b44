#!/usr/bin/env bash
# Installs Debian packages a make target needs, when a program they provide is missing.
#
#   scripts/install_debian_packages.sh "WHO NEEDS THEM" PROGRAM=PACKAGE [PROGRAM=PACKAGE ...]
#
# PROGRAM is a command on PATH (redis-server) or a path, which may be a glob
# (/usr/lib/postgresql/*/bin/initdb). Packages whose program is there are skipped; when every
# program is there, nothing runs (no root needed). Uses apt-get, with sudo when not root.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 \"who needs them\" PROGRAM=PACKAGE [PROGRAM=PACKAGE ...]" >&2
    exit 2
fi
needed_by=$1
shift

# The program's path if present, else nothing.
find_program() {
    local program=$1 match
    if [[ $program == */* ]]; then
        for match in $program; do
            [ -x "$match" ] && { echo "$match"; return; }
        done
    else
        command -v "$program" 2>/dev/null || true
    fi
}

missing_packages() {
    local pair
    for pair in "$@"; do
        [ -n "$(find_program "${pair%%=*}")" ] || echo "${pair#*=}"
    done
}

report() {
    local pair
    for pair in "$@"; do
        echo "${pair#*=}: $(find_program "${pair%%=*}")"
    done
}

mapfile -t packages < <(missing_packages "$@")
if [ ${#packages[@]} -eq 0 ]; then
    report "$@"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: ${packages[*]} missing and this system has no apt-get. Install them" \
         "($needed_by needs them)." >&2
    exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo)
    else
        echo "error: ${packages[*]} missing and installing needs root: run" \
             "'sudo $0 \"$needed_by\" $*' (it runs apt-get install ${packages[*]})." >&2
        exit 1
    fi
fi

echo "Installing Debian's ${packages[*]} for $needed_by (apt-get)..."
if ! { "${sudo[@]}" apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
           "${packages[@]}" >/dev/null; }; then
    echo "error: 'apt-get install ${packages[*]}' failed (see above); $needed_by needs them." >&2
    exit 1
fi
mapfile -t still_missing < <(missing_packages "$@")
if [ ${#still_missing[@]} -ne 0 ]; then
    echo "error: ${still_missing[*]} installed, but the program it provides is still missing." >&2
    exit 1
fi
report "$@"
