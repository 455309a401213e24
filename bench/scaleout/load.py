#!/usr/bin/env python3
"""Submits N classic jobs to a labhouse URL from C client threads and waits until all succeeded.
Prints one line: jobs, seconds, jobs/s (end to end: first submit to last success).
Usage: load.py URL N CONCURRENCY IMAGE STYLE"""
import re
import sys
import threading
import time
import urllib.request
import uuid

url, n, concurrency, image_path, style = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
image = open(image_path, 'rb').read()


def succeeded():
    text = urllib.request.urlopen(url + '/metrics', timeout=30).read().decode()
    m = re.search(r'labhouse_jobs\{state="succeeded"\} ([0-9.e+]+)', text)
    return int(float(m.group(1))) if m else 0


def submit():
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in (('backend', b'classic'), ('style', style.encode())):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b'\r\n')
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="in.png"\r\n'
                 'Content-Type: image/png\r\n\r\n'.encode() + image + b'\r\n')
    body = b''.join(parts) + f'--{boundary}--\r\n'.encode()
    req = urllib.request.Request(url + '/api/v1/jobs', data=body, method='POST',
                                 headers={'Content-Type': f'multipart/form-data; boundary={boundary}'})
    with urllib.request.urlopen(req, timeout=60) as res:
        if res.status != 202:
            raise RuntimeError(f'submit: HTTP {res.status}')


base = succeeded()
start = time.monotonic()
errors = []


def client(count):
    try:
        for _ in range(count):
            submit()
    except Exception as e:  # noqa: BLE001 - reported below
        errors.append(e)


threads = [threading.Thread(target=client, args=(n // concurrency + (1 if i < n % concurrency else 0),))
           for i in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    sys.exit(f'submission failed: {errors[0]}')
deadline = time.monotonic() + 600
while succeeded() - base < n:
    if time.monotonic() > deadline:
        sys.exit('timed out waiting for the jobs')
    time.sleep(0.05)
elapsed = time.monotonic() - start
print(f'{n} {elapsed:.2f} {n / elapsed:.2f}')
