"""prepare, check, plan, up, status and down: the command line's files and messages, typed
exceptions, and a real deployment on a Docker engine."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

import harbor_prep
from conftest import NOW, NOW_TEXT, OFFSET, PROJECT, REFERENCE, REPO, read_tree, run
from test_prep import SPECIAL, with_passwords


def case_dir(name: str) -> Path:
    path = REFERENCE / "upstream-v2.15.2" / name
    if not path.exists():
        pytest.skip(f"{path} is not here")
    return path


@pytest.mark.parametrize("name", ["a-http-default", "b-https", "f1-internal-tls", "o-rerun-existing-data"])
def test_prepare_writes_what_the_cli_writes(cli: Path, tmp_path: Path, seed_file: Path, name: str) -> None:
    case = case_dir(name)
    trees = []
    for who in ["cli", "python"]:
        root, out = tmp_path / who / "root", tmp_path / who / "out"
        if (case / "host").exists():
            shutil.copytree(case / "host", root, symlinks=True)
        if who == "cli":
            result = run(cli, "prepare", "--config", case / "input.harbor.yml", "--seed-file", seed_file,
                         "--now", NOW_TEXT, "--root", root, "--out", out)
            assert result.returncode == 0, result.stderr
        else:
            prepared = harbor_prep.prepare(case / "input.harbor.yml", out, root=root, seed_file=seed_file, now=NOW)
            assert prepared.out == str(out)
            assert prepared.release == "v2.15.2"
            assert prepared.changed and prepared.unchanged == 0
            assert prepared.owners_set == (os.geteuid() == 0)
        # the list of what was created names this installation's directories: compared with
        # them taken out
        host = read_tree(root)
        created = host.pop("data/secret/keys/created")
        assert created.contents is not None
        listed = created.contents.replace(str(tmp_path / who).encode(), b"WORK")
        trees.append((read_tree(out), host, listed))

    assert trees[0] == trees[1]
    assert b"install WORK/out/common\n" in trees[0][2]

    # a second run changes nothing, and says so
    again = harbor_prep.prepare(case / "input.harbor.yml", tmp_path / "python" / "out",
                                root=tmp_path / "python" / "root", now=NOW)
    assert again.changed == []
    assert again.unchanged == len(prepared.changed)


def test_invalid_config_has_the_cli_message_and_issues(cli: Path, tmp_path: Path) -> None:
    config = REPO / "harbor-prep" / "tests" / "inputs" / "err_many.yml"
    result = run(cli, "prepare", "--config", config, "--root", tmp_path, "--out", tmp_path / "out")
    assert result.returncode == 2

    with pytest.raises(harbor_prep.InvalidConfig) as raised:
        harbor_prep.prepare(config, tmp_path / "out", root=tmp_path)
    e = raised.value
    assert isinstance(e, harbor_prep.HarborDeployError)
    assert isinstance(e, harbor_prep.HarborConfigError)
    assert isinstance(e, ValueError)
    assert e.code == "INVALID_CONFIG"
    assert str(e) == result.stderr.rstrip("\n")
    assert len(e.issues) == 20
    assert e.issues[1].path == "http.port"
    assert not (tmp_path / "out").exists()

    with pytest.raises(harbor_prep.InvalidConfig) as checked:
        harbor_prep.check(config, root=tmp_path)
    assert checked.value.issues == e.issues


def cli_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert result.stderr.startswith("error: "), result.stderr
    return result.stderr.removeprefix("error: ").rstrip("\n")


def test_other_errors_are_typed_with_the_cli_message(cli: Path, tmp_path: Path) -> None:
    bad_seed = tmp_path / "seed"
    bad_seed.write_bytes(b"too short")
    config = tmp_path / "harbor.yml"
    config.write_text(harbor_prep.default_config("harbor.example.test").replace("/data", str(tmp_path / "data")))

    with pytest.raises(harbor_prep.InvalidInput) as raised:
        harbor_prep.prepare(config, tmp_path / "out", seed_file=bad_seed)
    assert raised.value.code == "INVALID_INPUT"
    assert raised.value.issues == []
    assert str(raised.value) == cli_error(run(cli, "prepare", "--config", config, "--out", tmp_path / "out",
                                              "--seed-file", bad_seed))

    missing = tmp_path / "nothing.yml"
    with pytest.raises(harbor_prep.InvalidInput) as io:
        harbor_prep.check(missing)
    assert str(io.value) == cli_error(run(cli, "validate", "--config", missing))

    with pytest.raises(harbor_prep.InvalidInput, match="harbor version `9.9` is not supported"):
        harbor_prep.check(config, harbor_version="9.9")
    assert harbor_prep.check(config).release == "v2.15.2"


def test_an_unreachable_engine_is_named(cli: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/harbor-prep-test.sock")
    expected = cli_error(run(cli, "status", "--project", PROJECT, env=dict(os.environ)))

    for call in [lambda: harbor_prep.status(PROJECT), lambda: harbor_prep.down(PROJECT)]:
        with pytest.raises(harbor_prep.EngineUnreachable) as raised:
            call()
        assert raised.value.code == "ENGINE_UNREACHABLE"
        assert "DOCKER_HOST=unix:///nonexistent/harbor-prep-test.sock" in str(raised.value)
    with pytest.raises(harbor_prep.EngineUnreachable) as status:
        harbor_prep.status(PROJECT)
    assert str(status.value) == expected


def docker_env(container: str, key: str) -> str:
    out = subprocess.run(
        ["docker", "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", container],
        capture_output=True, text=True, check=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith(key + "="):
            return line[len(key) + 1:]
    raise AssertionError(f"{container} has no {key}")


@pytest.mark.engine
def test_up_plan_status_down_on_a_real_engine(engine: None, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    text = with_passwords(harbor_prep.default_config("harbor.example.test"), SPECIAL)
    text = text.replace("data_volume: /data\n", f"data_volume: {tmp_path}/data\n")
    text = text.replace("    location: /var/log/harbor\n", f"    location: {tmp_path}/log\n")
    config, out = tmp_path / "harbor.yml", tmp_path / "harbor"
    config.write_text(text)
    plan = functools.partial(harbor_prep.plan, config, out, project=PROJECT, publish_loopback=True,
                             port_offset=OFFSET)
    up = functools.partial(harbor_prep.up, config, out, project=PROJECT, publish_loopback=True,
                           port_offset=OFFSET, timeout=150)

    # the plan for nothing: every service created, nothing written
    planned = plan()
    assert planned.changed
    assert planned.steps and {s.action for s in planned.steps} == {"create"}
    assert not out.exists() and not (tmp_path / "data").exists()

    events: list[harbor_prep.Progress] = []
    report = up(progress=events.append)
    assert report.changed
    assert [s.service for s in report.steps] == [s.service for s in planned.steps]
    assert report.prepared.changed
    assert events[0].kind == "planned" and len(events[0].steps) == len(planned.steps)
    assert {e.service for e in events if e.kind == "ready"} == {s.service for s in planned.steps}
    assert [e.message for e in events if e.kind == "warning"] == report.prepared.warnings
    assert any("plain http" in w for w in report.prepared.warnings)

    rows = harbor_prep.status(PROJECT)
    assert len(rows) == len(planned.steps)
    assert {r.health for r in rows} == {"healthy"}
    assert all(p.startswith("127.0.0.1:") for r in rows for p in r.ports)

    # the secrets reach the containers as written
    assert docker_env("harbor-db", "POSTGRES_PASSWORD") == SPECIAL
    assert docker_env("harbor-core", "HARBOR_ADMIN_PASSWORD") == SPECIAL

    # nothing changed: a no-op, and the plan says so, with the warnings up gave; a progress
    # callback may ask for the status (it runs inside up's runtime)
    seen: list[int] = []
    again = up(progress=lambda e: seen.append(len(harbor_prep.status(PROJECT))) if e.kind == "planned" else None)
    assert seen == [len(rows)]
    assert plan().warnings == report.prepared.warnings
    assert not again.changed
    assert again.prepared.changed == []
    assert {s.action for s in again.steps} == {"keep"}
    assert [r.id for r in harbor_prep.status(PROJECT)] == [r.id for r in rows]
    assert not plan().changed

    # down keeps the data; down with a purge removes it
    down = harbor_prep.down(PROJECT)
    assert sorted(down.removed) == sorted(s.service for s in planned.steps)
    assert down.network_removed and down.purged == []
    assert harbor_prep.status(PROJECT) == []
    assert (tmp_path / "data" / "secret" / "keys" / "seed").exists()
    with pytest.raises(harbor_prep.InvalidInput, match="no containers left"):
        harbor_prep.down(PROJECT, purge=True)
    # with no container left, the configuration names what to purge
    purged = harbor_prep.down(PROJECT, purge=True, config=config, out=out)
    assert purged.removed == [] and purged.kept == []
    assert str(tmp_path / "data" / "secret") in purged.purged
    assert not (tmp_path / "data" / "secret").exists()

    # Ctrl-C (here raised by the callback, as a signal handler would) stops up at its next
    # step; what it did stays, and the next up carries on
    started: list[str] = []

    def interrupt(event: harbor_prep.Progress) -> None:
        if event.kind == "working":
            started.append(event.service or "")
            if len(started) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        up(progress=interrupt)
    left = harbor_prep.status(PROJECT)
    assert [r.service for r in left] == started
    finished = up()
    assert {s.action for s in finished.steps} >= {"keep", "create"}
    assert {r.health for r in harbor_prep.status(PROJECT)} == {"healthy"}

    # an interrupt with the very last event still stands, though up had nothing left to do
    def at_the_end(event: harbor_prep.Progress) -> None:
        if event.kind == "ready" and event.service == finished.steps[-1].service:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        up(progress=at_the_end)
    purged = harbor_prep.down(PROJECT, purge=True)
    assert purged.purged
    assert not (tmp_path / "data" / "secret").exists()
    assert config.exists()

    # a taken port is named before anything starts
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 80 + OFFSET))
        taken.listen()
        with pytest.raises(harbor_prep.PortInUse) as raised:
            up()
        assert raised.value.code == "PORT_IN_USE"
        assert f"127.0.0.1:{80 + OFFSET}" in str(raised.value)
    assert harbor_prep.status(PROJECT) == []
