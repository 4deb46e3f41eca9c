#!/usr/bin/env bash
# Makes TorchSharp's native library load on systems whose libstdc++ predates
# GLIBCXX_3.4.32 (Debian 12, Ubuntu 22.04). Called by the build for every output
# folder that holds libLibTorchSharp.so; does nothing where libstdc++ is new enough
# (Debian 13, Ubuntu 24.04, the .NET container images) or the fix is already there.
#
#   apply.sh OUTPUT_DIR
#
# What it does, and why it is enough:
#  1. marks the library's GLIBCXX_3.4.32 requirement weak, so the loader accepts it;
#  2. builds libdiffusionlab_iosinit.so, which defines the one symbol of that version;
#  3. DiffusionLab.Engine's TorchRuntime loads that shim with RTLD_GLOBAL before the
#     first torch call, so the symbol resolves when libLibTorchSharp.so initialises.
set -euo pipefail
out="${1:?usage: apply.sh OUTPUT_DIR}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

lib=""
for candidate in "$out/runtimes/linux-x64/native/libLibTorchSharp.so" "$out/libLibTorchSharp.so"; do
  [ -f "$candidate" ] && lib="$candidate" && break
done
[ -n "$lib" ] || exit 0                      # not a TorchSharp output, or not Linux x64
[ "$(uname -s)" = Linux ] || exit 0

libstdcxx="$(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')"
[ -n "$libstdcxx" ] || libstdcxx=/usr/lib/x86_64-linux-gnu/libstdc++.so.6
if [ -f "$libstdcxx" ] && grep -qa 'GLIBCXX_3\.4\.32' "$libstdcxx"; then
  exit 0                                     # new enough: nothing to do
fi

shim="$(dirname "$lib")/libdiffusionlab_iosinit.so"
stamp="$lib.weakened"                         # holds the SHA-256 of the patched library
if [ -f "$shim" ] && [ -f "$stamp" ] && [ "$(sha256sum "$lib" | cut -d' ' -f1)" = "$(cat "$stamp")" ]; then
  exit 0                                     # already applied to this copy
fi

if ! command -v g++ >/dev/null 2>&1; then
  echo "error: TorchSharp needs GLIBCXX_3.4.32, which $libstdcxx lacks; install g++ (Debian: apt-get install g++) so the build can apply its fix" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/weaken-verneed" "$here/weaken-verneed.c"
g++ -O2 -shared -fPIC -o "$tmp/libdiffusionlab_iosinit.so" "$here/ios-base-library-init.cpp"

# Patch a copy and move it into place: the original may be a hard link into the NuGet cache.
cp "$lib" "$tmp/lib.so"
set +e
"$tmp/weaken-verneed" "$tmp/lib.so" GLIBCXX_3.4.32
rc=$?
set -e
if [ $rc -eq 2 ]; then echo "error: could not patch $lib" >&2; exit 1; fi
mv -f "$tmp/lib.so" "$lib"
cp "$tmp/libdiffusionlab_iosinit.so" "$shim"
sha256sum "$lib" | cut -d' ' -f1 > "$stamp"
echo "libtorch-fix: applied the GLIBCXX_3.4.32 fix to $lib"
