"""validate and render: the same issues and the same bytes as the harbor-deploy command."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import harbor_prep
from conftest import NOW, NOW_TEXT, REFERENCE, REPO, SEED, Case, bundle_tree, contents, read_tree, reference_cases, run

INPUTS = REPO / "harbor-prep" / "tests" / "inputs"
CASES = reference_cases()


def formatted(name: str, issue: harbor_prep.Issue) -> str:
    """An issue as the command line prints it: `name:line:col: key: message [code]`."""
    place = f"{name}:{issue.line}:{issue.column}" if issue.line is not None else name
    key = f" {issue.path}:" if issue.path else ""
    return f"{place}:{key} {issue.message} [{issue.code}]"


def cli_issue_lines(stderr: str) -> list[str]:
    """The issue lines of the command's stderr, without notes, warnings and the summary."""
    return [
        line
        for line in stderr.splitlines()
        if line.endswith("]") and not line.startswith("warning: ")
    ]


def without_files(lines: list[str]) -> list[str]:
    """Issue lines with the reason a host file is missing made the command line's: the
    module reads no files, so a path not passed in `files` is "not provided to the renderer"
    where the command says "no such file"."""
    return [line.replace(": not provided to the renderer [", ": no such file [") for line in lines]


@pytest.mark.parametrize("path", sorted(INPUTS.glob("*.yml")), ids=lambda p: p.name)
def test_validate_gives_the_issues_of_the_cli(cli: Path, path: Path) -> None:
    issues = harbor_prep.validate(path.read_text(), now=NOW)
    out = run(cli, "validate", "--config", path, "--now", NOW_TEXT)

    if out.returncode == 0:
        assert issues == []
    else:
        assert out.returncode == 2, out.stderr
        assert issues, out.stderr
        assert without_files([formatted(str(path), i) for i in issues]) == cli_issue_lines(out.stderr)


def test_bad_inputs_give_issues_with_paths_and_places() -> None:
    issues = harbor_prep.validate((INPUTS / "err_many.yml").read_text(), now=NOW)
    by_path = {i.path: i for i in issues}

    port = by_path["http.port"]
    assert (port.line, port.column, port.code) == (4, 9, "out-of-range")
    assert "70000" in port.message
    assert by_path["storage_service.redirect.disabled"].code == "unknown-key"
    assert "jobservice.job_loggers[1]" in by_path
    assert all(i.line is not None and i.column is not None for i in issues)
    assert str(port) == f"4:9: http.port: {port.message}"


def test_syntax_errors_are_issues_not_exceptions() -> None:
    issues = harbor_prep.validate("hostname: [unclosed\n")
    assert len(issues) == 1
    assert issues[0].code == "syntax"
    assert issues[0].line == 1


def test_render_raises_with_every_issue() -> None:
    text = (INPUTS / "err_many.yml").read_text()
    with pytest.raises(harbor_prep.HarborConfigError) as raised:
        harbor_prep.render(text, seed=SEED, now=NOW)

    assert isinstance(raised.value, ValueError)
    assert raised.value.issues == harbor_prep.validate(text, now=NOW)
    assert str(raised.value).startswith(f"{len(raised.value.issues)} problem(s) in the configuration")


def test_legacy_cfg_is_converted_and_its_issues_lose_their_places() -> None:
    cfg = (REFERENCE / "legacy" / "harbor-1.7.6.cfg")
    if not cfg.exists():
        pytest.skip(f"{cfg} is not here")
    text = cfg.read_text()

    # the template's hostname converts, then validation rejects it
    issues = harbor_prep.validate(text, format="cfg", now=NOW)
    assert [i.path for i in issues] == ["hostname"]
    assert issues[0].line is None

    fixed = text.replace("hostname = reg.mydomain.com", "hostname = harbor.example.test")
    assert harbor_prep.validate(fixed, format="cfg", now=NOW) == []
    bundle = harbor_prep.render(fixed, format="cfg", seed=SEED, now=NOW)
    assert b"EXT_ENDPOINT=http://harbor.example.test\n" in contents(bundle, "common/config/core/env")

    # problems of the cfg itself keep their lines
    broken = harbor_prep.validate("hostname = x\nno equals sign here\n", format="cfg")
    syntax = [i for i in broken if i.code == "syntax"]
    assert [(i.line, i.column) for i in syntax] == [(2, 1)]
    assert {"ui_url_protocol", "harbor_admin_password", "db_password"} <= {i.path for i in broken}


