"""Issue 13's fidelity checks as Backblaze's Python SDK sees them. Reads
{"url", "keyId", "key", "bucket"} on stdin (bucket: a fresh name), prints
"OK <check>" or "FAIL <check>: <detail>" per check."""
import hashlib
import io
import json
import sys
import traceback

from b2sdk.v2 import B2Api, InMemoryAccountInfo
from b2sdk.v2.exception import B2Error, BadRequest

req = json.load(sys.stdin)
api = B2Api(InMemoryAccountInfo())
api.authorize_account(req["url"], req["keyId"], req["key"])
bucket = api.create_bucket(req["bucket"], "allPrivate")
sess = api.session


def check(name):
    def wrap(fn):
        try:
            fn()
            print("OK " + name)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            detail = "%s: %s" % (type(e).__name__, e)
            print("FAIL %s: %s %s" % (name, detail, traceback.format_exc().splitlines()[-3:]))
        return fn
    return wrap


def want(cond, detail):
    if not cond:
        raise AssertionError(detail)


@check("info names keep their case on download (src_last_modified_millis)")
def _():
    bucket.upload_bytes(b"hello", "a.txt", file_infos={"src_last_modified_millis": "1600000000123", "note": "x"})
    d = bucket.download_file_by_name("a.txt")
    d.save(io.BytesIO())
    info = d.download_version.file_info
    want(info.get("src_last_modified_millis") == "1600000000123", "file_info from headers: %r" % info)
    want(d.download_version.mod_time_millis == 1600000000123, "mod_time_millis %r" % d.download_version.mod_time_millis)


@check("file ids have B2's 83-character shape")
def _():
    fv = bucket.get_file_info_by_name("a.txt")
    want(len(fv.id_) == 83 and fv.id_.startswith("4_z" + bucket.id_ + "_f"), "file id %r" % fv.id_)


@check("hide_file and listing versions with a hide marker")
def _():
    hv = bucket.hide_file("a.txt")
    want(hv.action == "hide", "hide action %r" % hv.action)
    vs = list(bucket.list_file_versions("a.txt"))
    want([v.action for v in vs] == ["hide", "upload"], "versions %r" % [v.action for v in vs])
    rows = list(bucket.ls(latest_only=False, recursive=True))
    want(len(rows) == 2, "ls --versions rows %d" % len(rows))


@check("unknown bucket id is BucketIdNotFound")
def _():
    try:
        sess.get_upload_url("0" * 24)
    except B2Error as e:
        want(type(e).__name__ == "BucketIdNotFound", "raised %s" % type(e).__name__)
        return
    raise AssertionError("no BucketIdNotFound")


@check("update_bucket sends the replication configuration back")
def _():
    b = api.get_bucket_by_name(req["bucket"])
    rc = b.replication
    b.update(bucket_info={"k": "v"}, replication=rc)


@check("a one-part large file is refused at finish")
def _():
    f = sess.start_large_file(bucket.id_, "large1", "b2/x-auto", {})
    data = b"p" * 1000
    sess.upload_part(f["fileId"], 1, len(data), hashlib.sha1(data).hexdigest(), io.BytesIO(data))
    try:
        sess.finish_large_file(f["fileId"], [hashlib.sha1(data).hexdigest()])
    except BadRequest as e:
        want("2 parts" in str(e), "message %s" % e)
        return
    raise AssertionError("one-part large file finished")


@check("Object Lock on a bucket without it is bucket_missing_file_lock")
def _():
    from b2sdk.v2 import LegalHold
    fv = bucket.upload_bytes(b"lock", "lock.txt")
    try:
        api.update_file_legal_hold(fv.id_, fv.file_name, LegalHold.ON)
    except B2Error as e:
        want(getattr(e, "code", None) == "bucket_missing_file_lock", "code %r (%s)" % (getattr(e, "code", None), e))
        return
    raise AssertionError("legal hold set on a bucket without Object Lock")


@check("file info values with a newline")
def _():
    bucket.upload_bytes(b"nl", "nl.txt", file_infos={"note": "line1\nline2"})
    d = bucket.download_file_by_name("nl.txt")
    d.save(io.BytesIO())
    want(d.download_version.file_info.get("note") == "line1\nline2", "info %r" % d.download_version.file_info)


@check("do_not_verify upload reports unverified: and b2sdk strips it")
def _():
    data = b"unverified data"
    r = sess.upload_file(bucket.id_, "nv.txt", len(data), "text/plain", "do_not_verify", {}, io.BytesIO(data))
    want(r["contentSha1"] == "unverified:" + hashlib.sha1(data).hexdigest(), "contentSha1 %r" % r["contentSha1"])
    fv = bucket.get_file_info_by_id(r["fileId"])
    want(fv.content_sha1 == hashlib.sha1(data).hexdigest() and fv.content_sha1_verified is False,
         "b2sdk sees %r verified=%r" % (fv.content_sha1, fv.content_sha1_verified))


@check("sync down keeps modification times, so a second sync downloads nothing")
def _():
    import os
    import tempfile
    import time
    from b2sdk.v2 import Synchronizer, SyncReport, parse_folder
    bucket.upload_bytes(b"synced", "sync/s.txt", file_infos={"src_last_modified_millis": "1500000000000"})
    local = tempfile.mkdtemp()
    sync = Synchronizer(max_workers=2)

    def run():
        with open(os.devnull, "w") as devnull:
            with SyncReport(devnull, no_progress=True) as reporter:
                sync.sync_folders(parse_folder("b2://%s/sync" % req["bucket"], api), parse_folder(local, api),
                                  int(time.time() * 1000), reporter)
        return os.stat(os.path.join(local, "s.txt")).st_mtime_ns
    first = run()
    want(first // 1000000 == 1500000000000, "local mtime %d ms, want 1500000000000" % (first // 1000000))
    os.utime(os.path.join(local, "s.txt"), ns=(first, first))
    second = run()
    want(second == first, "second sync rewrote the file (mtime %d → %d)" % (first, second))
