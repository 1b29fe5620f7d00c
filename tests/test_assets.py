"""test_assets.py: the five integration-asset operations seen from outside (core spec §4): export round
trip through a real zip, delete with per-resource reasons, import, validation 400s, Idempotency-Key,
Location/Retry-After, monotonic progress, job and archive 404s."""
import io
import json
import uuid
import zipfile

from asset_helpers import create_apps, job, submit, wait_job
from test_platform import err


def download(stack, archive_id):
    return stack.client().get(stack.inst(f"/assets/archives/{archive_id}"))


def test_export_round_trip(stack):
    apps = create_apps(stack, 3)
    c = stack.client()
    r = submit(stack, "export", [a["id"] for a in apps])
    assert r.status_code == 200, r.text
    job_id = r.json()["job_id"]
    assert len(job_id) == 32 and int(job_id, 16) >= 0
    assert r.headers["Location"] == stack.inst(f"/assets/jobs/{job_id}")
    assert r.headers["Retry-After"] == "1"

    seen = []
    final = wait_job(stack, job_id, on_poll=lambda j: seen.append(j["progress_percent"]))
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    assert final["status"] == "SUCCEEDED", final
    assert final["type"] == "exportAsset" and final["id"] == job_id
    assert final["reasons"] == [] and final["progress_percent"] == 1
    assert final["begin_time"].endswith("Z") and len(final["begin_time"]) == 20
    assert final["end_time"] >= final["begin_time"]

    d = download(stack, final["archive_id"])
    assert d.status_code == 200, d.text
    assert d.headers["Content-Type"] == "application/zip"
    assert "attachment" in d.headers["Content-Disposition"]
    z = zipfile.ZipFile(io.BytesIO(d.content))
    manifest = json.loads(z.read("manifest.json"))
    assert manifest["format"] == "openroma-assets" and manifest["version"] == 1
    assert manifest["instance_id"] == stack.instance_id
    assert sorted(a["id"] for a in manifest["apps"]) == sorted(a["id"] for a in apps)
    for a in apps:
        doc = json.loads(z.read(f"apps/{a['id']}.json"))
        assert doc["kind"] == "application"
        got = doc["app"]
        for field in ("id", "name", "remark", "key"):
            assert got[field] == a[field], (field, got, a)
        # the exporter holds admin: the secret travels as a sealed grant bound to them, never in clear
        assert got["secret_grant"].startswith("v1:") and "secret_sealed" not in got
        secret = c.get(stack.inst(f"/apps/{a['id']}/secret")).json()["secret"]
        assert secret.encode() not in d.content, "a clear secret must never be in a downloadable package"
    # kept until expiry: a second download returns the same bytes
    assert download(stack, final["archive_id"]).content == d.content


def test_export_unknown_resources_fail_with_reasons(stack):
    [app] = create_apps(stack, 1)
    missing = str(uuid.uuid4())
    r = submit(stack, "export", [app["id"], missing], ["task-1"])
    final = wait_job(stack, r.json()["job_id"])
    assert final["status"] == "FAILED"
    assert "archive_id" not in final
    got = sorted((x["resource_type"], x["resource_name"], x["error_code"]) for x in final["reasons"])
    assert got == [("application", missing, "ROMA.00014001"), ("task", "task-1", "FDI.3081")]
    assert final["reason"] == final["reasons"]  # SEED spelling carried too


def test_delete_with_reasons_and_effects(stack):
    a, b = create_apps(stack, 2)
    missing = str(uuid.uuid4())
    r = submit(stack, "delete", [a["id"], b["id"], missing], ["t1"])
    assert r.status_code == 200, r.text
    final = wait_job(stack, r.json()["job_id"])
    assert final["type"] == "deleteAsset"
    assert final["status"] == "FAILED"
    assert sorted(x["resource_name"] for x in final["reasons"]) == sorted([missing, "t1"])
    c = stack.client()
    for x in (a, b):
        assert c.get(stack.inst(f"/apps/{x['id']}")).status_code == 404

    [d] = create_apps(stack, 1)
    final = wait_job(stack, submit(stack, "delete", [d["id"]]).json()["job_id"])
    assert final["status"] == "SUCCEEDED" and final["reasons"] == []
    assert "archive_id" not in final


def test_validation_errors_are_400_not_jobs(stack):
    c = stack.client()
    path = stack.inst("/assets/export")
    before = stack.sql("SELECT count(*) FROM asset_jobs")
    err(c.post(path, data=b""), 400, "ROMA.13001")
    err(c.post(path, data=b"{not json", headers={"Content-Type": "application/json"}), 400, "ROMA.13000")
    err(c.post(path, json=[1]), 400, "ROMA.13000")
    err(c.post(path, json={"tasks": []}), 400, "ROMA.13000")  # apps required
    err(c.post(path, json={"apps": "x"}), 400, "ROMA.13000")
    err(c.post(path, json={"apps": [{"id": 7}]}), 400, "ROMA.13000")
    err(c.post(path, json={"apps": [{}]}), 400, "ROMA.13000")
    err(c.post(path, json={"apps": [{"id": ""}]}), 400, "ROMA.13000")
    err(c.post(path, json={"apps": [{"id": "x" * 65}]}), 400, "ROMA.13000")
    err(c.post(path, json={"apps": [{"id": str(i)} for i in range(101)]}), 400, "ROMA.13000")
    err(c.post(path, json={"apps": [], "tasks": {"id": "t"}}), 400, "ROMA.13000")
    err(c.post(stack.inst("/assets/delete"), json={"apps": []}), 400, "ROMA.13000")  # delete needs tasks
    err(c.post(path, json={"apps": []}, headers={"Idempotency-Key": "x" * 129}), 400, "ROMA.13000")
    assert stack.sql("SELECT count(*) FROM asset_jobs") == before
    # accepted shapes: tasks optional for export, bare strings, {task_id}, null lists, 100 items
    for body in ({"apps": []}, {"apps": ["a"], "tasks": [{"task_id": "t"}]}, {"apps": None, "tasks": None},
                 {"apps": [{"id": str(i)} for i in range(100)]}):
        assert c.post(path, json=body).status_code == 200, body