def prepare_with_cli(
    cli: Path, case: Case, work: Path, seed_file: Path
) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """Runs `prepare` on a case as the Rust reference tests do; the installer and data dirs."""
    root = work / "root"
    if (case.path / "host").is_dir():
        shutil.copytree(case.path / "host", root, symlinks=True)
    else:
        root.mkdir()
    out = work / "out"
    args: list[str | Path] = ["prepare", "--config", case.config, "--seed-file", seed_file, "--now", NOW_TEXT]
    args += ["--root", root, "--out", out, "--harbor-version", case.release]
    args += [a for a in case.args if a == "--with-trivy"]
    result = run(cli, *args)
    if result.returncode == 0 and "prerun" in case.args:
        result = run(cli, *args)
    data = Path()
    found = re.search(r"data in (.+)$", result.stdout.strip())
    if found:
        data = Path(found.group(1))
    return out, data, result


@pytest.mark.skipif(not CASES, reason=f"no reference cases in {REFERENCE}")
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.release}/{c.name}")
def test_render_writes_the_bytes_of_the_cli(cli: Path, tmp_path: Path, seed_file: Path, case: Case) -> None:
    out, data, result = prepare_with_cli(cli, case, tmp_path, seed_file)
    text = case.config.read_text()
    render = functools.partial(
        harbor_prep.render,
        text,
        seed=SEED,
        now=NOW,
        files=case.host_files(),
        with_trivy="--with-trivy" in case.args,
        harbor_version=case.release,
    )

    if result.returncode != 0:
        assert result.returncode == 2, result.stderr
        with pytest.raises(harbor_prep.HarborConfigError) as raised:
            render()
        lines = [formatted(str(case.config), i) for i in raised.value.issues]
        assert without_files(lines) == cli_issue_lines(result.stderr)
        return

    bundle = render()
    if "prerun" in case.args:
        bundle = render(state=bundle.state)

    assert bundle_tree(bundle, "install") == read_tree(out)
    on_disk = read_tree(data)
    # the seed is the CLI's own, kept so that a re-run derives the same secrets, and so is the
    # list of what it created, for a purge
    assert on_disk.pop("secret/keys/seed").contents == SEED
    created = on_disk.pop("secret/keys/created", None)
    if created is not None:
        assert created.contents is not None
        assert all(line.split(b" ")[0] in (b"data", b"install") for line in created.contents.splitlines())
    assert bundle_tree(bundle, "data") == on_disk
    assert contents(bundle, "docker-compose.yml") == bundle.compose.encode()


def test_equal_inputs_give_equal_bytes_and_the_seed_matters() -> None:
    text = harbor_prep.default_config("harbor.example.test")
    one = harbor_prep.render(text, seed=SEED, now=NOW)
    two = harbor_prep.render(text, seed=SEED, now=NOW)
    other = harbor_prep.render(text, seed=bytes(32), now=NOW)

    def files(b: harbor_prep.Bundle) -> dict[tuple[str, str], bytes]:
        return {(f.root, f.path): f.contents for f in b.files}

    assert files(one) == files(two)
    assert one.state == two.state
    assert files(one) != files(other)
    assert one.state["core_secret"] != other.state["core_secret"]


def test_state_is_reused_rather_than_rotated() -> None:
    text = harbor_prep.default_config("harbor.example.test")
    first = harbor_prep.render(text, seed=SEED, now=NOW)

    # another seed and a later clock: the persisted secrets and token pair win
    again = harbor_prep.render(text, seed=bytes(32), now=NOW + timedelta(days=400), state=first.state)
    assert again.state == first.state
    for root, path in [("install", "common/config/core/env"), ("data", "secret/registry/root.crt")]:
        assert contents(again, path, root) == contents(first, path, root)
    assert contents(again, "secret/keys/secretkey", "data") == first.state["secretkey"].encode()


