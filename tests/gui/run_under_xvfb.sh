#!/bin/sh
# Runs a GUI test program on a real X server: xvfb-run (Debian's xvfb) with the xcb platform.
# Exit 77 (ctest: skipped) with a message when xvfb-run is not installed.
if ! command -v xvfb-run >/dev/null 2>&1; then
    echo "skipped: xvfb-run not found (apt-get install xvfb xauth)"
    exit 77
fi
QT_QPA_PLATFORM=xcb exec xvfb-run -a -s "-screen 0 1920x1200x24" "$@"
