"""Independent reader for the emulator's disk-fault tests: reads JSON
{"url", "keyId", "key", "acked": {fileId: sha1}, "gone": [fileId]} on stdin,
downloads every acknowledged version with b2sdk and prints one line per
problem, then "checked N"."""
import hashlib
import io
import json
import sys

from b2sdk.v2 import B2Api, InMemoryAccountInfo

req = json.load(sys.stdin)
api = B2Api(InMemoryAccountInfo())
api.authorize_account(req["url"], req["keyId"], req["key"])
gone = set(req["gone"])
n = 0
for fid, want in sorted(req["acked"].items()):
    n += 1
    try:
        buf = io.BytesIO()
        api.download_file_by_id(fid).save(buf)
        got = hashlib.sha1(buf.getvalue()).hexdigest()
    except Exception as e:  # noqa: BLE001 - any failure is reported
        if fid not in gone:
            print("MISSING %s: %s" % (fid, type(e).__name__))
        continue
    if fid in gone:
        print("UNDELETED %s" % fid)
    elif got != want:
        print("CORRUPT %s: sha1 %s want %s" % (fid, got, want))
print("checked %d" % n)
