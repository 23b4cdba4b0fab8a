#!/usr/bin/env bash
# The host plugins against their real hosts. Gwyddion (plugins/gwyddion): builds the modules
# with CMake (-DQPIK_GWYDDION=ON) in target/cmake-plugins, runs the headless tests (ctest -L
# gwyddion: the real libgwyddion, Gwyddion's own Nanonis loader on tests/data, its Createc
# loader against qpik's reader on tests/data/createc_synthetic.dat), installs to a
# temporary prefix and module folder and checks the layout and the rpath, then runs the GUI
# test under Xvfb (plugins/gwyddion/tests/gui.sh). Usage: scripts/test-plugins.sh [--no-gui]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

gui=1
[ "${1:-}" = "--no-gui" ] && gui=0
gwy_packages=(cmake make pkg-config gcc gwyddion libgwyddion20-dev libglib2.0-dev libgtk2.0-dev
    libfftw3-dev libgtkglext1-dev libpango1.0-dev)
((gui)) && gwy_packages+=(xvfb xauth xdotool imagemagick)
qpik_apt_install "${gwy_packages[@]}"

build=target/cmake-plugins
echo "== Gwyddion modules: cmake ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQPIK_GWYDDION=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target qpik_extract qpik_volume gwy_headless gwy_createc
echo "== Gwyddion headless tests (ctest -L gwyddion)"
(cd "$build" && ctest --output-on-failure -L gwyddion)

echo "== Gwyddion install: modules in the module folder, libqpik beside the prefix's lib"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
moddir="$tmp/home/.gwyddion/modules"
cmake -S . -B "$build" -DQPIK_GWYDDION_MODULE_DIR="$moddir" -DCMAKE_INSTALL_PREFIX="$tmp/prefix" >/dev/null
cmake --install "$build" >/dev/null
found=$(cd "$moddir" && find . -type f -o -type l | sort | tr '\n' ' ')
[ "$found" = "./process/qpik_extract.so ./volume/qpik_volume.so " ] || {
    echo "module folder holds: $found (want only the two modules)" >&2; exit 1; }
for m in process/qpik_extract.so volume/qpik_volume.so; do
    rpath=$(readelf -d "$moddir/$m" | sed -n 's/.*R\(UN\)\?PATH.*\[\(.*\)\]/\2/p')
    [ "$rpath" = "$tmp/prefix/lib" ] || { echo "$m: rpath '$rpath', want $tmp/prefix/lib" >&2; exit 1; }
done
# Gwyddion finds the installed modules in the user's folder ($HOME/.gwyddion/modules), and
# they resolve libqpik in the prefix through their rpath.
out=$(HOME="$tmp/home" "$build/plugins/gwyddion/gwy_headless" "$moddir/process/qpik_extract.so" \
    "$moddir/volume/qpik_volume.so" tests/data/FeSe_topography.sxm process_topography_fese)
echo "$out"
grep -q "loaded from Gwyddion's module folders: $moddir/process/qpik_extract.so" <<<"$out" || {
    echo "Gwyddion did not load the installed module from $moddir" >&2; exit 1; }
for m in process/qpik_extract.so volume/qpik_volume.so; do
    ldd "$moddir/$m" | grep -q "libqpik.so.0 => $tmp/prefix/lib/libqpik.so.0" || {
        echo "$m does not resolve libqpik to $tmp/prefix/lib:" >&2; ldd "$moddir/$m" >&2; exit 1; }
done
cmake -S . -B "$build" -UQPIK_GWYDDION_MODULE_DIR -UCMAKE_INSTALL_PREFIX >/dev/null

if ((gui)); then
    echo "== Gwyddion GUI under Xvfb (plugins/gwyddion/tests/gui.sh)"
    bash plugins/gwyddion/tests/gui.sh "$build/plugins/gwyddion/modules" "$build/gui-artefacts"
fi
echo "== plugin tests passed"
