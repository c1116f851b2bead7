#!/usr/bin/python
# Apache-2.0; part of harbor-prep (bindings/python/ansible)
"""Ansible module `harbor`: render and deploy Harbor from one harbor.yml through the
harbor_prep Python package."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: harbor
short_description: Render Harbor's installer files and deploy Harbor on a Docker engine
description:
  - Renders docker-compose.yml, common/config and the data volume's secrets from a harbor.yml
    exactly as C(harbor-deploy prepare) does, and brings a Docker engine to them as
    C(harbor-deploy up) does; or removes the deployment as C(harbor-deploy down) does.
  - Secrets derive from a seed kept in the data volume, so a re-run rotates nothing and reports
    C(changed=false).
requirements:
  - the harbor-prep Python package (C(pip install ./bindings/python)) on the managed host
options:
  state:
    description:
      - C(rendered) writes the installer tree and the data volume's secrets only.
      - C(present) also creates, recreates or keeps each container until all are healthy.
      - C(absent) removes the project's containers and network (and its data with I(purge)).
    type: str
    choices: [present, absent, rendered]
    default: present
  config:
    description:
      - The path of a harbor.yml (a name ending in C(.cfg) is read as a legacy harbor.cfg),
        or the configuration itself as a dictionary, which is written to I(out)/harbor.yml
        (mode 0600). Without it, the built-in default configuration for I(hostname).
      - Give passwords through I(harbor_admin_password) and I(database_password), which are
        never logged; in a dictionary, the values of keys named like passwords, secrets,
        tokens and keys (the storage drivers' too) and the passwords of urls are masked in the
        output too.
      - A dictionary is checked before it is written; one that does not validate is never
        written.
    type: raw
  out:
    description:
      - The installer directory (docker-compose.yml, common/config). Default the directory of
        I(config); required when I(config) is a dictionary.
    type: path
  root:
    description:
      - Prefix of every absolute host path harbor.yml names, the data volume included. Only
        with C(state=rendered); a deployment takes harbor.yml's paths as they are.
    type: path
    default: /
  project:
    description: The deployment's name; the network's name and a label on every container.
    type: str
    default: harbor
  purge:
    description:
      - With C(state=absent), also delete what the bundle created in the data volume (registry
        storage, database, secrets) and the rendered common/config.
      - Only what the installation created goes; directories that were there before it are
        kept and listed in C(kept).
      - The data volume is found through the project's containers; once they are gone (an
        earlier C(state=absent) without I(purge)), give I(config) as a path (and I(out)) to
        name it, or the module warns that there is nothing it can purge.
      - Refused while containers of other projects use the data.
    type: bool
    default: false
  hostname:
    description: The hostname of the built-in default configuration, when I(config) is not given.
    type: str
  with_trivy:
    description: Deploy the Trivy scanner too.
    type: bool
    default: false
  harbor_version:
    description: The Harbor release to render for (C(v2.13.5), C(v2.14.4), C(v2.15.2)); default the newest.
    type: str
  harbor_admin_password:
    description: Sets C(harbor_admin_password) over the configuration.
    type: str
  database_password:
    description: Sets C(database.password) over the configuration.
    type: str
  seed_file:
    description: A 32-byte seed for a first render; later runs use the seed in the data volume.
    type: path
  now:
    description:
      - When certificates start, as an RFC 3339 time such as C(2027-01-01T00:00:00Z); default
        the clock. Only with C(state=rendered).
    type: str
  image_prefix:
    description: Prefix every image reference with a registry or namespace.
    type: str
  images:
    description: A YAML file mapping service names to image references.
    type: path
  timeout:
    description: Seconds to wait for every container to be healthy.
    type: int
    default: 300
  publish_loopback:
    description: Publish every port on 127.0.0.1 only.
    type: bool
    default: false
  port_offset:
    description: Add this to every published host port.
    type: int
    default: 0
notes:
  - Check mode runs C(plan) for C(state=present), C(status) for C(state=absent), and a dry-run
    prepare for C(state=rendered) (the files that would be written), writing nothing.
  - Diff mode shows the plan (service, action, reason) and the files written, never their contents.
"""

