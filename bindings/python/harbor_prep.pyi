"""Validate, render and deploy Harbor's installer configuration (harbor.yml)."""

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal, Optional, Union, final

__version__: str

__all__ = [
    "Bundle",
    "ContainerFailed",
    "Directory",
    "DownReport",
    "EngineError",
    "EngineUnreachable",
    "File",
    "HostFile",
    "HarborConfigError",
    "HarborDeployError",
    "HarborIOError",
    "HealthTimeout",
    "ImageMissing",
    "InvalidConfig",
    "InvalidInput",
    "Issue",
    "NameConflict",
    "Plan",
    "PortInUse",
    "Prepared",
    "Progress",
    "ServiceStatus",
    "Step",
    "UpReport",
    "Validated",
    "check",
    "default_config",
    "down",
    "host_paths",
    "plan",
    "prepare",
    "releases",
    "render",
    "status",
    "up",
    "validate",
    "__version__",
]

_Path = Union[str, "os.PathLike[str]"]
_Format = Literal["yaml", "cfg"]
_Root = Literal["install", "data"]

@final
class Issue:
    """One problem with a configuration."""

    @property
    def path(self) -> str:
        """Dotted key path, such as `https.private_key`; empty for the document itself."""
    @property
    def line(self) -> Optional[int]:
        """The line in the input, counted from 1; None when unknown."""
    @property
    def column(self) -> Optional[int]:
        """The column in the input, counted from 1; None when unknown."""
    @property
    def code(self) -> str:
        """A stable kebab-case code, such as `out-of-range`."""
    @property
    def message(self) -> str:
        """What is wrong and what is allowed, in lower case."""

@final
class HostFile:
    """A host file a configuration names, with its mode and owner."""

    def __new__(cls, contents: bytes, mode: int = 0o644, uid: int = 0) -> HostFile: ...
    @property
    def contents(self) -> bytes: ...
    @property
    def mode(self) -> int: ...
    @property
    def uid(self) -> int: ...

@final
class File:
    """A file of a rendered bundle."""

    @property
    def root(self) -> _Root:
        """"install" (relative to the installer directory) or "data" (to the data volume)."""
    @property
    def path(self) -> str: ...
    @property
    def contents(self) -> bytes: ...
    @property
    def mode(self) -> int: ...
    @property
    def uid(self) -> int: ...
    @property
    def gid(self) -> int: ...

@final
class Directory:
    """A directory of a rendered bundle."""

    @property
    def root(self) -> _Root: ...
    @property
    def path(self) -> str: ...
    @property
    def mode(self) -> int: ...
    @property
    def uid(self) -> int: ...
    @property
    def gid(self) -> int: ...

@final
class Bundle:
    """Everything a render produces: the files, the compose file, and the secrets to keep."""

    @property
    def files(self) -> list[File]: ...
    @property
    def directories(self) -> list[Directory]: ...
    @property
    def compose(self) -> str:
        """The text of docker-compose.yml (also in `files`)."""
    @property
    def state(self) -> dict[str, str]:
        """Secrets and keys by name: pass them as `state` to the next render."""
    @property
    def warnings(self) -> list[str]: ...
    def get(self, path: str, root: str = "install") -> Optional[File]:
        """The file at `path` below `root`, or None."""

class HarborConfigError(ValueError):
    """The configuration has problems; `issues` lists every one."""

    issues: list[Issue]

class HarborDeployError(Exception):
    """A harbor-deploy call failed, with the command line's message."""

    code: str
    issues: list[Issue]

class InvalidConfig(HarborDeployError, HarborConfigError):
    """The configuration does not validate; `issues` lists every problem."""

class InvalidInput(HarborDeployError): ...
class EngineUnreachable(HarborDeployError): ...
class ImageMissing(HarborDeployError): ...
class PortInUse(HarborDeployError): ...
class NameConflict(HarborDeployError): ...
class ContainerFailed(HarborDeployError): ...
class HealthTimeout(HarborDeployError): ...
class HarborIOError(HarborDeployError): ...
class EngineError(HarborDeployError): ...

def validate(
    text: str,
    *,
    format: _Format = "yaml",
    now: Optional[datetime] = None,
    with_trivy: bool = False,
    harbor_version: Optional[str] = None,
    files: Optional[Mapping[str, Union[bytes, HostFile]]] = None,
) -> list[Issue]:
    """Every problem of a configuration; an empty list when it renders."""

def render(
    text: str,
    *,
    seed: bytes,
    now: datetime,
    state: Optional[Mapping[str, str]] = None,
    with_trivy: bool = False,
    harbor_version: Optional[str] = None,
    files: Optional[Mapping[str, Union[bytes, HostFile]]] = None,
    format: _Format = "yaml",
) -> Bundle:
    """Renders every file Harbor needs; raises HarborConfigError with every problem."""

def default_config(hostname: str) -> str:
    """The built-in default harbor.yml for `hostname`."""

def host_paths(text: str, *, with_trivy: bool = False, format: _Format = "yaml") -> list[str]:
    """The absolute host paths a configuration names, to read and pass as `files`."""

def releases() -> list[str]:
    """The Harbor releases this module renders for, oldest first."""

@final
class Validated:
    """What `check` found, when the configuration is valid."""

    @property
    def name(self) -> str: ...
    @property
    def release(self) -> str: ...
    @property
    def warnings(self) -> list[str]: ...

