#!/usr/bin/env bash
# Fetches ONNX Runtime's C/C++ headers from Debian 13's libonnxruntime-dev
# without installing it: apt reads a private sources list and keeps its state
# in a private folder, so the system's own apt configuration is untouched.
# Usage: fetch_onnxruntime_headers.sh DEST   (headers land in DEST/onnxruntime/include)
set -euo pipefail
dest=$(realpath -m "${1:?usage: $0 DEST}")
[ -f "$dest/onnxruntime/include/onnxruntime_cxx_api.h" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
  > "$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Debug::NoLocking=1"
          -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" -qq update
(cd "$work" && apt-get "${apt_opts[@]}" -qq download libonnxruntime-dev)
dpkg-deb -x "$work"/libonnxruntime-dev_*.deb "$work/x"
mkdir -p "$dest/onnxruntime"
rm -rf "$dest/onnxruntime/include"
cp -r "$work/x/usr/include/onnxruntime" "$dest/onnxruntime/include"
dpkg-deb -f "$work"/libonnxruntime-dev_*.deb Version > "$dest/onnxruntime/VERSION"
echo "ONNX Runtime headers $(cat "$dest/onnxruntime/VERSION") -> $dest/onnxruntime/include"