EXAMPLES = r"""
- name: Harbor from a harbor.yml on the host
  harbor:
    config: /etc/harbor/harbor.yml
    harbor_admin_password: "{{ vault_harbor_admin_password }}"
    database_password: "{{ vault_harbor_db_password }}"

- name: Only render the installer tree, from an inline configuration
  harbor:
    state: rendered
    out: /opt/harbor
    config:
      hostname: harbor.example.test
      http: {port: 80}
      data_volume: /data

- name: Remove the deployment and its data
  harbor:
    state: absent
    purge: true
"""

RETURN = r"""
changed:
  description: Whether a file or container changed; false on a re-run with nothing new.
  type: bool
  returned: always
files:
  description: Files written (or, in check mode for state=present, that would be) because they were new or different.
  type: list
  elements: str
  returned: when state is present or rendered
steps:
  description: Every service with its action (keep, start, create, recreate, restart, remove) and why.
  type: list
  elements: dict
  returned: when state is present
prepared:
  description: out, data, release and hostname of the rendered bundle.
  type: dict
  returned: when state is present or rendered and not in check mode
removed:
  description: Services whose containers were removed.
  type: list
  elements: str
  returned: when state is absent
purged:
  description: What a purge deleted, all of it created by the installation.
  type: list
  elements: str
  returned: when state is absent
kept:
  description: Directories of the data volume a purge left, because they were there before the installation.
  type: list
  elements: str
  returned: when state is absent
issues:
  description: Every problem of a configuration that does not validate (path, line, column, code, message).
  type: list
  elements: dict
  returned: on failure because of the configuration
code:
  description: The kind of failure, such as INVALID_CONFIG, ENGINE_UNREACHABLE, PORT_IN_USE.
  type: str
  returned: on failure
"""

import os
import re
import tempfile
from datetime import datetime

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import harbor_prep
except ImportError:
    harbor_prep = None

try:
    import yaml
except ImportError:
    yaml = None

# keys whose values are masked wherever they would show: passwords, secrets, tokens, and the
# storage drivers' keys (s3 accesskey and secretkey, azure accountkey, gcs encoded_key, ...)
SECRET_KEY = re.compile(r"pass|secret|token|credential|private|key|auth", re.IGNORECASE)
# the password of a url with credentials, such as a proxy's http://user:password@host; up to
# the last `@`, as Go reads it, so that a password holding `@` or `/` is masked whole
URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^:@/]*:(.+)@[^@]*$")


def secret_values(value, secret=False):
    """Every text value below secret-looking keys of an inline configuration, and the password
    of every url that carries one."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from secret_values(item, secret or bool(SECRET_KEY.search(str(key))))
    elif isinstance(value, list):
        for item in value:
            yield from secret_values(item, secret)
    elif secret and value not in (None, "") and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, str):
        found = URL_PASSWORD.match(value)
        if found:
            yield found.group(1)


class HarborModule(AnsibleModule):
    """An AnsibleModule that masks an inline configuration's secrets from the moment its
    arguments are read: a task whose other arguments are wrong fails while checking them, and
    that failure shows the arguments too."""

    def _load_params(self):
        super()._load_params()
        config = self.params.get("config") if isinstance(self.params, dict) else None
        if isinstance(config, dict):
            self.no_log_values.update(secret_values(config))


def parse_now(module, text):
    """The `now` option as an aware datetime."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        module.fail_json(msg=f"now `{text}` is not an RFC 3339 time such as 2027-01-01T00:00:00Z ({e})")
    if when.utcoffset() is None:
        module.fail_json(msg=f"now `{text}` has no time zone; end it with Z or an offset")
    return when


