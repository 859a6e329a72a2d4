#!/usr/bin/env bash
# Builds a plugin bundle for this machine's architecture only (half the time of `make dist`, which
# cross-compiles amd64 and arm64) into dist/<id>-<version>-<arch>.tar.gz and prints its path.
# The webapp is built with npm only when webapp/dist/main.js is missing or older than webapp/src.
set -euo pipefail
cd "$(dirname "$0")/.."
id=$(python3 -c 'import json;print(json.load(open("plugin.json"))["id"])')
version=$(python3 -c 'import json;print(json.load(open("plugin.json"))["version"])')
arch=$(go env GOARCH)
out="dist/$id-$version-linux-$arch.tar.gz"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$id/server/dist" "$stage/$id/webapp/dist"
(cd server && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath -ldflags "-s -w" -o "$stage/$id/server/dist/plugin-linux-$arch" .) >&2
if [ ! -f webapp/dist/main.js ] || [ -n "$(find webapp/src -newer webapp/dist/main.js -print -quit 2>/dev/null)" ]; then
  (cd webapp && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build) >&2
fi
cp webapp/dist/main.js "$stage/$id/webapp/dist/"
cp plugin.json README.md LICENSE "$stage/$id/"
cp -r assets "$stage/$id/"
mkdir -p dist
tar -C "$stage" -czf "$out" "$id"
echo "$out"
