#!/usr/bin/env bash
# Refreshes the vendored Vega bundles that cards inline (see README.md here).
# Usage: bash flowlib/cards/vendor/update.sh [vega@6 vega-lite@6 vega-embed@7]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(vega@6 vega-lite@6 vega-embed@7)
npm pack --silent "${specs[@]}" >/dev/null
for tgz in *.tgz; do
  name="${tgz%-*}"
  mkdir "$name" && tar xzf "$tgz" -C "$name"
  cp "$name/package/build/$name.min.js" "$HERE/"
  cp "$name/package/LICENSE" "$HERE/LICENSE.$name"
  # No source-map reference: a card must not ask the network (or the disk) for anything.
  sed -i 's#//\# sourceMappingURL=.*$##' "$HERE/$name.min.js"
  echo "$name $(node -p "require('./$name/package/package.json').version")"
done
