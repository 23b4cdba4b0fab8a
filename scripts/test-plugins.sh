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
# Where the loader finds libqpik.so.0 for a module (the real file).
resolved() { realpath "$(ldd "$1" | sed -n 's/.*libqpik.so.0 => \(.*\) (0x.*/\1/p')" 2>/dev/null; }
# check_install PREFIX HOME: the module folder HOME/.gwyddion/modules holds only the two
# modules, whose rpath is "$ORIGIN/<to PREFIX/lib>:PREFIX/lib"; Gwyddion started with that
# HOME loads the installed module, and the modules resolve libqpik in PREFIX/lib.
check_install() {
    local prefix=$1 home=$2 moddir=$2/.gwyddion/modules found rpath out rel
    found=$(cd "$moddir" && find . -type f -o -type l | sort | tr '\n' ' ')
    [ "$found" = "./process/qpik_extract.so ./volume/qpik_volume.so " ] || {
        echo "module folder holds: $found (want only the two modules)" >&2; exit 1; }
    [ -x "$prefix/bin/qpik" ] || { echo "$prefix/bin/qpik was not installed" >&2; exit 1; }
    "$prefix/bin/qpik" --version >/dev/null
    for m in process/qpik_extract.so volume/qpik_volume.so; do
        rpath=$(readelf -d "$moddir/$m" | sed -n 's/.*R\(UN\)\?PATH.*\[\(.*\)\]/\2/p')
        rel=$(realpath --relative-to="$(dirname "$moddir/$m")" "$prefix/lib")
        [ "$rpath" = "\$ORIGIN/$rel:$prefix/lib" ] || {
            echo "$m: rpath '$rpath', want \$ORIGIN/$rel:$prefix/lib" >&2; exit 1; }
        [ "$(resolved "$moddir/$m")" = "$(realpath "$prefix/lib/libqpik.so.0")" ] || {
            echo "$m does not resolve libqpik to $prefix/lib:" >&2; ldd "$moddir/$m" >&2; exit 1; }
    done
    # Gwyddion finds the installed modules in the user's folder ($HOME/.gwyddion/modules),
    # and they resolve libqpik in the prefix through their rpath.
    out=$(HOME="$home" "$build/plugins/gwyddion/gwy_headless" "$moddir/process/qpik_extract.so" \
        "$moddir/volume/qpik_volume.so" tests/data/FeSe_topography.sxm process_topography_fese)
    echo "$out"
    grep -q "loaded from Gwyddion's module folders: $moddir/process/qpik_extract.so" <<<"$out" || {
        echo "Gwyddion did not load the installed module from $moddir" >&2; exit 1; }
}
echo "-- the prefix given at configure time"
cmake -S . -B "$build" -DQPIK_GWYDDION_MODULE_DIR="$tmp/home/.gwyddion/modules" \
    -DCMAKE_INSTALL_PREFIX="$tmp/prefix" >/dev/null
cmake --install "$build" >/dev/null
check_install "$tmp/prefix" "$tmp/home"
echo "-- the prefix given at install time (docs/gwyddion.md)"
cmake -S . -B "$build" -DQPIK_GWYDDION_MODULE_DIR="$tmp/home2/.gwyddion/modules" \
    -UCMAKE_INSTALL_PREFIX >/dev/null
cmake --install "$build" --prefix "$tmp/local" >/dev/null
check_install "$tmp/local" "$tmp/home2"
echo "-- the prefix and the module folder moved together: found through \$ORIGIN"
mv "$tmp" "$tmp.moved"
for m in process/qpik_extract.so volume/qpik_volume.so; do
    [ "$(resolved "$tmp.moved/home2/.gwyddion/modules/$m")" = \
        "$(realpath "$tmp.moved/local/lib/libqpik.so.0")" ] || {
        echo "$m does not find libqpik after the move:" >&2
        ldd "$tmp.moved/home2/.gwyddion/modules/$m" >&2; mv "$tmp.moved" "$tmp"; exit 1; }
done
mv "$tmp.moved" "$tmp"
cmake -S . -B "$build" -UQPIK_GWYDDION_MODULE_DIR -UCMAKE_INSTALL_PREFIX >/dev/null

if ((gui)); then
    echo "== Gwyddion GUI under Xvfb (plugins/gwyddion/tests/gui.sh)"
    bash plugins/gwyddion/tests/gui.sh "$build/plugins/gwyddion/modules" "$build/gui-artefacts"
fi
echo "== plugin tests passed"
