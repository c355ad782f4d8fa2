#!/usr/bin/env bash
# Creates compare/asyncio/.venv (Python 3.11+) and installs the pinned
# requirements.txt. Safe to run twice, or from two launchers at once (a lock;
# the venv counts as ready only once .venv/.herd-ready exists).
# Usage: setup.sh [--force]     PYTHON=/path/to/python3.11 picks the interpreter.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
exec 9>"$here/.setup.lock"
flock 9
if [ "${1:-}" != "--force" ] && [ -e "$venv/.herd-ready" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
py="${PYTHON:-}"
if [ -z "$py" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null; then
      py="$candidate"
      break
    fi
  done
fi
if [ -z "$py" ]; then
  echo "herd: setup: needs Python 3.11 or newer (set PYTHON=...)" >&2
  exit 1
fi
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
touch "$venv/.herd-ready"
