"""Shared fixtures: the repository, the harbor-deploy command to compare with, the reference
cases, and helpers that read a written tree back."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

import harbor_prep

REPO = Path(__file__).resolve().parents[3]

# upstream's `prepare` output lives beside the repository, not in it (see harbor-deploy's
# reference tests); HARBOR_REFERENCE points elsewhere
REFERENCE = Path(os.environ.get("HARBOR_REFERENCE", REPO.parent / "shared" / "reference"))

# the engine tests' deployment: its own project, ports moved and on loopback; the container
# names are the compose file's, so only one deployment fits on an engine at a time
ENGINE_LOCK = "/tmp/harbor-engine.lock"
PROJECT = "hpt-python"
OFFSET = 18200

# the seed and clock every comparison uses, as the Rust reference tests do
SEED = b"harbor-deploy reference seed 01!"
NOW_TEXT = "2027-01-01T00:00:00Z"
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)


def cli_path() -> Path:
    """The harbor-deploy binary: $HARBOR_DEPLOY, else the workspace's debug build."""
    given = os.environ.get("HARBOR_DEPLOY")
    return Path(given) if given else REPO / "target" / "debug" / "harbor-deploy"


@pytest.fixture(scope="session")
def cli() -> Path:
    path = cli_path()
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `cargo build -p harbor-deploy` first")
    return path


def run(cli: Path, *args: str | os.PathLike[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs harbor-deploy with `args`, capturing its output."""
    return subprocess.run(
        [str(cli), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture()
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "seed"
    path.write_bytes(SEED)
    return path


@dataclass(frozen=True)
class Node:
    """A file (`contents` set) or directory on disk or in a bundle."""

    contents: bytes | None
    mode: int
    uid: int
    gid: int


def read_tree(top: Path) -> dict[str, Node]:
    """Every file and directory below `top`, by relative path, with mode and owner."""
    nodes: dict[str, Node] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = path.relative_to(top).as_posix()
            contents = path.read_bytes() if stat.S_ISREG(st.st_mode) else None
            nodes[rel] = Node(contents, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return nodes


def contents(bundle: harbor_prep.Bundle, path: str, root: str = "install") -> bytes:
    """The bytes of the bundle's file at `path`, which must be there."""
    file = bundle.get(path, root=root)
    assert file is not None, f"{root}:{path} is not in the bundle"
    return file.contents


def bundle_tree(bundle: harbor_prep.Bundle, root: str) -> dict[str, Node]:
    """The files and directories of `bundle` below `root` ("install" or "data")."""
    nodes = {
        f.path: Node(f.contents, f.mode, f.uid, f.gid) for f in bundle.files if f.root == root
    }
    nodes.update(
        {d.path: Node(None, d.mode, d.uid, d.gid) for d in bundle.directories if d.root == root}
    )
    return nodes


@dataclass(frozen=True)
class Case:
    """One upstream reference case."""

    release: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def args(self) -> list[str]:
        args = self.path / "args"
        return args.read_text().split() if args.exists() else []

    @property
    def config(self) -> Path:
        return self.path / "input.harbor.yml"

    def host_files(self) -> dict[str, bytes]:
        """The case's host files by absolute path, as `files` takes them."""
        host = self.path / "host"
        if not host.is_dir():
            return {}
        return {
            "/" + p.relative_to(host).as_posix(): p.read_bytes()
            for p in host.rglob("*")
            if p.is_file()
        }


def reference_cases() -> list[Case]:
    """Every prepare case of every release directory; empty when the material is absent."""
    cases = []
    for release_dir in sorted(REFERENCE.glob("upstream-v*")):
        release = release_dir.name.removeprefix("upstream-")
        for case in sorted(p for p in release_dir.iterdir() if (p / "input.harbor.yml").exists()):
            c = Case(release, case)
            if "gencert" not in c.args:
                cases.append(c)
    return cases


def other_projects() -> set[str]:
    """Projects of other deployments on the engine; their containers hold the fixed names."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=org.harbor-prep.project",
         "--format", '{{.Label "org.harbor-prep.project"}}'],
        capture_output=True, text=True, check=True,
    ).stdout
    return set(out.split()) - {PROJECT}


@pytest.fixture()
def engine() -> Iterator[None]:
    """The engine DOCKER_HOST names (scripts/dockerd.sh starts one), held alone: one
    deployment fits on it at a time, and other engine tests use it too. Waits, lock released,
    while another project's deployment is still there (up to HARBOR_ENGINE_WAIT seconds)."""
    deadline = time.monotonic() + float(os.environ.get("HARBOR_ENGINE_WAIT", "900"))
    with open(ENGINE_LOCK, "w") as lock:
        while True:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                harbor_prep.status(PROJECT)
            except harbor_prep.EngineUnreachable as e:
                if os.environ.get("HARBOR_ENGINE_TESTS") == "require":
                    raise
                pytest.skip(f"no docker engine: {e}")
            others = other_projects()
            if not others:
                break
            fcntl.flock(lock, fcntl.LOCK_UN)
            if time.monotonic() > deadline:
                pytest.fail(f"the engine is still taken by {', '.join(sorted(others))}")
            time.sleep(10)
        try:
            yield
        finally:
            # a purge needs the containers, which tell where the data lives
            harbor_prep.down(PROJECT, purge=bool(harbor_prep.status(PROJECT)))
