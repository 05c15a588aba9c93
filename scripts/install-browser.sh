# Sourced by scripts/test: make sure a headless Chromium (page tests), a Japanese font and
# Node.js with npm (the JS client's unit tests, its type check and package) are there.
# Idempotent: does nothing when one is found. Debian's package, since a test tool's own
# browser download does not work on a closed network. JUNBAN_CHROMIUM overrides the path.
set -euo pipefail
if [ -z "${JUNBAN_CHROMIUM:-}" ]; then
  for candidate in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    if [ -x "$candidate" ]; then JUNBAN_CHROMIUM=$candidate; break; fi
  done
fi
# Node.js runs the JS client's unit tests (node --test)
need_node=""
if ! command -v node >/dev/null 2>&1; then need_node="nodejs"; fi
# npm installs TypeScript (tsc checks the client's type declarations) and packs the client
if ! command -v npm >/dev/null 2>&1; then need_node="$need_node npm"; fi
# Japanese glyphs for the pages (screenshots show boxes without a CJK font)
need_fonts=""
if ! fc-list 2>/dev/null | grep -qi "ipa\|noto sans cjk\|noto serif cjk"; then need_fonts="fonts-ipafont-gothic"; fi
if [ -z "${JUNBAN_CHROMIUM:-}" ] || [ -n "$need_fonts" ] || [ -n "$need_node" ]; then
  echo "== installing Chromium, a Japanese font and Node.js (Debian packages) for the page tests"
  as_root=""
  if [ "$(id -u)" != 0 ]; then as_root="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $as_root apt-get update -qq >/dev/null || true
  $as_root apt-get install -y -qq chromium $need_fonts $need_node >/dev/null
  JUNBAN_CHROMIUM=${JUNBAN_CHROMIUM:-/usr/bin/chromium}
fi
export JUNBAN_CHROMIUM
