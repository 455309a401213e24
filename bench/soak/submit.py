#!/usr/bin/env python3
"""Submits classic jobs for the soak benchmark and checks that none is lost.

  submit.py BASE seed N IDS      submit N jobs, wait until they end, write their ids
  submit.py BASE run SECONDS IDS submit from 2 threads for SECONDS; write every accepted id;
                                 print "submitted", "accepted" and "submit errors" counts
  submit.py BASE check TIMEOUT IDS  wait up to TIMEOUT s for every id to end; print "lost N"
"""
import http.client
import json
import struct
import sys
import threading
import time
import urllib.parse
import zlib

TERMINAL = {"succeeded", "failed", "canceled"}


def png(w, h, salt):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes((x * 5 + y * 3 + salt) % 256 for x in range(w * 3)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def multipart(image):
    b = "soakboundary"
    parts = [f'--{b}\r\nContent-Disposition: form-data; name="backend"\r\n\r\nclassic\r\n'.encode(),
             f'--{b}\r\nContent-Disposition: form-data; name="style"\r\n\r\ncartoon\r\n'.encode(),
             (f'--{b}\r\nContent-Disposition: form-data; name="image"; filename="p.png"\r\n'
              'Content-Type: image/png\r\n\r\n').encode() + image + b"\r\n",
             f"--{b}--\r\n".encode()]
    return b"".join(parts), f"multipart/form-data; boundary={b}"


class Api:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            return res.status, res.read()
        finally:
            conn.close()

    def submit(self, salt):
        body, ctype = multipart(png(128, 96, salt))
        status, data = self.request("POST", "/api/v1/jobs", body, {"Content-Type": ctype})
        return status, (json.loads(data).get("id") if status == 202 else data[:200])

    def wait(self, ids, timeout):
        pending = set(ids)
        deadline = time.time() + timeout
        while pending and time.time() < deadline:
            for job_id in list(pending):
                status, data = self.request("GET", "/api/v1/jobs/" + job_id)
                if status == 200 and json.loads(data)["status"] in TERMINAL:
                    pending.discard(job_id)
            if pending:
                time.sleep(0.2)
        return pending


def main():
    base, mode, amount, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    api = Api(base)
    if mode == "seed":
        ids = []
        for i in range(amount):
            status, job_id = api.submit(i)
            if status != 202:
                sys.exit(f"seed submission failed: {status} {job_id}")
            ids.append(job_id)
        if api.wait(ids, 120):
            sys.exit("seed jobs did not finish")
        open(path, "w").write("\n".join(ids) + "\n")
    elif mode == "run":
        lock = threading.Lock()
        accepted, errors, submitted = [], [], [0]
        stop = time.time() + amount

        def loop(tid):
            salt = tid * 100000
            while time.time() < stop:
                salt += 1
                try:
                    status, result = api.submit(salt)
                except OSError as e:
                    status, result = 0, str(e)
                with lock:
                    submitted[0] += 1
                    (accepted if status == 202 else errors).append(result if status == 202 else (status, result))
                time.sleep(0.1)

        threads = [threading.Thread(target=loop, args=(t,)) for t in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        open(path, "w").write("\n".join(accepted) + "\n")
        print(f"submitted {submitted[0]}, accepted {len(accepted)}")
        print(f"submit errors {len(errors)}")
        for e in errors[:5]:
            print("  ", e)
    elif mode == "check":
        ids = [line.strip() for line in open(path) if line.strip()]
        start = time.time()
        lost = api.wait(ids, amount)
        print(f"accepted jobs that ended: {len(ids) - len(lost)} of {len(ids)} "
              f"(queue drained {time.time() - start:.1f} s after the soak)")
        print(f"lost {len(lost)}")


if __name__ == "__main__":
    main()
