#!/usr/bin/env bash
# Installs the Debian 12 / Ubuntu packages that Corolla builds and runs against.
set -euo pipefail

packages=(
    build-essential cmake ninja-build pkg-config
    qt6-base-dev qt6-tools-dev qt6-l10n-tools linguist-qt6 qt6-charts-dev qt6-svg-dev
    libqt6opengl6-dev libxkbcommon-dev qt6-httpserver-dev qt6-websockets-dev
    libtorch-dev libopenblas0-openmp
    libprotobuf-dev protobuf-compiler libssl-dev libopendht-dev dhtnode libpcre2-dev
    nlohmann-json3-dev clang libclang-rt-14-dev clang-format
    fonts-wqy-microhei
    python3-venv
    debootstrap nsis desktop-file-utils
)

run() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
