"""The desk's security on a real SQLite store: logins, roles on every route, CSRF, audit."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from bot.config import WebSettings
from bot.store.repo import Store, open_store
from bot.web.app import create_app
from bot.web.auth import LoginLimiter
from bot.web.passwords import hash_password, password_problem, verify_password
from tests.webutil import PASSWORD, add_debtor, add_users, csrf, robot_call


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'desk.db'}") as opened:
        add_users(opened, ann="agent", bob="agent", sue="supervisor", ada="admin")
        yield opened


@pytest.fixture
def settings(tmp_path: Path) -> WebSettings:
    return WebSettings(secret_key_file=tmp_path / "key", max_failed_logins=3, disconnect_grace_s=0.2)


@pytest.fixture
def client(store: Store, settings: WebSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store), follow_redirects=False) as c:
        yield c


def login(client: TestClient, name: str, password: str = PASSWORD) -> object:
    token = csrf(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf": token})


def test_password_hashes_are_salted_and_verified() -> None:
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("s3cret-pass", first)
    assert not verify_password("s3cret-pasS", first)
    assert not verify_password("s3cret-pass", None)
    assert not verify_password("s3cret-pass", "garbage")
    assert password_problem("short") and password_problem(" padded-password ") and not password_problem("long enough")


def test_every_route_declares_who_may_use_it(client: TestClient) -> None:
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Mount):
            assert route.path == "/static"
            continue
        assert isinstance(route, Route)
        assert hasattr(route.endpoint, "__roles__"), f"{route.path} has no role guard"


def test_pages_need_a_login(client: TestClient) -> None:
    for path in ("/desk", "/cases", "/team", "/audit", "/cases/D1"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get("/desk/events", headers={"accept": "text/event-stream"}).status_code == 401
    assert client.post("/desk/state", data={"state": "ready"}).status_code == 401
    assert client.get("/healthz").json() == {"ok": True}


def test_login_sets_a_signed_httponly_lax_cookie_and_logout_ends_the_session(client: TestClient, store: Store) -> None:
    response = login(client, "ann")
    assert response.status_code == 303 and response.headers["location"] == "/desk"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    stolen = dict(client.cookies)
    page = client.get("/desk")
    assert page.status_code == 200 and "My desk" in page.text
    assert page.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in page.headers[
        "content-security-policy"]
    assert client.post("/logout", data={"csrf": csrf(page.text)}).status_code == 303
    # the old cookie names a revoked session: replaying it gets nothing
    client.cookies.clear()
    client.cookies.update(stolen)
    assert client.get("/desk").status_code == 303
    actions = [e.action for e in store.audit_entries(user="ann")]
    assert "login" in actions and "logout" in actions


def test_secure_cookies_when_configured(store: Store, settings: WebSettings) -> None:
    secure = settings.model_copy(update={"secure_cookies": True})
    with TestClient(create_app(secure, store), follow_redirects=False, base_url="https://testserver") as c:
        assert "secure" in login(c, "ann").headers["set-cookie"].lower()


def test_wrong_passwords_lock_the_account_and_are_audited(client: TestClient, store: Store) -> None:
    for _ in range(3):
        assert login(client, "ann", "wrong password").status_code == 401
    locked = login(client, "ann")  # the right password, but locked now
    assert locked.status_code == 429 and "locked" in locked.text
    assert [e.action for e in store.audit_entries(user="ann")][:4] == ["login_locked"] + ["login_failed"] * 3
    assert login(client, "nobody", "whatever1").status_code == 401


def test_a_disabled_user_is_logged_out_at_once(client: TestClient, store: Store) -> None:
    login(client, "ann")
    assert client.get("/desk").status_code == 200
    store.disable_web_user("ann")
    assert client.get("/desk").status_code == 303
    assert login(client, "ann").status_code == 401


def test_failed_logins_are_limited_per_address() -> None:
    now = [0.0]
    limiter = LoginLimiter(per_minute=2, clock=lambda: now[0])
    assert limiter.allow("a")
    limiter.failed("a")
    assert limiter.allow("a")
    limiter.failed("a")
    assert not limiter.allow("a") and limiter.allow("b")
    now[0] = 61.0
    assert limiter.allow("a")


def test_an_address_spraying_passwords_is_stopped(store: Store, tmp_path: Path) -> None:
    settings = WebSettings(secret_key_file=tmp_path / "key", failed_logins_per_minute=3)
    with TestClient(create_app(settings, store), follow_redirects=False) as c:
        for name in ("ann", "bob", "sue"):
            assert login(c, name, "guess number 1").status_code == 401
        stopped = login(c, "ada")  # even the right password waits
        assert stopped.status_code == 429 and "wait a minute" in stopped.text


def test_roles_are_checked_on_the_server(client: TestClient, store: Store) -> None:
    login(client, "ann")
    for path in ("/team", "/audit"):
        denied = client.get(path)
        assert denied.status_code == 403
    assert [e.target for e in store.audit_entries(user="ann") if e.action == "denied"] == ["/audit", "/team"]
    client.cookies.clear()
    login(client, "sue")
    assert client.get("/team").status_code == 200
    audit = client.get("/audit")
    assert audit.status_code == 200 and "case:" not in audit.text and "/audit" in audit.text
    assert client.get("/desk").status_code == 403  # the desk is an agent's


def test_forged_and_replayed_posts_are_refused(client: TestClient, store: Store) -> None:
    login(client, "ann")
    page = client.get("/desk").text
    token = csrf(page)
    assert client.post("/desk/state", data={"state": "ready"}).status_code == 400  # no token
    assert client.post("/desk/state", data={"state": "ready", "csrf": token + "x"}).status_code == 400
    assert client.post("/desk/state", data={"state": "ready", "csrf": token}).status_code == 303
    assert store.agent_state("ann").state == "ready"
    replay = client.post("/desk/state", data={"state": "paused", "reason": "break", "csrf": token})
    assert replay.status_code == 400 and "already sent" in replay.text
    assert store.agent_state("ann").state == "ready"
    # a token issued to another browser's session is refused too
    other = TestClient(client.app, follow_redirects=False)
    login(other, "bob")
    foreign = csrf(other.get("/desk").text)
    refused = client.post("/desk/state", data={"state": "paused", "reason": "break", "csrf": foreign})
    assert refused.status_code == 400 and "another session" in refused.text


def test_an_agent_is_refused_another_agents_case_and_it_is_audited(client: TestClient, store: Store) -> None:
    add_debtor(store, "D1")
    add_debtor(store, "D2", name="박지영", phone="+821055556666")
    from bot.web.live import pop_screen
    from bot.web.summary import summary_of

    pop_screen(store, "bob", summary_of(store, robot_call(store, "D2", "+821055556666")))
    login(client, "ann")
    for case in ("D2", "D1", "NOPE"):
        refused = client.get(f"/cases/{case}")
        assert refused.status_code == 404 and "박지영" not in refused.text
    denied = [e for e in store.audit_entries(user="ann") if e.action == "denied"]
    assert [(e.target, e.detail["exists"]) for e in denied] == [("case:NOPE", False), ("case:D1", True),
                                                                ("case:D2", True)]
    client.cookies.clear()
    login(client, "bob")
    page = client.get("/cases/D2")
    assert page.status_code == 200 and "박지영" in page.text and "+821055556666" not in page.text
    assert "상담원 연결" in page.text  # the turns heard on the robot's call
    assert any(e.action == "view" and e.target == "case:D2" for e in store.audit_entries(user="bob"))
    client.cookies.clear()
    login(client, "sue")
    assert client.get("/cases/D1").status_code == 200


def test_the_next_parameter_cannot_redirect_off_site(client: TestClient) -> None:
    token = csrf(client.get("/login?next=//evil.example/x").text)
    response = client.post("/login", data={"name": "ann", "password": PASSWORD, "csrf": token,
                                           "next": "//evil.example/x"})
    assert response.headers["location"] == "/desk"


def test_sessions_expire(tmp_path: Path) -> None:
    now = [dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)]
    with open_store(f"sqlite:///{tmp_path / 'e.db'}", clock=lambda: now[0]) as store:
        add_users(store, ann="agent")
        sid = store.open_web_session("ann", dt.timedelta(hours=1))
        assert store.web_session_user(sid) is not None
        now[0] += dt.timedelta(hours=1, seconds=1)
        assert store.web_session_user(sid) is None


def test_debtor_data_is_escaped_in_pages_and_live_events(client: TestClient, store: Store) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    add_debtor(store, "D9", name=hostile)
    from bot.web.live import pop_screen
    from bot.web.summary import summary_of

    pop_screen(store, "ann", summary_of(store, robot_call(store, "D9"), reason="<script>alert(2)</script>"))
    login(client, "ann")
    for text in (client.get("/desk").text, client.get("/cases/D9").text):
        assert hostile not in text and "&lt;img src=x" in text
        assert "<script>alert" not in text
    with client.stream("GET", "/desk/events", headers={"Last-Event-ID": "0"}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                html = json.loads(line[5:])["html"]
                break
    assert hostile not in html and "&lt;script&gt;alert(2)" in html
