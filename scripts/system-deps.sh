#!/usr/bin/env bash
# Installs the Debian packages Huifang needs, only those missing.
#   runtime: Pango for WeasyPrint, a CJK font so PDFs show Chinese glyphs
#   test:    + Chromium (end-to-end test), poppler-utils (pdftotext/pdftoppm), PostgreSQL,
#            wrk (the load generator of `python -m bench web`), npm and Java for the page
#            checkers of package.json (axe-core, vnu.jar)
set -euo pipefail
want=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk fontconfig)
if [ "${1:-runtime}" = "test" ]; then
  want+=(chromium poppler-utils postgresql wrk)
  # Any npm and Java will do (NodeSource's nodejs bundles npm and conflicts with Debian's).
  command -v npm >/dev/null || want+=(nodejs npm)
  command -v java >/dev/null || want+=(default-jre-headless)
fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