def inline_config(module, config, out, overrides):
    """Writes an inline configuration to `out`/harbor.yml (a temporary file in check mode);
    its path and whether the file changed."""
    if yaml is None:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    if out is None:
        module.fail_json(msg="out is required when config is a dictionary")

    config = dict(config)
    if "harbor_admin_password" in overrides:
        config["harbor_admin_password"] = overrides["harbor_admin_password"]
    if "database_password" in overrides:
        config["database"] = dict(config.get("database") or {}, password=overrides["database_password"])
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)

    path = os.path.join(out, "harbor.yml")
    try:
        with open(path, encoding="utf-8") as f:
            changed = f.read() != text
    except FileNotFoundError:
        changed = True

    # checked before it takes the place of the old one: a configuration that does not
    # validate is never written, and a run that fails on it changes nothing
    fd, staged = tempfile.mkstemp(prefix="harbor-", suffix=".yml", dir=module.tmpdir)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    try:
        harbor_prep.check(staged, root=module.params["root"], with_trivy=module.params["with_trivy"],
                          harbor_version=module.params["harbor_version"])
    except harbor_prep.HarborDeployError as e:
        os.unlink(staged)
        fail(module, e)
    if module.check_mode:
        return staged, changed
    os.unlink(staged)
    if changed:
        # a new file of its own, 0600 from the start, renamed over the old one: never an
        # existing file's mode, nor a symlink's target
        try:
            os.makedirs(out, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".harbor-", suffix=".yml", dir=out)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except OSError as e:
            module.fail_json(msg=f"cannot write {path}: {e.strerror or e}", code="IO")
    return path, changed


def overlay(overrides):
    """Lays the password options over a configuration file through the environment overlay
    (HARBOR__ variables, typed by key); only these variables apply."""
    for name in [n for n in os.environ if n.startswith("HARBOR__")]:
        del os.environ[name]
    names = {
        "harbor_admin_password": "HARBOR__HARBOR_ADMIN_PASSWORD",
        "database_password": "HARBOR__DATABASE__PASSWORD",
    }
    for option, value in overrides.items():
        os.environ[names[option]] = value
    return bool(overrides)


def step_dicts(steps):
    return [dict(service=s.service, container=s.container, action=s.action, reason=s.reason) for s in steps]


def plan_text(steps, files):
    lines = [f"{s.service}: {s.action} ({s.reason})" for s in steps]
    lines += [f"write {f}" for f in files]
    return "\n".join(lines) + "\n" if lines else ""


def prepared_dict(p):
    return dict(out=p.out, data=p.data, release=p.release, hostname=p.hostname, unchanged=p.unchanged)


def fail(module, e):
    """Fails the task with the library's message, its kind, and the issues of a bad config."""
    issues = [
        dict(path=i.path, line=i.line, column=i.column, code=i.code, message=i.message)
        for i in getattr(e, "issues", [])
    ]
    module.fail_json(msg=str(e), code=getattr(e, "code", "INVALID_CONFIG"), issues=issues)