def test_a_bad_persisted_state_is_an_issue() -> None:
    text = harbor_prep.default_config("harbor.example.test")
    with pytest.raises(harbor_prep.HarborConfigError) as raised:
        harbor_prep.render(text, seed=SEED, now=NOW, state={"secretkey": "short"})
    assert [i.path for i in raised.value.issues] == ["secret/keys/secretkey"]


SPECIAL = "Adm1n \"quoted\" it's $HOME #not-a-comment ünïcødé € `x` \\ end"


def with_passwords(text: str, password: str) -> str:
    """The default configuration with `password` as the admin's and the database's password."""
    quoted = "'" + password.replace("'", "''") + "'"
    text = re.sub(r"(?m)^harbor_admin_password: .*$", lambda _: "harbor_admin_password: " + quoted, text)
    text, n = re.subn(r"(?m)^(database:\n(?:  .*\n)*?  password: ).*$", lambda m: m.group(1) + quoted, text)
    assert n == 1
    return text


def env_value(env: bytes, key: str) -> str:
    """The value of `key` in an env file as Docker Compose reads a single-quoted value: the
    text between the quotes, with `\\'` standing for a quote."""
    for line in env.decode().splitlines():
        if line.startswith(key + "="):
            raw = line[len(key) + 1 :]
            assert raw.startswith("'") and raw.endswith("'"), raw
            return raw[1:-1].replace("\\'", "'")
    raise AssertionError(f"{key} is not in the env file")


def test_secrets_with_special_characters_survive(cli: Path, tmp_path: Path, seed_file: Path) -> None:
    text = with_passwords(harbor_prep.default_config("harbor.example.test"), SPECIAL)
    config = tmp_path / "harbor.yml"
    config.write_text(text)

    bundle = harbor_prep.render(text, seed=SEED, now=NOW)
    core = contents(bundle, "common/config/core/env")
    assert env_value(core, "HARBOR_ADMIN_PASSWORD") == SPECIAL
    assert env_value(core, "POSTGRESQL_PASSWORD") == SPECIAL
    assert env_value(contents(bundle, "common/config/db/env"), "POSTGRES_PASSWORD") == SPECIAL

    # and the command line writes the same bytes
    out = tmp_path / "out"
    result = run(cli, "prepare", "--config", config, "--seed-file", seed_file, "--now", NOW_TEXT,
                 "--root", tmp_path / "root", "--out", out)
    assert result.returncode == 0, result.stderr
    assert bundle_tree(bundle, "install") == read_tree(out)

    # a secret in the state reaches the files as it is
    state = dict(bundle.state, core_secret="c0re 'secret' \"$x\" #y")
    again = harbor_prep.render(text, seed=SEED, now=NOW, state=state)
    assert env_value(contents(again, "common/config/core/env"), "CORE_SECRET") == state["core_secret"]


def test_reprs_never_show_secrets() -> None:
    text = with_passwords(harbor_prep.default_config("harbor.example.test"), "S3cret-pw")
    bundle = harbor_prep.render(text, seed=SEED, now=NOW)
    shown = repr(bundle) + "".join(repr(f) for f in bundle.files)
    assert "S3cret-pw" not in shown
    assert all(v not in shown for v in bundle.state.values())
    assert "core/env" in shown


def test_host_files_are_named_and_checked() -> None:
    case = REFERENCE / "upstream-v2.15.2" / "b-https"
    if not case.exists():
        pytest.skip(f"{case} is not here")
    text = (case / "input.harbor.yml").read_text()
    host = Case("v2.15.2", case).host_files()

    paths = harbor_prep.host_paths(text)
    assert paths and set(paths) <= set(host)
    missing = harbor_prep.validate(text, now=NOW)
    assert {i.path for i in missing} == {"https.certificate", "https.private_key"}
    assert all(i.code == "file-missing" for i in missing)
    assert harbor_prep.validate(text, now=NOW, files=host) == []

    # an expired certificate is found with the clock given
    later = harbor_prep.validate(text, now=datetime(2999, 1, 1, tzinfo=timezone.utc), files=host)
    assert [i.code for i in later] == ["certificate"]