@final
class Prepared:
    """What `prepare` did."""

    @property
    def out(self) -> str: ...
    @property
    def data(self) -> str: ...
    @property
    def release(self) -> str: ...
    @property
    def hostname(self) -> str: ...
    @property
    def changed(self) -> list[str]:
        """Files written because they were new or different; empty when nothing changed."""
    @property
    def unchanged(self) -> int: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def owners_set(self) -> bool: ...

_Action = Literal["keep", "start", "create", "recreate", "restart", "remove"]

@final
class Step:
    """One service's part in a plan."""

    @property
    def service(self) -> str: ...
    @property
    def container(self) -> str: ...
    @property
    def action(self) -> _Action: ...
    @property
    def reason(self) -> str: ...

@final
class Plan:
    """What `up` would do; computing it changes nothing."""

    @property
    def project(self) -> str: ...
    @property
    def steps(self) -> list[Step]: ...
    @property
    def changed(self) -> bool: ...
    @property
    def files(self) -> list[str]: ...
    @property
    def warnings(self) -> list[str]: ...

@final
class UpReport:
    """What `up` did."""

    @property
    def project(self) -> str: ...
    @property
    def steps(self) -> list[Step]: ...
    @property
    def changed(self) -> bool: ...
    @property
    def prepared(self) -> Prepared: ...
    @property
    def elapsed(self) -> float: ...

@final
class Progress:
    """One event of `up`, for a progress display."""

    @property
    def kind(self) -> Literal["planned", "working", "waiting", "ready", "removed", "warning"]: ...
    @property
    def service(self) -> Optional[str]: ...
    @property
    def action(self) -> Optional[_Action]: ...
    @property
    def state(self) -> Optional[str]: ...
    @property
    def health(self) -> Optional[str]: ...
    @property
    def elapsed(self) -> Optional[float]: ...
    @property
    def steps(self) -> list[Step]: ...
    @property
    def message(self) -> Optional[str]:
        """For "warning": something about the configuration worth reading."""

@final
class ServiceStatus:
    """One service of a project on the engine."""

    @property
    def service(self) -> str: ...
    @property
    def container(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def health(self) -> str: ...
    @property
    def image(self) -> str: ...
    @property
    def ports(self) -> list[str]: ...

@final
class DownReport:
    """What `down` did."""

    @property
    def project(self) -> str: ...
    @property
    def removed(self) -> list[str]: ...
    @property
    def network_removed(self) -> bool: ...
    @property
    def purged(self) -> list[str]: ...
    @property
    def kept(self) -> list[str]: ...

def check(
    config: Optional[_Path] = None,
    *,
    root: _Path = "/",
    hostname: Optional[str] = None,
    with_trivy: bool = False,
    harbor_version: Optional[str] = None,
    env: bool = False,
    env_prefix_only: bool = False,
    now: Optional[datetime] = None,
) -> Validated:
    """Checks a configuration file and the host files it names; raises InvalidConfig."""

def prepare(
    config: Optional[_Path] = None,
    out: Optional[_Path] = None,
    *,
    root: _Path = "/",
    hostname: Optional[str] = None,
    with_trivy: bool = False,
    harbor_version: Optional[str] = None,
    env: bool = False,
    env_prefix_only: bool = False,
    seed_file: Optional[_Path] = None,
    now: Optional[datetime] = None,
    dry_run: bool = False,
) -> Prepared:
    """Renders and writes the installer tree and the data volume, as `harbor-deploy prepare`;
    with `dry_run`, writes nothing and reports what it would write."""

def plan(
    config: Optional[_Path] = None,
    out: Optional[_Path] = None,
    *,
    project: str = "harbor",
    hostname: Optional[str] = None,
    with_trivy: bool = False,
    harbor_version: Optional[str] = None,
    env: bool = False,
    env_prefix_only: bool = False,
    image_prefix: Optional[str] = None,
    images: Optional[_Path] = None,
    publish_loopback: bool = False,
    port_offset: int = 0,
) -> Plan:
    """What `up` would do; writes nothing."""

def up(
    config: Optional[_Path] = None,
    out: Optional[_Path] = None,
    *,
    project: str = "harbor",
    hostname: Optional[str] = None,
    with_trivy: bool = False,
    harbor_version: Optional[str] = None,
    env: bool = False,
    env_prefix_only: bool = False,
    image_prefix: Optional[str] = None,
    images: Optional[_Path] = None,
    timeout: float = 300.0,
    publish_loopback: bool = False,
    port_offset: int = 0,
    progress: Optional[Callable[[Progress], object]] = None,
) -> UpReport:
    """Prepares, then brings the Docker engine to the bundle; returns once all are healthy.

    Ctrl-C (or a KeyboardInterrupt or SystemExit raised by `progress`) stops it at its next
    step or poll and is raised then; a later `up` carries on."""

def status(project: str = "harbor") -> list[ServiceStatus]:
    """The project's services with state, health, image and ports."""

def down(
    project: str = "harbor",
    *,
    purge: bool = False,
    config: Optional[_Path] = None,
    out: Optional[_Path] = None,
) -> DownReport:
    """Removes the project's containers and network; `purge` removes what the installation
    created in its data too. With no container left, `config` (and `out`) name the
    installation to purge."""
