#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter, or explains how to get one and exits 1.
# Rasa 3.6 supports Python 3.8-3.10 only; many machines have 3.10 only under pyenv.
set -u

is_py310() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1
}

# 1. An explicit choice wins.
if [ -n "${PYTHON:-}" ]; then
    if is_py310 "$PYTHON"; then echo "$PYTHON"; exit 0; fi
    echo "error: PYTHON=$PYTHON is not a working Python 3.10 interpreter." >&2
    exit 1
fi

# 2. python3.10 / python3 on PATH (a pyenv shim only counts when it really runs 3.10).
for candidate in python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && is_py310 "$candidate"; then
        command -v "$candidate"; exit 0
    fi
done

# 3. Any 3.10.x installed under pyenv, newest first.
if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -t. -k3 -n -r); do
        candidate="$(pyenv prefix "$version" 2>/dev/null)/bin/python3.10"
        if is_py310 "$candidate"; then echo "$candidate"; exit 0; fi
    done
fi

cat >&2 <<'MSG'
error: no Python 3.10 interpreter found (Rasa 3.6 does not support 3.11 or newer).
Install one, then run the make command again:
  - with pyenv:   pyenv install 3.10.13
  - on Debian/Ubuntu: sudo apt-get install python3.10 python3.10-venv (deadsnakes PPA on older Ubuntu)
  - or point to one you have: make install PYTHON=/path/to/python3.10
MSG
exit 1
