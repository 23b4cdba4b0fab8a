#!/usr/bin/env bash
# The MEX files must not clash with the host's own HDF5 (MATLAB and Octave ship one): each
# exports only its gateway (plus the API-version markers MATLAB and Octave look for), needs
# no libhdf5 / libqpik shared library, and leaves no H5* symbol to be looked up in the host.
#   check-symbols.sh FILE.mex...
set -euo pipefail
allowed='^(mexFunction|mexfilerequiredapiversion|__mx_has_interleaved_complex__)$'
fail=0
for mex in "$@"; do
    exports=$(nm -D --defined-only "$mex" | awk '{print $3}')
    extra=$(grep -Ev "$allowed" <<<"$exports" || true)
    if ! grep -qx mexFunction <<<"$exports"; then
        echo "FAILED: $mex does not export mexFunction"; fail=1
    fi
    if [ -n "$extra" ]; then
        echo "FAILED: $mex exports more than its gateway: $(head -5 <<<"$extra" | tr '\n' ' ')"; fail=1
    fi
    needed=$(readelf -d "$mex" | awk '/NEEDED/ {print $5}' | tr -d '[]')
    if grep -Eq 'hdf5|qpik' <<<"$needed"; then
        echo "FAILED: $mex needs $(grep -E 'hdf5|qpik' <<<"$needed" | tr '\n' ' ')"; fail=1
    fi
    undefined_h5=$(nm -D --undefined-only "$mex" | awk '{print $2}' | grep -E '^_?H5' || true)
    if [ -n "$undefined_h5" ]; then
        echo "FAILED: $mex looks up HDF5 symbols in the host: $(head -5 <<<"$undefined_h5" | tr '\n' ' ')"; fail=1
    fi
    # The one thing a MEX file may look up in the host: the mx/mex API (and libc & co.).
    echo "$mex: exports $(tr '\n' ' ' <<<"$exports"); needs $(tr '\n' ' ' <<<"$needed")"
done
exit $fail
