#!/usr/bin/env bash
# Face-swap benchmark (issue 8): seconds for one face-swap job on a real photo (Grace Hopper from
# facedetect, the astronaut from python3-skimage as the reference), cold and warm, at the photo's
# size and scaled up to 3000 px (phone-photo size); with torch, the pix2pix backend on a full-size
# (unet_256, 54 M parameters) random-weight generator. Writes the results to bench/out/faces/.
set -euo pipefail
build_dir="${1:-build}"
shift || true
mkdir -p bench/out/faces
exec "$build_dir/bench/faces/faces_bench" --out bench/out/faces "$@"
