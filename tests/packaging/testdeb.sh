#!/usr/bin/env bash
# The Debian package on a fresh Debian 12: builds corolla_<version>_amd64.deb (CPack), installs
# it with apt into a new minimal root made by debootstrap, runs `corolla --version`,
# `corolla make-test-model`, `corolla generate` and the desktop app offscreen there as an
# ordinary user, then purges it and checks that nothing of it is left outside that user's data.
# Prints one JSON line with the package's size and its install time.
# Needs root (or password-less sudo) and deb.debian.org; exits 77 (skipped) without them.
# Usage: testdeb.sh BUILD_DIR
set -euo pipefail

build=$(cd "${1:?usage: testdeb.sh BUILD_DIR}" && pwd)
if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then
        exec sudo -n "$0" "$@"
    fi
    echo "testdeb: skipped: installing into a Debian root needs root or password-less sudo" >&2
    exit 77
fi
mirror=http://deb.debian.org/debian
if ! getent hosts deb.debian.org > /dev/null; then
    echo "testdeb: skipped: deb.debian.org cannot be resolved (offline?)" >&2
    exit 77
fi
for tool in debootstrap dpkg-deb chroot desktop-file-validate; do
    command -v "$tool" > /dev/null || { echo "testdeb: $tool is missing (packaging/debian-deps.sh installs it)" >&2; exit 1; }
done

fail() {
    echo "testdeb: FAIL: $*" >&2
    exit 1
}

# The package.
rm -f "$build"/corolla_*.deb
cmake --build "$build" --target package > "$build/cpack.log" 2>&1 || { cat "$build/cpack.log" >&2; fail "cpack failed"; }
debs=("$build"/corolla_*_amd64.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one corolla_<version>_amd64.deb in $build"
deb=${debs[0]}
version=$(dpkg-deb -f "$deb" Version)
depends=$(dpkg-deb -f "$deb" Depends)
echo "testdeb: $(basename "$deb"): $(stat -c %s "$deb") bytes; Depends: $depends"
case "$depends" in
*libtorch*) ;;
*) fail "Depends does not name libtorch: shlibdeps did not read the binary" ;;
esac
contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for expected in /usr/bin/corolla /usr/share/applications/corolla.desktop \
    /usr/share/icons/hicolor/scalable/apps/corolla.svg /usr/share/icons/hicolor/48x48/apps/corolla.png \
    /usr/share/icons/hicolor/256x256/apps/corolla.png /usr/share/man/man1/corolla.1.gz \
    /usr/share/doc/corolla/README.md; do
    grep -qx "$expected" <<< "$contents" || fail "the package lacks $expected"
done
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/applications/corolla.desktop > "$build/corolla.desktop"
desktop-file-validate "$build/corolla.desktop" || fail "the desktop entry is not valid"
rm -f "$build/corolla.desktop"
if grep -E '^/(etc/xdg/autostart|etc/systemd|lib/systemd|usr/lib/systemd|etc/init\.d|etc/cron)' <<< "$contents"; then
    fail "the package installs something that runs at login or boot"
fi

# A fresh Debian 12 root; the bare debootstrap result is kept in the build folder and copied
# for each run.
work="$build/deb-test"
base="$work/base"
root="$work/root"
cleanup() {
    for mount in "$root/proc" "$root/dev/pts"; do
        mountpoint -q "$mount" 2>/dev/null && umount -l "$mount"
    done
    rm -rf "$root"
}
trap cleanup EXIT
mkdir -p "$work"
if [ ! -f "$base/.complete" ]; then
    rm -rf "$base"
    debootstrap --variant=minbase bookworm "$base" "$mirror" > "$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
    touch "$base/.complete"
fi
cleanup
cp -a "$base" "$root"
rm -f "$root/.complete"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
mount -t proc proc "$root/proc"
mount -t devpts devpts "$root/dev/pts" -o newinstance,ptmxmode=0666
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
as_user() {
    chroot --userspec=tester:tester "$root" env -i PATH=/usr/bin:/bin HOME=/home/tester \
        LANG=C.UTF-8 COROLLA_NUM_THREADS=2 QT_QPA_PLATFORM=offscreen "$@"
}
in_root apt-get update -q > "$work/apt-update.log" 2>&1 || { cat "$work/apt-update.log" >&2; fail "apt-get update failed"; }
in_root useradd --create-home tester

