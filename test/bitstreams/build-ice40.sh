#!/bin/sh
# Regenerates the checked-in iCE40 bitstreams from blinky.v.
#
# Needs the Debian bookworm packages yosys (0.23), nextpnr-ice40 (0.4) and
# fpga-icestorm (icepack). The flow is deterministic: a fixed nextpnr seed
# gives byte-identical .bin files on every run, so CI can check them in
# without installing the tools, and `git diff` shows any drift.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

yosys -q -p "synth_ice40 -top top -json $tmp/blinky.json" blinky.v

# name  nextpnr-device  package  pcf
build() {
    nextpnr-ice40 -q --seed 1 "--$2" --package "$3" \
        --json "$tmp/blinky.json" --pcf "$4" --asc "$tmp/$1.asc"
    icepack "$tmp/$1.asc" "$1.bin"
}

build ice40-hx1k-blinky hx1k tq144 ice40-hx1k-tq144.pcf
build ice40-up5k-blinky up5k sg48 ice40-up5k-sg48.pcf
build ice40-hx8k-blinky hx8k ct256 ice40-hx8k-ct256.pcf
sha256sum ice40-*.bin
