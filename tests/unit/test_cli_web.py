"""`collbot web user ...` and `collbot web pop`: passwords never from argv, bad input one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.store.repo import open_store
from tests.webutil import add_debtor, robot_call


def run(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLBOT__")}
    env.update(COLLBOT__DATABASE__URL=f"sqlite:///{tmp / 'c.db'}", COLLBOT__LOG__FILE=str(tmp / "c.log"))
    return subprocess.run([sys.executable, "-m", "bot", "web", *args], cwd=tmp, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


def test_users_are_added_listed_and_disabled(tmp_path: Path) -> None:
    assert run(tmp_path, "user", "add", "kim", "--role", "agent", stdin="a long password\n").returncode == 0
    assert run(tmp_path, "user", "add", "lee", "--role", "supervisor", stdin="another password\n").returncode == 0
    assert run(tmp_path, "user", "disable", "lee").returncode == 0
    listed = run(tmp_path, "user", "list")
    assert listed.stdout.splitlines() == ["kim\tagent\tenabled", "lee\tsupervisor\tdisabled"]
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        user = store.web_user("kim")
        assert user is not None and "a long password" not in user.password_hash
        assert [e.action for e in store.audit_entries()] == ["user_disable", "user_add", "user_add"]


def test_bad_input_is_one_line_and_a_failure(tmp_path: Path) -> None:
    assert run(tmp_path, "user", "add", "kim", stdin="a long password\n").returncode == 0
    for args, stdin, message in [
        (("user", "add", "kim"), "a long password\n", "user 'kim' already exists"),
        (("user", "add", "bad name"), "a long password\n", "user name 'bad name'"),
        (("user", "add", "x", "--role", "boss"), "a long password\n", "unknown role 'boss'"),
        (("user", "add", "y"), "short\n", "at least 8 characters"),
        (("user", "disable", "nobody"), "", "no user 'nobody'"),
        (("pop", "nobody", "abc"), "", "no enabled agent 'nobody'"),
        (("pop", "kim", "no-such-attempt"), "", "no attempt 'no-such-attempt'"),
    ]:
        done = run(tmp_path, *args, stdin=stdin)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stderr.strip().splitlines() == [f"collbot: error: {done.stderr.strip()[16:]}"]
        assert message in done.stderr and "Traceback" not in done.stderr


def test_the_password_option_does_not_exist(tmp_path: Path) -> None:
    done = run(tmp_path, "user", "add", "kim", "--password", "in argv", stdin="a long password\n")
    assert done.returncode != 0 and "No such option" in done.stderr


def test_pop_pushes_the_robots_summary(tmp_path: Path) -> None:
    assert run(tmp_path, "user", "add", "kim", stdin="a long password\n").returncode == 0
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        add_debtor(store, "D1")
        attempt = robot_call(store, "D1")
    done = run(tmp_path, "pop", "kim", attempt, "--reason", "wants a person")
    assert done.returncode == 0 and done.stdout.startswith("screen pop ")
    with open_store(f"sqlite:///{tmp_path / 'c.db'}") as store:
        (pop,) = store.open_pops("kim")
        assert pop.data["reason"] == "wants a person" and pop.attempt_id == attempt
        assert store.agent_state("kim").state == "on_call"


def test_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run(tmp_path, "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip() == f"collbot: error: web: cannot listen on 127.0.0.1:{port}: Address already in use"
