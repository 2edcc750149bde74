#!/bin/sh
# Builds the .deb with CPack, checks its contents, installs it with apt-get (so missing dependencies are caught),
# runs the installed dr2net-cli (--version, demo on a temporary database) and removes the package again.
#
# Usage: packaging/test-deb.sh BUILD_DIR [DEMO_SIZE_FLAG]   (run as root or with sudo; DEMO_SIZE_FLAG: --quick
#        by default, --tiny for a faster check). Also registered as the ctest `packaging.deb` (label packaging);
#        as it installs a package system-wide, ctest runs it only with DR2_TEST_DEB=1 in the environment
#        (`DR2_TEST_DEB=1 ctest -L packaging`), else it is skipped (exit 77), as it is without root.
set -eu
if [ "${DR2_FROM_CTEST:-0}" = 1 ] && [ "${DR2_TEST_DEB:-0}" != 1 ]; then
    echo "SKIPPED: set DR2_TEST_DEB=1 to build, install and remove the .deb"; exit 77
fi
build=$(cd "$1" && pwd) size=${2:---quick}
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAILED: $*"; exit 1; }

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo > /dev/null && sudo -n true 2> /dev/null; then sudo="sudo -n"; else
        echo "SKIPPED: installing a package needs root or password-less sudo"; exit 77
    fi
fi
if dpkg-query -W -f='${Status}' dr2net 2> /dev/null | grep -q "install ok installed"; then
    echo "SKIPPED: a dr2net package is already installed; not replacing it"; exit 77
fi

work=$(mktemp -d /tmp/dr2net-deb.XXXXXX)
cleanup() {
    if dpkg-query -W -f='${Status}' dr2net 2> /dev/null | grep -q "install ok installed"; then
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq dr2net > /dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

cmake --build "$build" --target dr2net-cli dr2net dr2_man_pages > "$work/build.log" 2>&1 || fail "build: $(tail -5 "$work/build.log")"
(cd "$build" && cpack -G DEB -B "$work/pkg" > "$work/cpack.log" 2>&1) || fail "cpack: $(tail -5 "$work/cpack.log")"
deb=$(ls "$work"/pkg/dr2net_*.deb)
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

# Contents: both programs, configs, desktop entry, icon, metainfo, man pages, docs.
dpkg-deb -c "$deb" > "$work/contents.txt"
for path in ./usr/bin/dr2net-cli ./usr/bin/dr2net ./usr/share/dr2net/configs/pretrain-fmnist-0-4.json \
    ./usr/share/dr2net/configs/finetune-fmnist-5-9-dr2net.json ./usr/share/dr2net/studies/paper-table2.json \
    ./usr/share/dr2net/studies/paper-ablations.json ./usr/share/dr2net/configs/study-finetune-fmnist-5-9.json \
    ./usr/share/applications/io.github.dr2net.Workbench.desktop \
    ./usr/share/icons/hicolor/scalable/apps/dr2net.svg ./usr/share/metainfo/io.github.dr2net.Workbench.metainfo.xml \
    ./usr/share/man/man1/dr2net.1.gz ./usr/share/man/man1/dr2net-cli.1.gz ./usr/share/doc/dr2net/method.md; do
    grep -q " $path\$" "$work/contents.txt" || fail "$path is not in the package"
done
dpkg-deb -f "$deb" Depends | grep -q "libtorch1.13" || fail "Depends lacks libtorch1.13: $(dpkg-deb -f "$deb" Depends)"
echo "Depends: $(dpkg-deb -f "$deb" Depends)"
if command -v desktop-file-validate > /dev/null; then
    desktop-file-validate "$here/../resources/desktop/io.github.dr2net.Workbench.desktop" || fail "desktop entry"
fi

# Install (apt resolves the dependencies; a missing one fails here), then run the installed files.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" > "$work/apt.log" 2>&1 \
    || fail "apt-get install: $(tail -5 "$work/apt.log")"
[ -x /usr/bin/dr2net-cli ] || fail "/usr/bin/dr2net-cli not installed"
# Every shared library of the installed programs resolves (the Depends are complete enough to load them).
for program in /usr/bin/dr2net-cli /usr/bin/dr2net; do
    if ldd "$program" | grep -q "not found"; then fail "$program: $(ldd "$program" | grep 'not found')"; fi
done
/usr/bin/dr2net-cli --version | tee "$work/version.txt"
grep -Eq "^dr2net-cli [0-9.]+ \(git [^)]+\), LibTorch [0-9.]+, CUDA (available|not available)" "$work/version.txt" \
    || fail "--version: $(cat "$work/version.txt")"
QT_QPA_PLATFORM=offscreen /usr/bin/dr2net --version > /dev/null || fail "dr2net --version"
# The installed study specs find their configs (../configs beside them) and expand.
/usr/bin/dr2net-cli study --spec /usr/share/dr2net/studies/paper-table2.json --list --db "$work/study.sqlite" \
    --dir "$work/study" > "$work/study.txt" 2>&1 || fail "installed paper-table2 spec: $(cat "$work/study.txt")"
grep -q " pending " "$work/study.txt" || fail "installed paper-table2 spec plans no runs: $(cat "$work/study.txt")"
man -w dr2net-cli > /dev/null 2>&1 || [ -f /usr/share/man/man1/dr2net-cli.1.gz ] || fail "man page"
# With /usr/bin/dr2net given, the demo must also have written its comparison report with the installed workbench.
sh "$here/../tests/demo/demo_test.sh" /usr/bin/dr2net-cli "$work/demo" "$size" /usr/bin/dr2net || fail "demo from the installed files"

$sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq dr2net > /dev/null 2>&1 || fail "apt-get remove"
[ ! -e /usr/bin/dr2net-cli ] || fail "/usr/bin/dr2net-cli left after removal"
echo "package OK"