# What the root holds, paths only; the volatile parts and the user's home aside.
snapshot() {
    (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run \
        -o -path ./tmp -o -path ./var/tmp -o -path ./var/log -o -path ./var/cache/apt \
        -o -path ./var/cache/debconf -o -path ./var/cache/ldconfig -o -path ./var/lib/apt \
        -o -path ./var/lib/dpkg -o -path ./home/tester \) -prune -o -print | sed 's|^\.||' | sort)
}
snapshot > "$work/before.txt"

cp "$deb" "$root/tmp/"
start=$(date +%s%N)
in_root apt-get install -y -q -o Dpkg::Use-Pty=0 "/tmp/$(basename "$deb")" > "$work/install.log" 2>&1 \
    || { tail -30 "$work/install.log" >&2; fail "apt-get install ./$(basename "$deb") failed"; }
install_ms=$(( ($(date +%s%N) - start) / 1000000 ))
install_seconds=$((install_ms / 1000)).$(printf %03d $((install_ms % 1000)))
pulled=$(sed -nE 's/.* ([0-9]+) newly installed.*/\1/p' "$work/install.log")
download=$(sed -nE 's|^Need to get ([0-9.,]+ [kMG]?B)/?.*|\1|p' "$work/install.log")
in_root dpkg -L corolla > "$work/owned.txt"
! in_root ldd /usr/bin/corolla | grep -q "not found" || fail "the installed binary misses libraries: $(in_root ldd /usr/bin/corolla | grep 'not found')"

# The installed program, as an ordinary user.
as_user corolla --version > "$work/version.txt" || fail "corolla --version exited with $?"
cat "$work/version.txt"
head -1 "$work/version.txt" | grep -qx "corolla ${version%%-*}" || fail "--version does not say corolla $version"
grep -q '^devices: cpu' "$work/version.txt" || fail "--version names no devices"
as_user corolla make-test-model --family llama --out /home/tester/model > /dev/null || fail "make-test-model failed"
as_user corolla generate --model /home/tester/model --prompt "Hello" --max-new-tokens 12 \
    > "$work/generated.txt" 2> "$work/generate.log" || { cat "$work/generate.log" >&2; fail "generate failed"; }
# The same model and prompt with the binary the package was made from: the same tokens.
reference=$(mktemp -d)
"$build/app/corolla" make-test-model --family llama --out "$reference/model" > /dev/null
COROLLA_NUM_THREADS=2 "$build/app/corolla" generate --model "$reference/model" --prompt "Hello" \
    --max-new-tokens 12 > "$reference/generated.txt" 2> /dev/null
cmp -s "$work/generated.txt" "$reference/generated.txt" \
    || { rm -rf "$reference"; fail "the installed corolla generated '$(cat "$work/generated.txt")', the build's '$(cat "$reference/generated.txt")'"; }
rm -rf "$reference"
[ -s "$work/generated.txt" ] || fail "generate printed nothing"

# The desktop app, offscreen for a few seconds: still running when stopped.
set +e
as_user timeout -s TERM 8 corolla > "$work/app.log" 2>&1
status=$?
set -e
[ $status -eq 124 ] || { cat "$work/app.log" >&2; fail "the app exited with $status within 8 s"; }
[ -d "$root/home/tester/.local/share/Corolla" ] || fail "the app made no data folder in ~/.local/share (XDG)"
[ ! -e "$root/home/tester/.config/autostart/corolla.desktop" ] || fail "the app turned on start at login by itself"

# Purged: none of its files, nothing named after it, the user's data kept.
in_root apt-get purge -y -q -o Dpkg::Use-Pty=0 corolla > "$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "apt-get purge failed"; }
snapshot > "$work/after.txt"
comm -13 "$work/before.txt" "$work/after.txt" > "$work/added.txt"
left=""
while read -r path; do
    # a folder that another installed package also owns (the hicolor theme's) may stay
    [ -d "$root$path" ] && in_root dpkg-query -S "$path" > /dev/null 2>&1 && continue
    left+=" $path"
done < <( (grep -Fxf "$work/owned.txt" "$work/added.txt" || true; grep -i corolla "$work/added.txt" || true) | sort -u)
[ -z "$left" ] || fail "purging left: $left"
[ -d "$root/home/tester/.local/share/Corolla" ] || fail "purging removed the user's data"

echo "{\"deb\": \"$(basename "$deb")\", \"deb_bytes\": $(stat -c %s "$deb"), \"installed_kib\": $(dpkg-deb -f "$deb" Installed-Size), \"packages_pulled\": ${pulled:-0}, \"download\": \"${download:-0 B}\", \"install_seconds\": $install_seconds}"
