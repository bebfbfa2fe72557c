"""Real bottles for tests and the benchmark: docker containers and an SSH host.

The SSH bottle is the stand-in for a smolmachines VM reached over SSH: the same rootfs
as the agents image, with sshd running in a chroot inside fresh mount/pid namespaces.
Everything started here is stopped by PID.

No bottle can reach outside this machine: the real agent CLIs open connections of their own.
Docker bottles sit on an internal docker network (they reach this machine's own addresses,
nothing it would forward); each SSH bottle has its own network namespace joined to this
machine by a veth pair on a link-local /30, with no default route.
"""

from __future__ import annotations

import json
import os
import shutil
import secrets
import signal
import subprocess
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
VENV_BIN = ROOT / ".venv" / "bin"
# One bottle image per provider, declared by images/<provider>.npm (scripts/bootstrap.sh builds it).
IMAGES = {p.stem: f"localhost/bot-bottle/{p.stem}:latest" for p in sorted((ROOT / "images").glob("*.npm"))}
AGENTS_IMAGE = "localhost/bot-bottle/agents:latest"
GUEST_HOME = "/home/node"
# The docker network every test bottle joins: internal, so nothing is forwarded off this machine.
TEST_NETWORK = "bbt-internal"
# Name lookups in a bottle fail within a second instead of glibc's 2 x 5 s (internal networks
# answer nothing for outside names), so CLIs probing blocked hosts do not stall the tests.
DNS_OPTIONS = ("--dns-option", "timeout:1", "--dns-option", "attempts:1")


def sh(*argv: str, check: bool = True, **kwargs: t.Any) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kwargs)


