#!/usr/bin/env bash
# GUI test of the qpik Gwyddion module under Xvfb, driven with xdotool (no window manager:
# windows are placed and focused explicitly). Opens the FeSe scan in gwyddion, shows the
# LIY_1_omega (Forward) channel from the data browser, focuses its window, opens Data Process
# > QPI > Extract Kernel..., picks "Topography channel" and presses OK; the four result
# channels must appear as windows. Screenshots go to ARTEFACTS (dialog.png, result.png).
# Usage: gui.sh MODULE_BUILD_DIR ARTEFACTS
set -euo pipefail
modules=$(realpath "$1")
art=$(realpath -m "$2")
root=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$art"
tmp=$(mktemp -d)
export HOME="$tmp"
mkdir -p "$HOME/.gwyddion/modules/process" "$HOME/.gwyddion/modules/volume"
cp "$modules/qpik_extract.so" "$HOME/.gwyddion/modules/process/"
cp "$modules/qpik_volume.so" "$HOME/.gwyddion/modules/volume/"
display=:$((90 + RANDOM % 100))
Xvfb "$display" -screen 0 1400x1000x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
gwy=""
cleanup() {
    [ -n "$gwy" ] && kill "$gwy" 2>/dev/null || true
    kill "$xvfb" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
export DISPLAY=$display
sleep 2
gwyddion --no-splash --disable-gl "$root/tests/data/FeSe_topography.sxm" >"$art/gwyddion.log" 2>&1 &
gwy=$!

# wait_for NAME: the id of the first visible window whose title matches (20 s at most).
wait_for() {
    local w="" i
    for i in $(seq 1 40); do
        w=$(xdotool search --onlyvisible --name "$1" 2>/dev/null | head -n 1 || true)
        [ -n "$w" ] && { echo "$w"; return 0; }
        sleep 0.5
    done
    echo "no window '$1' appeared" >&2
    import -window root "$art/failure.png" || true
    return 1
}
main=$(wait_for '^Gwyddion$')
browser=$(wait_for '^Data Browser$')
zwin=$(wait_for 'Z \(Forward\)')
xdotool windowmove "$main" 0 0 windowmove "$browser" 700 0 windowmove "$zwin" 250 0
sleep 1
# Focusing a data window makes its file the data browser's current one.
xdotool windowfocus --sync "$zwin" windowraise "$zwin"
sleep 0.5
xdotool windowfocus "$main"
sleep 0.5
# The fifth row of the browser's image list: LIY_1_omega (Forward); its checkbox shows it.
xdotool mousemove --window "$browser" 76 345 click 1
liy=$(wait_for 'LIY_1_omega \(Forward\)')
xdotool windowmove "$liy" 250 300
sleep 0.5
xdotool windowfocus --sync "$liy" mousemove --window "$liy" 100 100 click 1
sleep 0.5
# Data Process, then QPI (the 15th item), then its only item, Extract Kernel...
xdotool mousemove --window "$main" 52 56 click 1
sleep 1
xdotool mousemove --window "$main" 40 354 click 1
sleep 1
xdotool mousemove 360 356 click 1
dialog=$(wait_for '^Extract QPI Kernel$')
xdotool windowmove "$dialog" 560 400
sleep 1
xdotool windowfocus --sync "$dialog" mousemove --window "$dialog" 13 76 click 1
sleep 0.5
import -window "$dialog" "$art/dialog.png"
xdotool mousemove --window "$dialog" 544 388 click 1
n=0
for t in 'QPI kernel [0-9]' 'QPI residual' 'QPI defects' 'QPI kernel \|FFT\|'; do
    w=$(wait_for "$t")
    xdotool windowmove "$w" $((n * 330)) 620
    n=$((n + 1))
done
sleep 1
import -window root "$art/result.png"
echo "gwyddion GUI: 1 passed, 0 failed (dialog and 4 result channels; screenshots in $art)"
