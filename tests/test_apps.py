"""test_apps.py: black-box tests of the integration-application operations (spec §2) against a real stack.

Covers all eleven operations through X-Auth-Token and through AK/SK signing, every field rule at its
boundaries (lengths, charsets incl. CJK and full-width parentheses, key's first character), defaults and
random key/secret, uniqueness of name and key in the instance (also under concurrent inserts), role
normalisation (§2.4), list filters and pagination (§2.5, §1.5), secrets (only via /secret, sealed at rest,
never logged), members and candidates with a second and a foreign-project user, permissions (403), and bad
input (malformed JSON, wrong types, missing body, 413, unknown ids) - always asserting status, error_code
and the E-ROMA body shape.
"""
import concurrent.futures
import re
import uuid

import pytest

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
APP_KEYS = {"id", "name", "remark", "roles", "create_time", "update_time", "created_user", "last_updated_user",
            "owner", "key", "favorite"}
ALL_ROLES = ["read", "access", "delete", "modify", "admin"]
SECRET_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!@#$%+=.-/")


def uniq(prefix="app"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_err(resp, status, code):
    """The E-ROMA error body: exactly error_code, error_msg, error_details, request_id (all strings)."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) == {"error_code", "error_msg", "error_details", "request_id"}, body
    assert all(isinstance(v, str) and v for v in body.values()), body
    assert body["error_code"] == code, body
    assert body["request_id"] == resp.headers["X-Request-Id"]
    return body


def assert_app(app, name=None):
    assert set(app) == APP_KEYS, app
    assert UUID_RE.match(app["id"])
    assert ISO_MS.match(app["create_time"]) and ISO_MS.match(app["update_time"])
    assert set(app["created_user"]) == {"user_id", "user_name"}
    assert set(app["last_updated_user"]) == {"user_id", "user_name"}
    assert isinstance(app["owner"], bool) and isinstance(app["favorite"], bool)
    assert app["roles"] == [r for r in ALL_ROLES if r in app["roles"]] and "read" in app["roles"]
    if name is not None:
        assert app["name"] == name
    assert "secret" not in app


@pytest.fixture(scope="module")
def tok(stack):
    return stack.client()


@pytest.fixture(scope="module")
def ak(stack):
    return stack.ak_client()


@pytest.fixture(params=["token", "aksk"])
def cli(request, tok, ak):
    """Each test using it runs once with X-Auth-Token and once with SDK-HMAC-SHA256 signing."""
    return tok if request.param == "token" else ak


class User:
    def __init__(self, stack, project_id=None):
        self.name = uniq("user")
        self.id = stack.admin("user-create", "--project", project_id or stack.project_id, "--name", self.name,
                              "--password", "Passw0rd-apps").strip()
        self.token = stack.admin("token-create", "--user", self.id).strip()
        self.client = stack.client(token=self.token)


@pytest.fixture(scope="module")
def u2(stack):
    return User(stack)


@pytest.fixture(scope="module")
def u3(stack):
    return User(stack)


@pytest.fixture(scope="module")
def foreign_user(stack):
    """A user of another project: never a valid member."""
    pid = stack.admin("project-create", "--name", uniq("proj")).strip()
    return User(stack, project_id=pid)


def create(stack, client, status=201, **fields):
    body = {"name": uniq()}
    body.update(fields)
    r = client.post(stack.inst("/apps"), json=body)
    assert r.status_code == status, r.text
    return r.json()


# ---------------------------------------------------------------------------------------------------------
# create / show / update / delete
# ---------------------------------------------------------------------------------------------------------

def test_create_minimal_defaults(stack, cli):
    name = uniq()
    r = cli.post(stack.inst("/apps"), json={"name": name})
    assert r.status_code == 201, r.text
    app = r.json()
    assert_app(app, name)
    assert app["remark"] == "" and app["favorite"] is False and app["owner"] is True
    assert app["roles"] == ALL_ROLES
    assert re.match(r"^[A-Za-z0-9]{32}$", app["key"])
    assert app["created_user"]["user_id"] == stack.user_id
    assert app["last_updated_user"]["user_id"] == stack.user_id
    assert app["created_user"]["user_name"] == "admin"
    assert app["create_time"] == app["update_time"]


def test_create_all_fields_then_show(stack, cli):
    name, key = uniq(), uniq("key")
    app = create(stack, cli, name=name, remark="备注 remark", key=key, secret="Secret-123!", favorite=True)
    assert app["key"] == key and app["remark"] == "备注 remark" and app["favorite"] is True
    r = cli.get(stack.inst(f"/apps/{app['id']}"))
    assert r.status_code == 200
    assert r.json() == app
    s = cli.get(stack.inst(f"/apps/{app['id']}/secret"))
    assert s.status_code == 200 and s.json() == {"id": app["id"], "secret": "Secret-123!"}


def test_create_null_secret_and_key_are_random(stack, cli):
    app = create(stack, cli, key=None, secret=None, remark=None, favorite=None)
    assert re.match(r"^[A-Za-z0-9]{32}$", app["key"]) and app["remark"] == "" and app["favorite"] is False
    secret = cli.get(stack.inst(f"/apps/{app['id']}/secret")).json()["secret"]
    assert len(secret) == 32 and set(secret) <= SECRET_CHARS
    assert any(c.isupper() for c in secret) and any(c.islower() for c in secret)
    assert any(c.isdigit() for c in secret) and any(c in "!@#$%+=.-/" for c in secret)


def test_random_keys_and_secrets_differ(stack, tok):
    a, b = create(stack, tok), create(stack, tok)
    assert a["key"] != b["key"]
    sa = tok.get(stack.inst(f"/apps/{a['id']}/secret")).json()["secret"]
    sb = tok.get(stack.inst(f"/apps/{b['id']}/secret")).json()["secret"]
    assert sa != sb


@pytest.mark.parametrize("name", [
    "a", "x" * 256, "应" * 256, "应用（测试）", "App (v1) - test_1.0", "中文 English 123", "((（））))",
])
def test_name_accepted(stack, tok, name):
    # make it unique while keeping the exact boundary length and the charset under test
    if len(name) < 240:
        name = name + uuid.uuid4().hex[:8]
    else:
        name = uuid.uuid4().hex[:8] + name[8:]
    app = create(stack, tok, name=name)
    assert app["name"] == name


@pytest.mark.parametrize("name", [
    "", "x" * 257, "应" * 257, "a@b", "a/b", "a,b", "a:b", "应用。", "tab\there", "new\nline", "emoji😀",
    "ｆｕｌｌ", "<script>", "a'b", 'a"b', "a#b",
])
def test_name_rejected(stack, cli, name):
    r = cli.post(stack.inst("/apps"), json={"name": name})
    body = assert_err(r, 400, "ROMA.13000")
    assert "name" in body["error_msg"]


@pytest.mark.parametrize("value", [None, 5, True, [], {}, 1.5])
def test_name_missing_or_wrong_type(stack, cli, value):
    body = {} if value is None else {"name": value}
    r = cli.post(stack.inst("/apps"), json=body)
    assert "name" in assert_err(r, 400, "ROMA.13000")["error_msg"]


@pytest.mark.parametrize("key", ["abc", "k" * 200, "9ab", "键abc", "a-b_c@d.e", "A1.@-_"])
def test_key_accepted(stack, tok, key):
    key = key if len(key) >= 200 else key + uuid.uuid4().hex[:6]
    if len(key) == 200:
        key = uuid.uuid4().hex[:6] + key[6:]
    app = create(stack, tok, key=key)
    assert app["key"] == key


def test_key_exact_minimum(stack, tok):
    # 3 characters exactly (digits+letters, random to stay unique)
    key = "z" + uuid.uuid4().hex[:2]
    r = tok.post(stack.inst("/apps"), json={"name": uniq(), "key": key})
    assert r.status_code in (201, 400), r.text
    if r.status_code == 400:  # collided with an earlier run's key: must then be the key-exists code
        assert_err(r, 400, "ROMA.00014003")
    else:
        assert r.json()["key"] == key


@pytest.mark.parametrize("key", ["ab", "k" * 201, "-abc", "@abc", ".abc", "_abc", "a b c", "a(b)", "ab/c", "密钥#x",
                                 5, True, ["abc"]])
def test_key_rejected(stack, cli, key):
    r = cli.post(stack.inst("/apps"), json={"name": uniq(), "key": key})
    assert "key" in assert_err(r, 400, "ROMA.13000")["error_msg"]


@pytest.mark.parametrize("secret", ["Aa1!Aa1!", "s" * 128, "!@#$%+=.-/", "aaaaaaaa", "12345678"])
def test_secret_accepted(stack, tok, secret):
    app = create(stack, tok, secret=secret)
    assert tok.get(stack.inst(f"/apps/{app['id']}/secret")).json()["secret"] == secret


@pytest.mark.parametrize("secret", ["Aa1!Aa1", "s" * 129, "has space1", "under_score1", "quote'1234", "密码12345678",
                                    "", 12345678, False])
def test_secret_rejected(stack, cli, secret):
    r = cli.post(stack.inst("/apps"), json={"name": uniq(), "secret": secret})
    body = assert_err(r, 400, "ROMA.13000")
    assert "secret" in body["error_msg"]
    if isinstance(secret, str) and len(secret) > 3:
        assert secret not in r.text


@pytest.mark.parametrize("remark,ok", [("", True), ("r" * 255, True), ("备" * 255, True), ("r" * 256, False),
                                       ("any <text> & \"quotes\"\n", True), (7, False)])
def test_remark_rules(stack, tok, remark, ok):
    r = tok.post(stack.inst("/apps"), json={"name": uniq(), "remark": remark})
    if ok:
        assert r.status_code == 201 and r.json()["remark"] == remark
    else:
        assert "remark" in assert_err(r, 400, "ROMA.13000")["error_msg"]


@pytest.mark.parametrize("fav", ["true", 1, 0, [], {}])
def test_favorite_wrong_type(stack, cli, fav):
    r = cli.post(stack.inst("/apps"), json={"name": uniq(), "favorite": fav})
    assert "favorite" in assert_err(r, 400, "ROMA.13000")["error_msg"]


def test_unknown_fields_ignored(stack, tok):
    app = create(stack, tok, extra="x", id="not-used", roles=["read"], owner=False)
    assert app["id"] != "not-used" and app["roles"] == ALL_ROLES and app["owner"] is True


def test_duplicate_name_and_key(stack, cli):
    a = create(stack, cli)
    r = cli.post(stack.inst("/apps"), json={"name": a["name"]})
    assert_err(r, 400, "ROMA.00014002")
    r = cli.post(stack.inst("/apps"), json={"name": uniq(), "key": a["key"]})
    assert_err(r, 400, "ROMA.00014003")
    b = create(stack, cli)
    r = cli.put(stack.inst(f"/apps/{b['id']}"), json={"name": a["name"]})
    assert_err(r, 400, "ROMA.00014002")
    # names are case-sensitive and exact
    create(stack, cli, name=a["name"].upper())


def test_concurrent_duplicate_inserts(stack, tok):
    name, key = uniq("race"), uniq("racekey")

    def attempt(i):
        c = stack.client()
        return c.post(stack.inst("/apps"), json={"name": name if i % 2 == 0 else uniq(), "key": key})

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(attempt, range(16)))
    created = [r for r in results if r.status_code == 201]
    assert len(created) == 1, [r.text for r in results]
    for r in results:
        if r.status_code != 201:
            assert_err(r, 400, r.json()["error_code"])
            assert r.json()["error_code"] in ("ROMA.00014002", "ROMA.00014003")


def test_show_unknown_and_malformed_ids(stack, cli):
    assert_err(cli.get(stack.inst(f"/apps/{uuid.uuid4()}")), 404, "ROMA.00014001")
    assert_err(cli.get(stack.inst("/apps/not-a-uuid")), 404, "ROMA.00014001")
    assert_err(cli.get(stack.inst("/apps/" + "a" * 300)), 404, "ROMA.00014001")
    assert_err(cli.get(stack.inst("/apps/%27%3B%20DROP%20TABLE%20apps")), 404, "ROMA.00014001")


def test_update_name_remark_favorite(stack, cli):
    a = create(stack, cli)
    new = uniq("renamed") + "（新）"
    r = cli.put(stack.inst(f"/apps/{a['id']}"), json={"name": new, "remark": "changed"})
    assert r.status_code == 200, r.text
    b = r.json()
    assert_app(b, new)
    assert b["remark"] == "changed" and b["key"] == a["key"] and b["create_time"] == a["create_time"]
    assert b["update_time"] >= a["update_time"]
    assert b["last_updated_user"]["user_id"] == stack.user_id
    r = cli.put(stack.inst(f"/apps/{a['id']}"), json={"favorite": True})
    assert r.status_code == 200 and r.json()["favorite"] is True and r.json()["name"] == new
    assert cli.get(stack.inst(f"/apps/{a['id']}")).json()["favorite"] is True
    r = cli.put(stack.inst(f"/apps/{a['id']}"), json={})
    assert r.status_code == 200 and r.json()["name"] == new and r.json()["favorite"] is True
    r = cli.put(stack.inst(f"/apps/{a['id']}"), json={"remark": ""})
    assert r.status_code == 200 and r.json()["remark"] == ""


def test_update_bad_input(stack, cli):
    a = create(stack, cli)
    p = stack.inst(f"/apps/{a['id']}")
    assert_err(cli.put(p, data=b""), 400, "ROMA.13001")
    assert_err(cli.put(p, data=b"{bad json"), 400, "ROMA.13000")
    assert "name" in assert_err(cli.put(p, json={"name": ""}), 400, "ROMA.13000")["error_msg"]
    assert "name" in assert_err(cli.put(p, json={"name": "x" * 257}), 400, "ROMA.13000")["error_msg"]
    assert "remark" in assert_err(cli.put(p, json={"remark": "r" * 256}), 400, "ROMA.13000")["error_msg"]
    assert "favorite" in assert_err(cli.put(p, json={"favorite": "no"}), 400, "ROMA.13000")["error_msg"]
    assert_err(cli.put(stack.inst(f"/apps/{uuid.uuid4()}"), json={"name": uniq()}), 404, "ROMA.00014001")


def test_delete(stack, cli):
    a = create(stack, cli)
    r = cli.delete(stack.inst(f"/apps/{a['id']}"))
    assert r.status_code == 200 and r.content == b""
    assert_err(cli.get(stack.inst(f"/apps/{a['id']}")), 404, "ROMA.00014001")
    assert_err(cli.delete(stack.inst(f"/apps/{a['id']}")), 404, "ROMA.00014001")
    assert stack.sql(f"SELECT count(*) FROM app_members WHERE app_id = '{a['id']}'") == "0"
    # the name and key are free again
    b = create(stack, cli, name=a["name"], key=a["key"])
    assert b["id"] != a["id"]


# ---------------------------------------------------------------------------------------------------------
# bad bodies
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,code", [
    (b"", "ROMA.13001"), (b"   ", "ROMA.13001"), (b"{", "ROMA.13000"), (b"[]", "ROMA.13000"),
    (b"null", "ROMA.13000"), (b"\"name\"", "ROMA.13000"), (b"{\"name\":\"a\"} trailing", "ROMA.13000"),
    (b"{\"name\":\"a\\u0000b\"}", "ROMA.13000"), (b"{\"name\":\"\xff\xfe\"}", "ROMA.13000"),
    (b"{\"name\":\"\\ud800\"}", "ROMA.13000"), (b"\x00\x01\x02", "ROMA.13000"),
])
def test_create_bad_bodies(stack, cli, body, code):
    r = cli.post(stack.inst("/apps"), data=body, headers={"Content-Type": "application/json"})
    assert_err(r, 400, code)


def test_body_too_large(stack, tok):
    big = b'{"name":"' + b"a" * (4 * 1024 * 1024 + 16) + b'"}'
    try:
        r = tok.post(stack.inst("/apps"), data=big, headers={"Content-Type": "application/json"})
    except Exception as e:  # noqa: BLE001 - the server may close before the upload ends
        pytest.skip(f"connection closed before the 413 was read: {e}")
    assert_err(r, 413, "ROMA.13000")


def test_auth_and_scope_errors(stack):
    from roma_client import RomaClient
    anon = RomaClient(stack.base)
    r = anon.get(stack.inst("/apps"))
    assert r.status_code == 401
    bad = stack.client(token="not-a-token")
    assert bad.get(stack.inst("/apps")).status_code == 401
    r = stack.client().get(f"/v2/{'0' * 32}/instances/{stack.instance_id}/apps")
    assert r.status_code == 403
    r = stack.client().get(f"/v2/{stack.project_id}/instances/{uuid.uuid4()}/apps")
    assert r.status_code == 404 and set(r.json()) == {"error_code", "error_msg", "error_details", "request_id"}


# ---------------------------------------------------------------------------------------------------------
# list
# ---------------------------------------------------------------------------------------------------------

def names_of(resp):
    return [a["name"] for a in resp.json()["apps"]]


def test_list_pagination_and_order(stack, cli):
    prefix = uniq("pg")
    made = [create(stack, cli, name=f"{prefix}-{i}") for i in range(5)]
    r = cli.get(stack.inst("/apps"), params={"name": prefix, "limit": 2})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"total", "size", "apps"} and body["total"] == 5 and body["size"] == 2
    for a in body["apps"]:
        assert_app(a)
    # newest first
    assert names_of(r) == [f"{prefix}-4", f"{prefix}-3"]
    r = cli.get(stack.inst("/apps"), params={"name": prefix, "limit": 2, "offset": 4})
    assert r.json()["size"] == 1 and names_of(r) == [f"{prefix}-0"] and r.json()["total"] == 5
    r = cli.get(stack.inst("/apps"), params={"name": prefix, "offset": 50})
    assert r.json() == {"total": 5, "size": 0, "apps": []}
    # favourites first
    cli.put(stack.inst(f"/apps/{made[1]['id']}"), json={"favorite": True})
    r = cli.get(stack.inst("/apps"), params={"name": prefix})
    assert names_of(r)[0] == f"{prefix}-1" and r.json()["apps"][0]["favorite"] is True
    assert names_of(r)[1:] == [f"{prefix}-4", f"{prefix}-3", f"{prefix}-2", f"{prefix}-0"]
    r = cli.get(stack.inst("/apps"), params={"name": prefix, "favorite": "true"})
    assert names_of(r) == [f"{prefix}-1"] and r.json()["total"] == 1
    r = cli.get(stack.inst("/apps"), params={"name": prefix, "favorite": "false"})
    assert r.json()["total"] == 4 and f"{prefix}-1" not in names_of(r)


def test_list_default_limit(stack, tok):
    prefix = uniq("dl")
    for i in range(12):
        create(stack, tok, name=f"{prefix}-{i:02d}")
    r = tok.get(stack.inst("/apps"), params={"name": prefix})
    assert r.json()["total"] == 12 and r.json()["size"] == 10
    r = tok.get(stack.inst("/apps"), params={"name": prefix, "limit": 1000})
    assert r.json()["size"] == 12


@pytest.mark.parametrize("params,field", [
    ({"offset": -1}, "offset"), ({"offset": "abc"}, "offset"), ({"offset": "1.5"}, "offset"),
    ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": "ten"}, "limit"),
    ({"limit": "99999999999999999999"}, "limit"), ({"favorite": "yes"}, "favorite"), ({"owner": "1"}, "owner"),
    ({"auth_role": "root"}, "auth_role"), ({"name": "n" * 257}, "name"), ({"key": "k" * 201}, "key"),
    ({"user_name": "u" * 65}, "user_name"),
])
def test_list_bad_params(stack, cli, params, field):
    r = cli.get(stack.inst("/apps"), params=params)
    assert field in assert_err(r, 400, "ROMA.13000")["error_msg"]


def test_list_name_filter_is_fuzzy_and_escapes_wildcards(stack, tok):
    base = uniq("fz")
    create(stack, tok, name=f"{base}_under")
    create(stack, tok, name=f"{base}xunder")
    r = tok.get(stack.inst("/apps"), params={"name": f"{base}_"})
    assert names_of(r) == [f"{base}_under"]
    r = tok.get(stack.inst("/apps"), params={"name": base.upper()})  # case-insensitive contains
    assert r.json()["total"] == 2
    r = tok.get(stack.inst("/apps"), params={"name": "%"})
    assert r.json()["total"] == 0


def test_list_key_filter(stack, tok):
    k = uniq("kf")
    a = create(stack, tok, key=k + "@x.y")
    r = tok.get(stack.inst("/apps"), params={"key": k})
    assert [x["id"] for x in r.json()["apps"]] == [a["id"]]
    r = tok.get(stack.inst("/apps"), params={"key": "@x.y", "name": a["name"]})
    assert r.json()["total"] == 1


def test_list_cjk_name_filter(stack, tok):
    tag = "测" + uuid.uuid4().hex[:6]
    a = create(stack, tok, name=f"应用{tag}（一）")
    r = tok.get(stack.inst("/apps"), params={"name": f"{tag}（"})
    assert [x["id"] for x in r.json()["apps"]] == [a["id"]]


# ---------------------------------------------------------------------------------------------------------
# secret
# ---------------------------------------------------------------------------------------------------------

def test_secret_reset(stack, cli):
    a = create(stack, cli, secret="Initial-Secret1")
    p = stack.inst(f"/apps/{a['id']}/secret")
    r = cli.put(p, json={"secret": "Next-Secret2!"})
    assert r.status_code == 200 and r.json() == {"id": a["id"], "secret": "Next-Secret2!"}
    assert cli.get(p).json()["secret"] == "Next-Secret2!"
    seen = {"Next-Secret2!"}
    for body in (None, {}, {"secret": None}):
        r = cli.put(p, json=body) if body is not None else cli.put(p, data=b"")
        assert r.status_code == 200, r.text
        s = r.json()["secret"]
        assert set(r.json()) == {"id", "secret"} and len(s) == 32 and set(s) <= SECRET_CHARS and s not in seen
        seen.add(s)
        assert cli.get(p).json()["secret"] == s
    app = cli.get(stack.inst(f"/apps/{a['id']}")).json()
    assert app["update_time"] >= a["update_time"]


@pytest.mark.parametrize("body", [b"{\"secret\":\"short\"}", b"{\"secret\":\"has space12\"}", b"{\"secret\":123456789}",
                                  b"{bad", b"[]"])
def test_secret_reset_bad_input(stack, cli, body):
    a = create(stack, cli)
    r = cli.put(stack.inst(f"/apps/{a['id']}/secret"), data=body, headers={"Content-Type": "application/json"})
    assert_err(r, 400, "ROMA.13000")


def test_secret_unknown_app(stack, cli):
    assert_err(cli.get(stack.inst(f"/apps/{uuid.uuid4()}/secret")), 404, "ROMA.00014001")
    assert_err(cli.put(stack.inst(f"/apps/{uuid.uuid4()}/secret"), json={}), 404, "ROMA.00014001")


def test_secret_sealed_at_rest_and_never_leaked(stack, tok):
    secret = "Leak-Check-" + uuid.uuid4().hex[:12]
    a = create(stack, tok, secret=secret)
    assert secret not in tok.get(stack.inst(f"/apps/{a['id']}")).text
    assert secret not in tok.get(stack.inst("/apps"), params={"name": a["name"]}).text
    assert secret not in tok.put(stack.inst(f"/apps/{a['id']}"), json={"remark": "x"}).text
    sealed = stack.sql(f"SELECT secret_sealed FROM apps WHERE id = '{a['id']}'")
    assert sealed.startswith("v1:") and secret not in sealed
    dump = stack.sql("SELECT string_agg(t::text, '|') FROM apps t")
    assert secret not in dump
    reset = tok.put(stack.inst(f"/apps/{a['id']}/secret"), json={}).json()["secret"]
    assert tok.get(stack.inst(f"/apps/{a['id']}/secret")).json()["secret"] == reset
    log = stack.procs["api"].log_text()
    assert secret not in log and reset not in log


# ---------------------------------------------------------------------------------------------------------
# validate-apps
# ---------------------------------------------------------------------------------------------------------

def test_validate_apps(stack, cli):
    a = create(stack, cli, remark="v-remark")
    expect = {"id": a["id"], "name": a["name"], "remark": "v-remark"}
    for params in ({"name": a["name"]}, {"key": a["key"]}, {"id": a["id"]},
                   {"name": a["name"], "key": a["key"], "id": a["id"]}):
        r = cli.get(stack.inst("/validate-apps"), params=params)
        assert r.status_code == 200 and r.json() == expect, (params, r.text)
    assert_err(cli.get(stack.inst("/validate-apps"), params={"name": a["name"][:-1]}), 404, "ROMA.00014001")
    assert_err(cli.get(stack.inst("/validate-apps"), params={"name": a["name"], "key": "other"}), 404,
               "ROMA.00014001")
    assert_err(cli.get(stack.inst("/validate-apps"), params={"id": "nope"}), 404, "ROMA.00014001")
    assert_err(cli.get(stack.inst("/validate-apps")), 400, "ROMA.13000")
    assert_err(cli.get(stack.inst("/validate-apps"), params={"name": "n" * 257}), 400, "ROMA.13000")


def test_validate_apps_sees_other_users_apps(stack, tok, u2):
    a = create(stack, tok)
    r = u2.client.get(stack.inst("/validate-apps"), params={"name": a["name"]})
    assert r.status_code == 200 and r.json()["id"] == a["id"]


# ---------------------------------------------------------------------------------------------------------
# members, candidates, permissions
# ---------------------------------------------------------------------------------------------------------

def members(cli, stack, app_id, **params):
    r = cli.get(stack.inst(f"/apps/{app_id}/users"), params=params or None)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"total", "id", "users"} and body["id"] == app_id and body["total"] == len(body["users"])
    for u in body["users"]:
        assert set(u) == {"id", "name", "roles"}
    return body


def test_members_owner_only_at_start(stack, cli):
    a = create(stack, cli)
    body = members(cli, stack, a["id"])
    assert body["users"] == [{"id": stack.user_id, "name": "admin", "roles": ALL_ROLES}]


@pytest.mark.parametrize("given,expect", [
    (["admin"], ALL_ROLES), ([], ["read"]), (None, ["read"]), (["modify"], ["read", "modify"]),
    (["delete", "access"], ["read", "access", "delete"]), (["admin", "access"], ["read", "access", "admin"]),
    (["read, access, delete, modify, admin"], ALL_ROLES), (["read", "read"], ["read"]),
])
def test_members_role_normalisation(stack, cli, u2, given, expect):
    a = create(stack, cli)
    user = {"id": u2.id} if given is None else {"id": u2.id, "roles": given}
    r = cli.put(stack.inst(f"/apps/{a['id']}/users"), json={"users": [user]})
    assert r.status_code == 200, r.text
    got = {u["id"]: u for u in r.json()["users"]}
    assert got[u2.id]["roles"] == expect and got[u2.id]["name"] == u2.name
    assert got[stack.user_id]["roles"] == ALL_ROLES and r.json()["users"][0]["id"] == stack.user_id


def test_members_replace_filter_and_clear(stack, cli, u2, u3):
    a = create(stack, cli)
    p = stack.inst(f"/apps/{a['id']}/users")
    r = cli.put(p, json={"users": [{"id": u2.id, "roles": ["read"]}, {"id": u3.id, "roles": ["modify"]}]})
    assert r.status_code == 200 and r.json()["total"] == 3
    assert members(cli, stack, a["id"], user_name=u3.name)["users"] == [
        {"id": u3.id, "name": u3.name, "roles": ["read", "modify"]}]
    assert members(cli, stack, a["id"], user_name="nobody")["total"] == 0
    # replace: u3 dropped, u2 changed; the owner listed in the body is ignored (keeps all roles)
    r = cli.put(p, json={"users": [{"id": u2.id, "roles": ["access"]}, {"id": stack.user_id, "roles": ["read"]}]})
    assert r.status_code == 200
    assert {u["id"]: u["roles"] for u in r.json()["users"]} == {stack.user_id: ALL_ROLES, u2.id: ["read", "access"]}
    # empty list clears every member but the owner
    r = cli.put(p, json={"users": []})
    assert r.status_code == 200 and [u["id"] for u in r.json()["users"]] == [stack.user_id]


def test_members_bad_input(stack, cli, u2, foreign_user):
    a = create(stack, cli)
    p = stack.inst(f"/apps/{a['id']}/users")
    cases = [
        ({"users": [{"id": u2.id, "roles": ["root"]}]}, "users[0].roles"),
        ({"users": [{"id": u2.id, "roles": "admin"}]}, "users[0].roles"),
        ({"users": [{"id": u2.id}, {"id": u2.id}]}, "users[1].id"),
        ({"users": [{"roles": ["read"]}]}, "users[0].id"),
        ({"users": [{"id": 5}]}, "users[0].id"),
        ({"users": ["x"]}, "users[0]"),
        ({"users": {}}, "users"),
        ({}, "users"),
        ({"users": [{"id": "f" * 32}]}, "users[0].id"),
        ({"users": [{"id": u2.id}, {"id": foreign_user.id}]}, "users[1].id"),
    ]
    for body, field in cases:
        r = cli.put(p, json=body)
        assert field in assert_err(r, 400, "ROMA.13000")["error_msg"], (body, r.text)
    assert_err(cli.put(p, data=b""), 400, "ROMA.13001")
    assert_err(cli.put(p, data=b"{x"), 400, "ROMA.13000")
    # nothing changed by the rejected bodies
    assert members(cli, stack, a["id"])["total"] == 1
    assert_err(cli.get(stack.inst(f"/apps/{uuid.uuid4()}/users")), 404, "ROMA.00014001")
    assert_err(cli.put(stack.inst(f"/apps/{uuid.uuid4()}/users"), json={"users": []}), 404, "ROMA.00014001")


def test_candidates(stack, cli, u2, u3, foreign_user):
    a = create(stack, cli)
    r = cli.get(stack.inst(f"/apps/{a['id']}/candidates"))
    assert r.status_code == 200 and set(r.json()) == {"users"}
    users = r.json()["users"]
    assert all(set(u) == {"id", "name"} for u in users)
    ids = {u["id"] for u in users}
    assert {stack.user_id, u2.id, u3.id} <= ids and foreign_user.id not in ids
    cli.put(stack.inst(f"/apps/{a['id']}/users"), json={"users": [{"id": u2.id}]})
    r = cli.get(stack.inst(f"/apps/{a['id']}/candidates"), params={"filter": "members"})
    ids = {u["id"] for u in r.json()["users"]}
    assert u3.id in ids and u2.id not in ids and stack.user_id not in ids
    assert_err(cli.get(stack.inst(f"/apps/{a['id']}/candidates"), params={"filter": "bogus"}), 400, "ROMA.13000")
    assert_err(cli.get(stack.inst(f"/apps/{uuid.uuid4()}/candidates")), 404, "ROMA.00014001")


def test_permissions_of_other_users(stack, tok, u2):
    a = create(stack, tok, secret="Owner-Secret-1")
    base = stack.inst(f"/apps/{a['id']}")
    c = u2.client
    # not a member: every app operation is 403, the app is not listed
    for resp in (c.get(base), c.put(base, json={"favorite": True}), c.delete(base), c.get(base + "/secret"),
                 c.put(base + "/secret", json={}), c.get(base + "/users"), c.put(base + "/users", json={"users": []}),
                 c.get(base + "/candidates")):
        assert_err(resp, 403, "ROMA.12001")
    assert c.get(stack.inst("/apps"), params={"name": a["name"]}).json()["total"] == 0
    # read member: sees it (owner false, roles [read]), may favourite it for themself only
    tok.put(base + "/users", json={"users": [{"id": u2.id, "roles": ["read"]}]})
    r = c.get(base)
    assert r.status_code == 200
    seen = r.json()
    assert_app(seen, a["name"])
    assert seen["owner"] is False and seen["roles"] == ["read"] and seen["created_user"]["user_id"] == stack.user_id
    r = c.put(base, json={"favorite": True})
    assert r.status_code == 200 and r.json()["favorite"] is True
    assert tok.get(base).json()["favorite"] is False  # favourites are per user
    assert c.get(stack.inst("/apps"), params={"name": a["name"], "favorite": "true"}).json()["total"] == 1
    assert tok.get(stack.inst("/apps"), params={"name": a["name"], "favorite": "true"}).json()["total"] == 0
    assert members(c, stack, a["id"])["total"] == 2
    for resp in (c.put(base, json={"name": uniq()}), c.put(base, json={"remark": "x"}), c.delete(base),
                 c.get(base + "/secret"), c.put(base + "/secret", json={}), c.put(base + "/users", json={"users": []}),
                 c.get(base + "/candidates")):
        assert_err(resp, 403, "ROMA.12001")
    # list filters from u2's side
    assert c.get(stack.inst("/apps"), params={"name": a["name"], "owner": "false"}).json()["total"] == 1
    assert c.get(stack.inst("/apps"), params={"name": a["name"], "owner": "true"}).json()["total"] == 0
    assert c.get(stack.inst("/apps"), params={"name": a["name"], "auth_role": "read"}).json()["total"] == 1
    assert c.get(stack.inst("/apps"), params={"name": a["name"], "auth_role": "modify"}).json()["total"] == 0
    assert tok.get(stack.inst("/apps"), params={"name": a["name"], "auth_role": "modify"}).json()["total"] == 1
    assert tok.get(stack.inst("/apps"), params={"name": a["name"], "user_name": u2.name}).json()["total"] == 1
    assert tok.get(stack.inst("/apps"), params={"name": a["name"], "user_name": "nobody"}).json()["total"] == 0
    # admin member: may rename, see the secret, manage members; still not the owner
    tok.put(base + "/users", json={"users": [{"id": u2.id, "roles": ["admin"]}]})
    new = uniq("by-u2")
    r = c.put(base, json={"name": new})
    assert r.status_code == 200 and r.json()["name"] == new and r.json()["owner"] is False
    assert r.json()["last_updated_user"] == {"user_id": u2.id, "user_name": u2.name}
    assert c.get(base + "/secret").json()["secret"] == "Owner-Secret-1"
    assert c.get(base + "/candidates").status_code == 200
    # removed again: 403
    tok.put(base + "/users", json={"users": []})
    assert_err(c.get(base), 403, "ROMA.12001")
    # u2's own apps are invisible to the first user
    b = create(stack, c)
    assert_err(tok.get(stack.inst(f"/apps/{b['id']}")), 403, "ROMA.12001")
    assert tok.get(stack.inst("/apps"), params={"name": b["name"]}).json()["total"] == 0


def test_full_flow_over_both_auth_methods(stack, cli, u2):
    """All eleven operations in sequence with one client (token or AK/SK)."""
    a = create(stack, cli, remark="flow")                                              # CreateRomaApp
    assert cli.get(stack.inst("/apps"), params={"name": a["name"]}).json()["total"] == 1  # ListRomaApp
    assert cli.get(stack.inst(f"/apps/{a['id']}")).status_code == 200                  # CheckRomaAppDetails
    assert cli.put(stack.inst(f"/apps/{a['id']}"), json={"remark": "f2"}).json()["remark"] == "f2"  # UpdateRomaApp
    assert cli.get(stack.inst(f"/apps/{a['id']}/secret")).status_code == 200           # CheckRomaAppSecret
    assert cli.put(stack.inst(f"/apps/{a['id']}/secret"), json={}).status_code == 200  # ResetRomaAppSecret
    assert cli.get(stack.inst("/validate-apps"), params={"id": a["id"]}).status_code == 200  # ValidateRomaApp
    assert cli.put(stack.inst(f"/apps/{a['id']}/users"),                               # AddUserToApp
                   json={"users": [{"id": u2.id, "roles": ["modify"]}]}).status_code == 200
    assert members(cli, stack, a["id"])["total"] == 2                                   # CheckAuthUsersOfApp
    assert cli.get(stack.inst(f"/apps/{a['id']}/candidates")).status_code == 200       # CheckCanAuthUsersOfApp
    assert cli.delete(stack.inst(f"/apps/{a['id']}")).status_code == 200               # DeleteRomaApp


def test_method_not_allowed(stack, tok):
    a = create(stack, tok)
    r = tok.post(stack.inst(f"/apps/{a['id']}"), json={})
    assert r.status_code == 405


def test_export_contract_view(stack, tok, u2):
    """The asset module's contract: app_export_docs carries the sealed secret and the members."""
    a = create(stack, tok, secret="Export-Secret-9")
    tok.put(stack.inst(f"/apps/{a['id']}/users"), json={"users": [{"id": u2.id, "roles": ["delete"]}]})
    doc = stack.sql(f"SELECT doc::text FROM app_export_docs WHERE id = '{a['id']}'")
    import json
    d = json.loads(doc)
    assert d["name"] == a["name"] and d["key"] == a["key"] and d["secret_sealed"].startswith("v1:")
    assert "Export-Secret-9" not in doc
    assert d["members"] == [{"user_id": u2.id, "roles": ["read", "delete"]}]


def test_import_contract_round_trip(stack, tok, u2):
    """app_import_doc() re-creates an exported app (same id, key, sealed secret, members) - in another
    instance too, where a name clash is the documented unique_violation."""
    a = create(stack, tok, secret="Import-Secret-7", remark="imp")
    tok.put(stack.inst(f"/apps/{a['id']}/users"), json={"users": [{"id": u2.id, "roles": ["access"]}]})
    doc = stack.sql(f"SELECT doc::text FROM app_export_docs WHERE id = '{a['id']}'")
    assert tok.delete(stack.inst(f"/apps/{a['id']}")).status_code == 200
    q = doc.replace("'", "''")
    new_id = stack.sql(f"SELECT app_import_doc('{q}'::jsonb, '{stack.project_id}', '{stack.instance_id}',"
                       f" '{stack.user_id}', 'admin')")
    assert new_id == a["id"]
    back = tok.get(stack.inst(f"/apps/{a['id']}")).json()
    assert back["name"] == a["name"] and back["key"] == a["key"] and back["remark"] == "imp" and back["owner"] is True
    assert tok.get(stack.inst(f"/apps/{a['id']}/secret")).json()["secret"] == "Import-Secret-7"
    got = {u["id"]: u["roles"] for u in members(tok, stack, a["id"])["users"]}
    assert got == {stack.user_id: ALL_ROLES, u2.id: ["read", "access"]}
    # a second import into the same instance clashes on the name (caller decides: skip/overwrite)
    import subprocess
    r = subprocess.run(["psql", "-X", "-A", "-t", "-q", stack.db_url, "-c",
                        f"SELECT app_import_doc('{q}'::jsonb, '{stack.project_id}', '{stack.instance_id}',"
                        f" '{stack.user_id}', 'admin')"], capture_output=True, text=True)
    assert r.returncode != 0 and "apps_instance_name_uniq" in r.stderr
    # into another instance: a fresh id (the old one is taken), same name/key allowed there
    other = stack.admin("instance-create", "--project", stack.project_id, "--name", uniq("inst")).strip()
    other_id = stack.sql(f"SELECT app_import_doc('{q}'::jsonb, '{stack.project_id}', '{other}',"
                         f" '{stack.user_id}', 'admin')")
    assert other_id != a["id"] and UUID_RE.match(other_id)
    r = tok.get(f"/v2/{stack.project_id}/instances/{other}/apps/{other_id}/secret")
    assert r.status_code == 200 and r.json()["secret"] == "Import-Secret-7"
    # an app id never resolves through another instance
    assert_err(tok.get(f"/v2/{stack.project_id}/instances/{other}/apps/{a['id']}"), 404, "ROMA.00014001")