class Bottle:
    """A target the playbooks provision; ``exec`` runs a shell command inside it."""

    name: str
    kind: str

    def inventory_vars(self) -> dict[str, t.Any]:
        raise NotImplementedError

    def exec(self, command: str, user: str = "root", check: bool = True, env: dict | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
        raise NotImplementedError

    def read(self, path: str) -> str:
        return self.exec(f"cat {path}").stdout

    def stat(self, path: str) -> tuple[str, str]:
        """(octal mode, user:group) of a path in the bottle."""
        mode, owner = self.exec(f"stat -c '%a %U:%G' {path}").stdout.split()
        return mode, owner

    def system_snapshot(self) -> str:
        """Every path of the bottle's file system with type, mode, owner, size and mtime.

        Left out: the kernel's file systems, and the temp directories Ansible's own module
        payload uses (/tmp, /root/.ansible).
        """
        return self.exec(
            "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp "
            "-o -path /root/.ansible \\) -prune -o -printf '%p %y %m %u:%g %s %T@\\n' | sort"
        ).stdout

    def snapshot(self, root: str = GUEST_HOME) -> str:
        """Every path under root with type, mode, owner, size and checksum: equal means untouched."""
        return self.exec(
            f"cd {root} && find . -printf '%p %y %m %u:%g %s\\n' | sort && "
            f"find . -type f -print0 | sort -z | xargs -0 -r md5sum"
        ).stdout


def internal_network(name: str = TEST_NETWORK) -> str:
    """The internal docker network ``name``, created on first use (a race with another creator is fine)."""
    found = sh("docker", "network", "inspect", "-f", "{{.Internal}}", name, check=False)
    if found.returncode != 0:
        sh("docker", "network", "create", "--internal", "--label", "bot-bottle.test=1", name, check=False)
        found = sh("docker", "network", "inspect", "-f", "{{.Internal}}", name)
    if found.stdout.strip() != "true":
        raise RuntimeError(f"docker network {name} exists but is not internal: remove it (docker network rm {name})")
    return name


def docker_gateway() -> str:
    """The docker bridge address: where host.docker.internal (host-gateway) points, from any network."""
    gateway = sh("docker", "network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}").stdout.strip()
    if not gateway:  # docker does not always record it; docker0 carries it
        gateway = sh("ip", "-4", "-o", "addr", "show", "docker0").stdout.split()[3].split("/")[0]
    return gateway


class DockerBottle(Bottle):
    kind = "docker"

    def __init__(self, image: str, name: str | None = None, network: str = TEST_NETWORK) -> None:
        self.name = name or f"bbt-{uuid.uuid4().hex[:10]}"
        self.image = image
        self.network = network

    def start(self) -> "DockerBottle":
        sh("docker", "run", "-d", "--name", self.name, "--network", internal_network(self.network), *DNS_OPTIONS,
           "--add-host", "host.docker.internal:host-gateway", self.image)
        return self

    def stop(self) -> None:
        sh("docker", "rm", "-f", self.name, check=False)

    def inventory_vars(self) -> dict[str, t.Any]:
        return {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3"}

    def exec(self, command, user="root", check=True, env=None, timeout=120):
        env_args = [a for k, v in (env or {}).items() for a in ("-e", f"{k}={v}")]
        return sh("docker", "exec", "-u", user, *env_args, self.name, "sh", "-c", command, check=check, timeout=timeout)


class NetNs:
    """A network namespace joined to this machine by a veth pair on a link-local /30.

    This machine is ``host_ip`` (.1), the namespace ``ns_ip`` (.2). Without ``default_route`` the
    namespace reaches nothing but ``host_ip``; with it, its traffic goes to this machine (which
    the tests use for a probe listener that a non-isolated container could reach).
    """

    def __init__(self, prefix: str = "bbt", default_route: bool = False) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"{prefix}-{tag}"
        self.host_if, self.ns_if = f"{prefix[:3]}h{tag}", f"{prefix[:3]}n{tag}"
        self.default_route = default_route
        self.host_ip = self.ns_ip = ""

    def create(self) -> "NetNs":
        net = _free_link_local_30()
        self.host_ip, self.ns_ip = _addr_in(net, 1), _addr_in(net, 2)
        sh("ip", "netns", "add", self.name)
        try:
            sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            sh("ip", "link", "set", self.ns_if, "netns", self.name)
            sh("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            sh("ip", "link", "set", self.host_if, "up")
            for argv in (("ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if),
                         ("ip", "link", "set", self.ns_if, "up"), ("ip", "link", "set", "lo", "up")):
                sh("ip", "netns", "exec", self.name, *argv)
            if self.default_route:
                sh("ip", "netns", "exec", self.name, "ip", "route", "add", "default", "via", self.host_ip)
        except BaseException:
            self.delete()
            raise
        return self

    def exec_argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def delete(self) -> None:
        sh("ip", "netns", "del", self.name, check=False)  # takes the veth pair with it
        sh("ip", "link", "del", self.host_if, check=False)


def _addr_in(net: str, offset: int) -> str:
    a, b, c, d = (int(x) for x in net.split("."))
    return f"{a}.{b}.{c}.{d + offset}"


def _free_link_local_30() -> str:
    """The network address of a 169.254.X.Y/30 no interface of this machine uses."""
    used = sh("ip", "-o", "-4", "addr", "show").stdout
    while True:
        net = f"169.254.{secrets.randbelow(150) + 100}.{secrets.randbelow(64) * 4}"
        if f" {net.rsplit('.', 1)[0]}." not in used:
            return net


class SshBottle(Bottle):
    """sshd in a chroot of the agents image's rootfs, in a network namespace of its own.

    The bottle is ``address`` (port ``port``); it names this machine ``host_address``, the only
    address it can reach: fakes it talks to listen there.
    """

    kind = "ssh"

    def __init__(self, rootfs: Path, name: str = "ssh-bottle") -> None:
        self.name = name
        self.rootfs = rootfs
        self.port = 22
        self.key = CACHE / "ssh" / "id_ed25519"
        self.proc: subprocess.Popen | None = None
        self.netns: NetNs | None = None

    @property
    def address(self) -> str:
        assert self.netns is not None, "start() the bottle first"
        return self.netns.ns_ip

    @property
    def host_address(self) -> str:
        assert self.netns is not None, "start() the bottle first"
        return self.netns.host_ip

    @classmethod
    def prepare_rootfs(cls, rootfs: Path) -> Path:
        """Export the agents image into ``rootfs`` once (cached), with host keys and our key."""
        # The stamp holds the image ID: a rebuilt agents image (new CLI versions) is exported anew.
        stamp = rootfs / ".bot-bottle-rootfs"
        image_id = sh("docker", "image", "inspect", "--format", "{{.Id}}", AGENTS_IMAGE).stdout.strip()
        if not stamp.exists() or stamp.read_text() != image_id:
            if rootfs.exists():
                shutil.rmtree(rootfs)
            rootfs.mkdir(parents=True)
            container = sh("docker", "create", AGENTS_IMAGE).stdout.strip()
            try:
                export = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
                subprocess.run(["tar", "-x", "-C", str(rootfs)], stdin=export.stdout, check=True)
                export.wait()
            finally:
                sh("docker", "rm", "-f", container, check=False)
            sh("chroot", str(rootfs), "ssh-keygen", "-A")
            (rootfs / "run" / "sshd").mkdir(parents=True, exist_ok=True)
            stamp.write_text(image_id)
        key = CACHE / "ssh" / "id_ed25519"
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
        ssh_dir = rootfs / "root" / ".ssh"
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
        return rootfs

    def start(self) -> "SshBottle":
        self.netns = NetNs("bbs").create()
        r = str(self.rootfs)
        script = (
            f"mount -t proc proc {r}/proc && mount --rbind /dev {r}/dev && "
            f"mount -t tmpfs tmpfs {r}/tmp && chmod 1777 {r}/tmp && "
            f"exec chroot {r} /usr/sbin/sshd -D -e -p {self.port} -o ListenAddress={self.address}"
        )
        self.proc = subprocess.Popen(
            self.netns.exec_argv("unshare", "--mount", "--pid", "--uts", "--fork", "--kill-child", "sh", "-c", script),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.exec("true", check=False).returncode == 0:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the SSH bottle did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # unshare --fork ignores SIGTERM
            self.proc.wait(timeout=10)
        self.proc = None
        if self.netns is not None:
            self.netns.delete()

    def reset_home(self) -> None:
        """A fresh bottle user home (the state provisioning touches)."""
        home = self.rootfs / GUEST_HOME.lstrip("/")
        if home.exists():
            shutil.rmtree(home)
        shutil.copytree(self.rootfs / "etc" / "skel", home)
        for path in [home, *home.rglob("*")]:
            os.lchown(path, 1000, 1000)
        home.chmod(0o755)

    def ssh_args(self) -> list[str]:
        return ["-i", str(self.key), "-p", str(self.port), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"]

    def inventory_vars(self) -> dict[str, t.Any]:
        return {
            "ansible_connection": "ssh", "ansible_host": self.address, "ansible_port": self.port,
            "ansible_user": "root", "ansible_ssh_private_key_file": str(self.key),
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def exec(self, command, user="root", check=True, env=None, timeout=120):
        if user != "root":
            command = f"su {user} -s /bin/sh -c {_quote(command)}"
        prefix = " ".join(f"{k}={_quote(v)}" for k, v in (env or {}).items())
        full = f"{prefix} {command}" if prefix and user == "root" else command
        if prefix and user != "root":
            full = f"env {prefix} {command}"
        return sh("ssh", *self.ssh_args(), f"root@{self.address}", full, check=check, timeout=timeout)


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(str(value))


# -- running playbooks --------------------------------------------------------------


class PlaybookRun(t.NamedTuple):
    rc: int
    stdout: str
    stderr: str
    stats: dict[str, dict[str, int]]
    results: dict[str, list[dict]]  # host -> task results, in order

    def changed(self, host: str) -> int:
        return self.stats.get(host, {}).get("changed", 0)

    def failed_msgs(self) -> list[str]:
        return [r.get("msg", "") for rs in self.results.values() for r in rs if r.get("failed")]


def ansible_env(extra: dict[str, str] | None = None, bin_dir: Path = VENV_BIN) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{bin_dir}:{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(CACHE / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    env.update(extra or {})
    return env


def write_inventory(path: Path, hosts: dict[str, dict[str, t.Any]], group: str = "bottles") -> Path:
    path.write_text(yaml.safe_dump({group: {"hosts": hosts}}, sort_keys=True))
    return path


def run_playbook(inventory: Path, *args: str, playbook: Path | str = ROOT / "playbooks" / "provision.yml",
                 json_output: bool = True, env: dict[str, str] | None = None,
                 timeout: float = 600, bin_dir: Path = VENV_BIN) -> PlaybookRun:
    """Run a playbook with the ansible-core in ``bin_dir`` (the project venv by default)."""
    extra = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"} if json_output else {}
    extra.update(env or {})
    proc = subprocess.run(
        [str(bin_dir / "ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        capture_output=True, text=True, env=ansible_env(extra, bin_dir), cwd=str(ROOT), timeout=timeout, check=False,
    )
    stats: dict = {}
    results: dict = {}
    if json_output:
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            data = {}
        stats = data.get("stats", {})
        for play in data.get("plays", []):
            for task in play.get("tasks", []):
                for host, result in task.get("hosts", {}).items():
                    results.setdefault(host, []).append(dict(result, _task=task["task"]["name"]))
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, stats, results)


EXAMPLES = ROOT / "examples"
SUPERVISE_URL = "http://host.docker.internal:8811/mcp"


def role_vars(bottle: Bottle, provider: str, tmp_path: Path, **extra: t.Any) -> dict[str, t.Any]:
    """Host vars for a full provisioning of ``bottle``: skills, prompt, MCP, trust, result file."""
    return {
        **bottle.inventory_vars(),
        "agent_provider": provider,
        "agent_state_dir": str(tmp_path / "state"),
        "agent_skills": ["review"],
        "agent_skills_root": str(EXAMPLES / "skills"),
        "agent_prompt_file": str(EXAMPLES / "prompt.md"),
        "agent_supervise_url": SUPERVISE_URL,
        "agent_trusted_project_path": GUEST_HOME,
        "agent_result_file": str(tmp_path / "result.json"),
        **extra,
    }


def tmpdir(prefix: str = "bbt-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
