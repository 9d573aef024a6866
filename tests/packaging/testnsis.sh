#!/usr/bin/env bash
# The Windows installer script compiles: makensis (Debian's nsis) builds
# packaging/windows/corolla.nsi over a staging folder with the real icon and placeholder
# program files. It checks the script and what it packs, not Windows itself
# (docs/building-windows.md says what has not run there).
# Usage: testnsis.sh SOURCE_DIR BUILD_DIR VERSION
set -euo pipefail
source_dir=$1 build=$2 version=$3
command -v makensis > /dev/null || { echo "testnsis: makensis is missing (packaging/debian-deps.sh installs nsis)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/stage"
mkdir -p "$stage/platforms"
cp "$build/packaging/hicolor/corolla.ico" "$stage/"
printf 'placeholder for corolla.exe\n' > "$stage/corolla.exe"
printf 'placeholder for a Qt plugin\n' > "$stage/platforms/qwindows.dll"
out="$work/corolla-$version-windows-x64.exe"
makensis -V2 -WX "-DVERSION=$version" "-DSTAGING=$stage" "-DOUTFILE=$out" \
    "$source_dir/packaging/windows/corolla.nsi"
[ -s "$out" ] || { echo "testnsis: makensis wrote no installer" >&2; exit 1; }
# A Windows program (PE files start with "MZ").
head -c 2 "$out" | grep -q MZ || { echo "testnsis: $out is not a Windows executable" >&2; exit 1; }
echo "testnsis: $(basename "$out"): $(stat -c %s "$out") bytes"
