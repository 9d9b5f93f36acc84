"""Replication seen through b2sdk (Backblaze's Python SDK), independent of
this repository: reads JSON {"url", "keyId", "key", "src", "dst"} on stdin,
sets up replication src → dst with b2sdk's own request format, uploads a
file, waits for b2local to replicate it and prints one line per problem,
then "ok"."""
import hashlib
import io
import json
import sys
import time

from b2sdk.v2 import B2Api, InMemoryAccountInfo
from b2sdk.replication.setting import ReplicationConfiguration, ReplicationRule
from b2sdk.replication.types import ReplicationStatus

req = json.load(sys.stdin)
api = B2Api(InMemoryAccountInfo())
api.authorize_account(req["url"], req["keyId"], req["key"])
src = api.get_bucket_by_name(req["src"])
dst = api.get_bucket_by_name(req["dst"])
skey = api.create_key(["readFiles", "readFileLegalHolds", "readFileRetentions"], "replsrc", bucket_id=src.id_)
dkey = api.create_key(["writeFiles", "writeFileLegalHolds", "writeFileRetentions", "deleteFiles"], "repldst", bucket_id=dst.id_)
dst.update(replication=ReplicationConfiguration(
    source_to_destination_key_mapping={skey.id_: dkey.id_}))
src.update(replication=ReplicationConfiguration(
    rules=[ReplicationRule(destination_bucket_id=dst.id_, name="sdk_rule-1")],
    source_key_id=skey.id_))
problems = []
src = api.get_bucket_by_name(req["src"])
if not src.replication or src.replication.source_key_id != skey.id_ or src.replication.rules[0].name != "sdk_rule-1":
    problems.append("source bucket replication as b2sdk reads it: %r" % (src.replication,))
dst = api.get_bucket_by_name(req["dst"])
if not dst.replication or dst.replication.source_to_destination_key_mapping != {skey.id_: dkey.id_}:
    problems.append("destination bucket replication as b2sdk reads it: %r" % (dst.replication,))
data = b"replicated through b2sdk"
fv = src.upload_bytes(data, "sdk/file.txt")
deadline = time.time() + 10
while True:
    info = api.get_file_info(fv.id_)
    if info.replication_status == ReplicationStatus.COMPLETED or time.time() > deadline:
        break
    time.sleep(0.02)
if info.replication_status != ReplicationStatus.COMPLETED:
    problems.append("source status %r" % (info.replication_status,))
replicas = [v for v, _ in dst.ls(latest_only=False, recursive=True)]
if len(replicas) != 1 or replicas[0].replication_status != ReplicationStatus.REPLICA:
    problems.append("destination listing %r" % ([(v.file_name, v.replication_status) for v in replicas],))
else:
    buf = io.BytesIO()
    dl = api.download_file_by_id(replicas[0].id_)
    dl.save(buf)
    if buf.getvalue() != data:
        problems.append("replica bytes differ")
    if dl.download_version.replication_status != ReplicationStatus.REPLICA:
        problems.append("replica download status %r" % (dl.download_version.replication_status,))
for p in problems:
    print(p)
print("ok")