def main():
    module = HarborModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "absent", "rendered"]),
            config=dict(type="raw"),
            out=dict(type="path"),
            root=dict(type="path", default="/"),
            project=dict(type="str", default="harbor"),
            purge=dict(type="bool", default=False),
            hostname=dict(type="str"),
            with_trivy=dict(type="bool", default=False),
            harbor_version=dict(type="str"),
            harbor_admin_password=dict(type="str", no_log=True),
            database_password=dict(type="str", no_log=True),
            seed_file=dict(type="path"),
            now=dict(type="str"),
            image_prefix=dict(type="str"),
            images=dict(type="path"),
            timeout=dict(type="int", default=300),
            publish_loopback=dict(type="bool", default=False),
            port_offset=dict(type="int", default=0),
        ),
        supports_check_mode=True,
        # the invocation is not sent to syslog: an inline config may hold passwords
        no_log=True,
    )
    if harbor_prep is None:
        module.fail_json(msg=missing_required_lib("harbor-prep"))
    p = module.params
    state = p["state"]

    config = p["config"]
    if config is not None and not isinstance(config, (dict, str)):
        module.fail_json(msg="config must be the path of a harbor.yml or a dictionary")
    overrides = {k: p[k] for k in ["harbor_admin_password", "database_password"] if p[k] is not None}

    if not 0 <= p["port_offset"] <= 65535:
        module.fail_json(msg=f"port_offset {p['port_offset']} is out of range; it takes 0 to 65535",
                         code="INVALID_INPUT")
    if p["timeout"] <= 0:
        module.fail_json(msg=f"timeout {p['timeout']} must be a positive number of seconds",
                         code="INVALID_INPUT")

    if state == "absent":
        # with no container left, a configuration file names the installation to purge
        named = dict(config=config, out=p["out"]) if isinstance(config, str) else {}
        try:
            rows = harbor_prep.status(p["project"])
            purge = p["purge"] and (bool(rows) or bool(named))
            if p["purge"] and not purge:
                module.warn(f"project {p['project']} has no containers, so where its data is is unknown; "
                            "give config (and out) to purge it")
            if module.check_mode:
                # a purge by configuration would delete what the installation recorded
                result = dict(changed=bool(rows) or (purge and bool(named)),
                              removed=[r.service for r in rows], purged=[], kept=[])
            else:
                down = harbor_prep.down(p["project"], purge=purge, **(named if purge else {}))
                changed = bool(down.removed or down.network_removed or down.purged)
                result = dict(changed=changed, removed=down.removed, purged=down.purged, kept=down.kept)
        except harbor_prep.HarborDeployError as e:
            fail(module, e)
        module.exit_json(**result)

    config_changed = False
    env = False
    if isinstance(config, dict):
        config, config_changed = inline_config(module, config, p["out"], overrides)
    else:
        env = overlay(overrides)
    common = dict(hostname=p["hostname"] if config is None else None, with_trivy=p["with_trivy"],
                  harbor_version=p["harbor_version"], env=env, env_prefix_only=env)

    try:
        if state == "rendered":
            now = parse_now(module, p["now"])
            prepared = harbor_prep.prepare(config, p["out"], root=p["root"], seed_file=p["seed_file"],
                                           now=now, dry_run=module.check_mode, **common)
            for w in prepared.warnings:
                module.warn(w)
            result = dict(changed=config_changed or bool(prepared.changed), files=prepared.changed,
                          prepared=prepared_dict(prepared))
            if module._diff:
                result["diff"] = dict(before="", after=plan_text([], prepared.changed),
                                      after_header="files written")
            module.exit_json(**result)

        if p["root"] != "/":
            module.fail_json(msg="root is only for state=rendered; a deployment takes harbor.yml's paths as they are")
        deploy = dict(project=p["project"], image_prefix=p["image_prefix"], images=p["images"],
                      publish_loopback=p["publish_loopback"], port_offset=p["port_offset"], **common)
        before = ""
        if module._diff:
            before = "".join(f"{r.service}: {r.state}, {r.health}\n" for r in harbor_prep.status(p["project"]))
        if module.check_mode:
            plan = harbor_prep.plan(config, p["out"], **deploy)
            steps, files = plan.steps, plan.files
            result = dict(changed=config_changed or plan.changed, steps=step_dicts(steps), files=files)
        else:
            report = harbor_prep.up(config, p["out"], timeout=float(p["timeout"]), **deploy)
            for w in report.prepared.warnings:
                module.warn(w)
            steps, files = report.steps, report.prepared.changed
            result = dict(changed=config_changed or report.changed, steps=step_dicts(steps), files=files,
                          prepared=prepared_dict(report.prepared))
        if module._diff:
            result["diff"] = dict(before=before, after=plan_text(steps, files),
                                  before_header="engine", after_header="plan")
        module.exit_json(**result)
    except harbor_prep.HarborDeployError as e:
        fail(module, e)
    except (ValueError, OverflowError) as e:
        # an option the library cannot take, such as a time out of range
        module.fail_json(msg=str(e), code="INVALID_INPUT")


if __name__ == "__main__":
    main()
