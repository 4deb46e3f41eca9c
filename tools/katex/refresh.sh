#!/usr/bin/env bash
# Copies the pinned KaTeX release (package.json + package-lock.json here) into
# wwwroot-assets/lib/katex/, where the app serves it: katex.min.js, katex.min.css, the
# fonts and KaTeX's LICENSE (MIT). The copied files are committed, so building, testing and
# CI never need npm; run this only to refresh them after changing the pinned version.
# Only the .woff2 fonts are copied: katex.min.css lists them first, and every browser that
# runs the lab (Blazor needs WebSockets and ES modules) reads woff2, so the .woff/.ttf
# fallbacks would be dead weight.
# usage: tools/katex/refresh.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="$here/../../wwwroot-assets/lib/katex"
(cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --silent)
dist="$here/node_modules/katex/dist"
version=$(node -p "require('$here/node_modules/katex/package.json').version")
rm -rf "$target"
mkdir -p "$target/fonts"
cp "$dist/katex.min.js" "$dist/katex.min.css" "$target/"
cp "$dist"/fonts/*.woff2 "$target/fonts/"
cp "$here/node_modules/katex/LICENSE" "$target/LICENSE"
echo "$version" > "$target/VERSION"
echo "KaTeX $version copied to wwwroot-assets/lib/katex/ ($(ls "$target/fonts" | wc -l) fonts)"
