"""asset_helpers.py: shared steps of the asset-job tests (test_assets.py, test_job_faults.py) and the job
benchmark (bench/bench_jobs.py): create apps, submit jobs, poll a job to its end."""
import time
import uuid


def create_apps(stack, n, prefix=None):
    """Creates n apps through the API; returns their JSON bodies."""
    c = stack.client()
    prefix = prefix or f"app-{uuid.uuid4().hex[:8]}"
    out = []
    for i in range(n):
        r = c.post(stack.inst("/apps"), json={"name": f"{prefix}-{i}", "remark": f"remark {i}"})
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


def create_apps_sql(stack, n, prefix):
    """Creates n apps straight in the database (fast path for big exports); returns their ids."""
    sealed = stack.sql("SELECT secret_sealed FROM apps LIMIT 1")
    assert sealed, "create one app through the API first (a valid sealed secret is copied)"
    user = stack.sql(f"SELECT id || '|' || name FROM users WHERE project_id = '{stack.project_id}' LIMIT 1")
    uid, uname = user.split("|", 1)
    stack.sql(
        "INSERT INTO apps (project_id, instance_id, name, remark, key, secret_sealed, created_by, created_user_name,"
        " last_updated_user_id, last_updated_user_name)"
        f" SELECT '{stack.project_id}', '{stack.instance_id}', '{prefix}-' || g, 'bulk ' || g, '{prefix}k' || g,"
        f" '{sealed}', '{uid}', '{uname}', '{uid}', '{uname}' FROM generate_series(1, {n}) g")
    # the creator's member row with all five roles, as CreateRomaApp writes it (jobs check roles per app)
    stack.sql("INSERT INTO app_members (app_id, user_id, roles) SELECT id, created_by,"
              " ARRAY['read', 'access', 'delete', 'modify', 'admin'] FROM apps"
              f" WHERE name LIKE '{prefix}-%' ON CONFLICT DO NOTHING")
    ids = stack.sql(f"SELECT id FROM apps WHERE name LIKE '{prefix}-%' ORDER BY id").split()
    assert len(ids) == n
    return ids


def submit(stack, kind, apps=(), tasks=(), headers=None, body=None):
    """POST assets/<kind> with {apps:[{id}], tasks:[{id}]}; returns the response."""
    if body is None:
        body = {"apps": [{"id": a} for a in apps], "tasks": [{"id": t} for t in tasks]}
    return stack.client().post(stack.inst(f"/assets/{kind}"), json=body, headers=headers or {})


def job(stack, job_id):
    r = stack.client().get(stack.inst(f"/assets/jobs/{job_id}"))
    assert r.status_code == 200, r.text
    return r.json()


def wait_job(stack, job_id, timeout=20.0, on_poll=None):
    """Polls until the job is SUCCEEDED or FAILED; returns the final body. on_poll(body) sees each poll."""
    end = time.time() + timeout
    while time.time() < end:
        j = job(stack, job_id)
        if on_poll:
            on_poll(j)
        if j["status"] in ("SUCCEEDED", "FAILED"):
            return j
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not finished after {timeout}s: {job(stack, job_id)}")
