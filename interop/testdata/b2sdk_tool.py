"""Independent reader/seeder for b2plan's interop probes, using Backblaze's
own Python SDK (b2sdk). Reads one JSON command from argv[1]:

  {"url":..., "key_id":..., "key":..., "bucket":..., "op": "inventory"}
      -> prints one JSON object per version, newest first per name:
         name, id, action, size, content_sha1, info, sha1 (of the bytes
         downloaded, uploads only)
  {"...", "op": "seed", "steps": [{"upload": NAME, "data": TEXT} | {"hide": NAME}]}
      -> performs the steps in order, printing the ids of uploads.
"""
import hashlib
import io
import json
import sys

import b2sdk.v2 as b2


def main():
    cmd = json.loads(sys.argv[1])
    api = b2.B2Api(b2.InMemoryAccountInfo())
    api.authorize_account(cmd["url"], cmd["key_id"], cmd["key"])
    bucket = api.get_bucket_by_name(cmd["bucket"])
    if cmd["op"] == "inventory":
        for fv, _ in bucket.ls("", latest_only=False, recursive=True):
            row = {
                "name": fv.file_name,
                "id": fv.id_,
                "action": fv.action,
                "size": fv.size,
                "content_sha1": fv.content_sha1,
                "info": fv.file_info,
            }
            if fv.action == "upload":
                buf = io.BytesIO()
                bucket.download_file_by_id(fv.id_).save(buf)
                row["sha1"] = hashlib.sha1(buf.getvalue()).hexdigest()
            print(json.dumps(row))
    elif cmd["op"] == "seed":
        for st in cmd["steps"]:
            if "upload" in st:
                fv = bucket.upload_bytes(st["data"].encode(), st["upload"])
                print(json.dumps({"name": st["upload"], "id": fv.id_}))
            else:
                bucket.hide_file(st["hide"])
    else:
        sys.exit("unknown op " + cmd["op"])


if __name__ == "__main__":
    main()
