"""The Ansible module `harbor` under real ansible-core: the playbooks in ansible/tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harbor_prep
from conftest import OFFSET, PROJECT, SEED
from test_prep import with_passwords

HERE = Path(__file__).resolve().parent.parent / "ansible"
ADMIN = "Adm1n 'pw' \"$HOME\" #x €"
DB = "Db-s3cret #7 'q'"


def playbook(name: str, work: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """Runs ansible/tests/`name` on localhost with this interpreter, at -vvv so that the output
    shows whatever the module would leak."""
    command = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) or "ansible-playbook"
    env = dict(
        os.environ,
        ANSIBLE_LIBRARY=str(HERE / "library"),
        ANSIBLE_HOME=str(work / ".ansible"),
        ANSIBLE_LOCAL_TEMP=str(work / ".ansible" / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
    )
    variables = dict(extra, ansible_python_interpreter=sys.executable, work=str(work))
    args = [command, "-vvv", "-i", "localhost,", "-c", "local", str(HERE / "tests" / name),
            "-e", json.dumps(variables)]
    return subprocess.run(args, capture_output=True, text=True, env=env, check=False)


def assert_passed(result: subprocess.CompletedProcess[str]) -> None:
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    assert "failed=0" in result.stdout, tail


def test_rendered_twice_then_a_bad_config(tmp_path: Path) -> None:
    (tmp_path / "seed").write_bytes(SEED)
    (tmp_path / "harbor.yml").write_text(harbor_prep.default_config("harbor.example.test"))

    result = playbook("rendered.yml", tmp_path, admin_password=ADMIN, db_password=DB)
    assert_passed(result)

    # the module's passwords reached the bundle, and no output shows them
    env = (tmp_path / "out" / "common" / "config" / "core" / "env").read_text()
    assert "HARBOR_ADMIN_PASSWORD='" + ADMIN.replace("'", "\\'") + "-2'" in env
    db_env = (tmp_path / "out" / "common" / "config" / "db" / "env").read_text()
    assert "POSTGRES_PASSWORD='" + DB.replace("'", "\\'") + "'" in db_env
    shown = result.stdout + result.stderr
    for secret in [ADMIN, DB, "Db-s3cret", "AKIAPLAYBOOKKEY1", "S3cretPlaybookKey", "Pr0xyPassw0rd",
                   "Pr0xy@", "Pass/w0rd"]:
        assert secret not in shown, secret
    # they are in the files, where they belong
    registry = (tmp_path / "keys" / "common" / "config" / "registry" / "config.yml").read_text()
    assert "AKIAPLAYBOOKKEY1" in registry
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in shown or "********" in shown


@pytest.mark.engine
def test_present_and_absent_on_a_real_engine(engine: None, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    text = with_passwords(harbor_prep.default_config("harbor.example.test"), DB)
    text = text.replace("data_volume: /data\n", f"data_volume: {tmp_path}/data\n")
    text = text.replace("    location: /var/log/harbor\n", f"    location: {tmp_path}/log\n")
    (tmp_path / "harbor.yml").write_text(text)

    result = playbook("present.yml", tmp_path, project=PROJECT, offset=str(OFFSET))
    assert_passed(result)
    assert DB not in result.stdout + result.stderr
    assert not (tmp_path / "data" / "secret").exists()
