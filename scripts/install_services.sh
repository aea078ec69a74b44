#!/usr/bin/env bash
# Installs the servers the tests start privately (tests/support/services.py): Debian's
# `postgresql` (initdb and postgres under /usr/lib/postgresql/<version>/bin) and `redis-server`.
# The tests run their own instances on free ports; these packages are only where the binaries
# come from. Does nothing when both are there.
set -euo pipefail

# The directory with initdb and postgres: Debian's newest version, else initdb on PATH.
postgres_bin_dir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
            echo "$dir"
            return
        fi
    done
    local initdb
    if initdb=$(command -v initdb 2>/dev/null) && [ -x "$(dirname "$initdb")/postgres" ]; then
        dirname "$initdb"
    fi
}

report() {
    echo "postgres: $("$(postgres_bin_dir)/postgres" --version)"
    echo "redis-server: $(redis-server --version)"
}

packages=()
[ -n "$(postgres_bin_dir)" ] || packages+=(postgresql)
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
if [ ${#packages[@]} -eq 0 ]; then
    report
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: ${packages[*]} missing and this system has no apt-get. Install PostgreSQL" \
         "(initdb, postgres) and redis-server; the tests start their own instances of them." >&2
    exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo)
    else
        echo "error: ${packages[*]} missing and installing needs root: run" \
             "'sudo scripts/install_services.sh' (it runs apt-get install ${packages[*]})." >&2
        exit 1
    fi
fi

echo "Installing Debian's ${packages[*]} (apt-get)..."
if ! { "${sudo[@]}" apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null; }; then
    echo "error: 'apt-get install ${packages[*]}' failed (see above); the tests need them." >&2
    exit 1
fi
if [ -z "$(postgres_bin_dir)" ] || ! command -v redis-server >/dev/null 2>&1; then
    echo "error: the packages installed, but initdb/postgres or redis-server is still missing." >&2
    exit 1
fi
report
