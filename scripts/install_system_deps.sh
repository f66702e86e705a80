#!/usr/bin/env bash
# Installs the Debian packages the native build needs, only those missing;
# with arguments, those packages instead (`make fuzz`: clang libclang-rt-14-dev).
# Idempotent: a machine that has them all runs no apt command at all.
set -euo pipefail
packages=(g++ make libtiff-dev libpng-dev libjpeg62-turbo-dev libgtest-dev nlohmann-json3-dev pkg-config ca-certificates)
[ $# -gt 0 ] && packages=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
