#!/usr/bin/env bash
# Face-swap benchmark (issue 8).
# 1. faces_bench: seconds for one face-swap job through the backend's Transform on a real photo
#    (Grace Hopper from facedetect; the astronaut from python3-skimage as the reference), cold and
#    warm, at the photo's size and scaled up to 3000 px; with torch, the pix2pix backend on a
#    full-size (unet_256, 54 M parameters) random-weight generator. Results in bench/out/faces/.
# 2. Through the API (when the labhouse binary is built): `labhouse serve` on loopback, POST
#    /api/v1/jobs with backend=face-swap and a reference_image upload, polled until it succeeds;
#    prints the client-side seconds from submit to result, and that a landscape fails NO_FACE.
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir="${1:-build}"
shift || true
hopper=/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg
astronaut=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
landscape=/usr/share/doc/facedetect/examples/640px-IceBlockNearJoekullsarlon.jpg
mkdir -p bench/out/faces
"$build_dir/bench/faces/faces_bench" --out bench/out/faces "$@"

bin="$build_dir/labhouse"
if [ ! -x "$bin" ]; then
  echo "api: $bin not built, skipping the API measurement"
  exit 0
fi
work=$(mktemp -d /tmp/labhouse-bench-faces.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LABHOUSE_REFERENCE_FACE="$astronaut" "$bin" serve --port "$port" --data-dir "$work/data" --workers 1 \
  --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { echo "server did not start"; cat "$work/server.log"; exit 1; }

# submit FILE [extra curl args] -> prints "status seconds code"
submit() {
  local file="$1"
  shift
  python3 - "$port" "$file" "$@" <<'PY'
import json, subprocess, sys, time, urllib.request
port, photo, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
start = time.monotonic()
out = subprocess.run(["curl", "-sf", "-F", "image=@" + photo, "-F", "backend=face-swap", *extra,
                      f"http://127.0.0.1:{port}/api/v1/jobs"], capture_output=True, check=True).stdout
job_id = json.loads(out)["id"]
while True:
    job = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/jobs/{job_id}"))
    if job["status"] in ("succeeded", "failed", "canceled"):
        break
    time.sleep(0.02)
code = (job.get("error") or {}).get("code", "-")
print(job["status"], "%.2f" % (time.monotonic() - start), code)
PY
}
echo "api: face-swap jobs through POST /api/v1/jobs (client-side seconds, submit to finished)"
echo "  first job (landmark model load): $(submit "$hopper" -F "reference_image=@$astronaut")"
for i in 1 2 3; do
  echo "  warm job $i, uploaded reference:  $(submit "$hopper" -F "reference_image=@$astronaut")"
done
echo "  warm job, configured reference:   $(submit "$hopper")"
if [ -f "$landscape" ]; then
  echo "  landscape (expect failed NO_FACE): $(submit "$landscape")"
fi