def test_host_file_modes_count() -> None:
    case = REFERENCE / "upstream-v2.15.2" / "e2-storage-ca-bundle"
    if not case.exists():
        pytest.skip(f"{case} is not here")
    text = (case / "input.harbor.yml").read_text()
    files: dict[str, bytes | harbor_prep.HostFile] = dict(Case("v2.15.2", case).host_files())
    [ca] = [p for p in harbor_prep.host_paths(text) if "ca" in p]
    assert harbor_prep.validate(text, now=NOW, files=files) == []

    ca_bytes = Case("v2.15.2", case).host_files()[ca]
    files[ca] = harbor_prep.HostFile(ca_bytes, mode=0o600, uid=0)
    issues = harbor_prep.validate(text, now=NOW, files=files)
    assert [i.path for i in issues] == ["storage_service.ca_bundle"]
    files[ca] = harbor_prep.HostFile(ca_bytes, mode=0o600, uid=10000)
    assert harbor_prep.validate(text, now=NOW, files=files) == []


def test_arguments_are_checked() -> None:
    text = harbor_prep.default_config("harbor.example.test")
    with pytest.raises(ValueError, match="exactly 32 bytes"):
        harbor_prep.render(text, seed=b"short", now=NOW)
    with pytest.raises(ValueError, match="aware"):
        harbor_prep.render(text, seed=SEED, now=datetime(2027, 1, 1))
    with pytest.raises(TypeError):
        harbor_prep.render(text, seed=SEED, now="2027-01-01")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out of range"):
        harbor_prep.render(text, seed=SEED, now=datetime(1960, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="format `toml`"):
        harbor_prep.validate(text, format="toml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="supported are v2.13.5, v2.14.4, v2.15.2"):
        harbor_prep.validate(text, harbor_version="1.0")


def test_releases_and_versions() -> None:
    assert harbor_prep.releases() == ["v2.13.5", "v2.14.4", "v2.15.2"]
    text = harbor_prep.default_config("harbor.example.test")
    old = harbor_prep.render(text, seed=SEED, now=NOW, harbor_version="2.13")
    assert "goharbor/harbor-core:v2.13.5" in old.compose
    assert harbor_prep.__version__


def test_render_releases_the_gil() -> None:
    # key generation takes about a second; another thread keeps running meanwhile
    text = harbor_prep.default_config("harbor.example.test")
    ticks = 0
    done = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    thread = threading.Thread(target=tick)
    thread.start()
    started = time.monotonic()
    before = ticks
    harbor_prep.render(text, seed=SEED, now=NOW)
    during = ticks - before
    elapsed = time.monotonic() - started
    done.set()
    thread.join()

    # with the GIL held the thread could not tick at all while the key was made
    assert elapsed > 0.05
    assert during > 10 * elapsed


def test_text_that_is_not_unicode_is_an_issue_never_a_changed_password() -> None:
    text = "# owner \U0001F600 team\n" + harbor_prep.default_config("harbor.example.test").replace(
        "Harbor12345", "a\ud800b-Harbor12345")
    line = text.split("\n").index("harbor_admin_password: a\ud800b-Harbor12345") + 1

    # validate reports it as it reports every problem, with its place; the emoji before it is
    # one column
    [issue] = harbor_prep.validate(text)
    assert (issue.path, issue.code, issue.line, issue.column) == ("", "encoding", line, 25)
    assert "lone UTF-16 surrogate" in issue.message and "Harbor12345" not in issue.message

    with pytest.raises(harbor_prep.HarborConfigError) as caught:
        harbor_prep.render(text, seed=bytes(32), now=datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert [(i.code, i.line) for i in caught.value.issues] == [("encoding", line)]
    assert "Harbor12345" not in repr(caught.value) + repr(caught.value.args)
    assert harbor_prep.host_paths(text) == []