def test_idempotency_key(stack):
    [app] = create_apps(stack, 1)
    key = uuid.uuid4().hex
    r1 = submit(stack, "export", [app["id"]], headers={"Idempotency-Key": key})
    r2 = submit(stack, "export", [app["id"]], headers={"Idempotency-Key": key})
    assert r1.status_code == r2.status_code == 200
    assert r1.json()["job_id"] == r2.json()["job_id"]
    assert r2.headers["Location"].endswith(r1.json()["job_id"])
    assert stack.sql(f"SELECT count(*) FROM asset_jobs WHERE idempotency_key = '{key}'") == "1"
    err(submit(stack, "export", [app["id"], "other"], headers={"Idempotency-Key": key}), 422, "ROMA.13002")
    err(submit(stack, "delete", [app["id"]], headers={"Idempotency-Key": key}), 422, "ROMA.13002")
    assert wait_job(stack, r1.json()["job_id"])["status"] == "SUCCEEDED"


def test_unknown_job_and_archive_are_404(stack):
    c = stack.client()
    err(c.get(stack.inst(f"/assets/jobs/{uuid.uuid4().hex}")), 404, "ROMA.00015001")
    err(c.get(stack.inst("/assets/jobs/not-a-job")), 404, "ROMA.00015001")
    err(c.get(stack.inst(f"/assets/archives/{uuid.uuid4().hex}")), 404, "ROMA.00015002")
    err(c.get(stack.inst("/assets/archives/..")), 404)


def test_full_export_then_import(stack):
    apps = create_apps(stack, 2)
    final = wait_job(stack, submit(stack, "export", body={"apps": [], "tasks": []}).json()["job_id"])
    assert final["status"] == "SUCCEEDED", final
    package = download(stack, final["archive_id"]).content
    names = {a["id"] for a in json.loads(zipfile.ZipFile(io.BytesIO(package)).read("manifest.json"))["apps"]}
    assert {a["id"] for a in apps} <= names
    c = stack.client()

    # AddNew into the same instance: everything clashes -> FAILED with one reason per app, nothing changes
    files = {"ImportAssetRequestBody": ("backup-1.zip", package, "application/zip")}
    r = c.post(stack.inst("/assets/import"), files=files)
    assert r.status_code == 200, r.text
    final = wait_job(stack, r.json()["job_id"])
    assert final["type"] == "importAsset" and final["status"] == "FAILED"
    # on a shared stack with more apps than ROMA_JOB_MAX_REASONS, the list is cut and ends with the count reason
    codes = [x["error_code"] for x in final["reasons"]]
    assert set(codes[:-1]) == {"ROMA.00015006"} and codes[-1] in ("ROMA.00015006", "ROMA.00015007"), codes

    # delete one app, import again: it comes back with its id, key and (same deployment key) secret
    secret = c.get(stack.inst(f"/apps/{apps[0]['id']}/secret")).json()["secret"]
    assert wait_job(stack, submit(stack, "delete", [apps[0]["id"]]).json()["job_id"])["status"] == "SUCCEEDED"
    r = c.post(stack.inst("/assets/import"), files=files, params={"type": "Merge"})
    final = wait_job(stack, r.json()["job_id"])
    assert final["status"] == "SUCCEEDED", final
    back = c.get(stack.inst(f"/apps/{apps[0]['id']}"))
    assert back.status_code == 200 and back.json()["key"] == apps[0]["key"]
    assert c.get(stack.inst(f"/apps/{apps[0]['id']}/secret")).json()["secret"] == secret

    # prefix: a second copy next to the originals, names and keys prefixed. The copy is made of a package
    # of this test's own apps: other tests leave apps on the shared stack whose names are already at the
    # length limit, and a prefixed name must pass CreateRomaApp's rules (a per-item reason otherwise).
    own = wait_job(stack, submit(stack, "export", [a["id"] for a in apps]).json()["job_id"])
    assert own["status"] == "SUCCEEDED", own
    files = {"ImportAssetRequestBody": ("backup-2.zip", download(stack, own["archive_id"]).content, "application/zip")}
    r = c.post(stack.inst("/assets/import"), files=files, params={"prefix": "copy-"})
    final = wait_job(stack, r.json()["job_id"])
    assert final["status"] == "SUCCEEDED", final
    listed = c.get(stack.inst("/apps"), params={"name": "copy-" + apps[1]["name"]}).json()["apps"]
    assert [x["name"] for x in listed] == ["copy-" + apps[1]["name"]]
    assert listed[0]["key"] == "copy-" + apps[1]["key"]

    err(c.post(stack.inst("/assets/import"), files={"ImportAssetRequestBody": ("-bad.zip", package, "x")}), 400,
        "ROMA.10013")
    err(c.post(stack.inst("/assets/import"), files={"ImportAssetRequestBody": ("a.txt", package, "x")}), 400,
        "ROMA.10013")
    err(c.post(stack.inst("/assets/import"), files={"ImportAssetRequestBody": ("a.zip", b"hello world" * 3, "x")}),
        400, "ROMA.10011")
    err(c.post(stack.inst("/assets/import"), files={"other": ("a.zip", package, "x")}), 400, "ROMA.13000")
    err(c.post(stack.inst("/assets/import"), files=files, params={"type": "Replace"}), 400, "ROMA.13000")

