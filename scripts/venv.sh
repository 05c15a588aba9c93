# Sourced by the scripts: make (once) and refresh the project's virtualenv in .venv.
# $1: the extras to install, e.g. "test" ("" for none).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Junban needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
# quiet when everything is already there; -e keeps the checkout itself importable
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
