"""Checks uploads with a hashwarden sidecar (`hashwarden serve`) from Python, as a service calls HMA.

Standard library only. Each file is posted to the sidecar's POST /m/lookup as HMA's clients post
it (multipart, field `photo`), and decided: `block` (a list matched: the matches name the bank,
entry and distance, for your report; tell the uploader only that the file was refused), `allow`
(checked, no match), or `reject` (not checked: any answer but a 200, or no answer at all; never
publish it, and retry it later when `retry` is true).

Run: HASHWARDEN_URL=http://127.0.0.1:5100 HASHWARDEN_TOKEN=... python3 check_upload.py FILE...
One JSON line per file; exit status 0 when every file is allowed, 1 when any is blocked, 2 when
any is rejected (and none blocked).
"""

import json
import os
import sys
import urllib.error
import urllib.request
import uuid


def check_upload(base_url, token, data, filename="upload"):
    """The decision for one upload's bytes: {"action": "block" | "allow" | "reject", ...}."""
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="photo"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{base_url.rstrip('/')}/m/lookup", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            by_signal = json.load(response)
    except urllib.error.HTTPError as error:
        # Anything but a 200 means the upload was not checked: the body says why, with a code.
        try:
            detail = json.load(error)
        except ValueError:
            detail = {}
        return {"action": "reject", "status": error.code, "code": detail.get("code"), "retry": error.code == 503}
    except OSError as error:
        # No answer (the sidecar down, a timeout): not checked either.
        return {"action": "reject", "status": None, "code": None, "retry": True, "reason": str(error)}
    matches = [
        {"signal_type": signal, "bank": bank, **match}
        for signal, by_bank in by_signal.items()
        for bank, found in by_bank.items()
        for match in found
    ]
    return {"action": "block", "matches": matches} if matches else {"action": "allow"}


def main(paths):
    base_url = os.environ.get("HASHWARDEN_URL", "http://127.0.0.1:5100")
    token = os.environ.get("HASHWARDEN_TOKEN")
    actions = set()
    for path in paths:
        with open(path, "rb") as file:
            decision = check_upload(base_url, token, file.read(), os.path.basename(path))
        actions.add(decision["action"])
        print(json.dumps({"file": path, **decision}), flush=True)
    return 1 if "block" in actions else 2 if "reject" in actions else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
