#!/usr/bin/env bash
# Install and start everything the collection, its demo and its tests need, on a fresh
# Debian 12 machine (root). Idempotent and cached under .cache/: a second run takes seconds.
#
#   scripts/bootstrap.sh            everything (venv, collections, CLIs, docker engine, images)
#   BOOTSTRAP_IMAGES=0 ...          skip the bottle images (unit tests only)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE="$ROOT/.cache"
VENV="$ROOT/.venv"
OLDEST_ANSIBLE_CORE=2.17.14      # the oldest ansible-core we support, tested in its own venv
EGRESS_MITMPROXY_VERSION=11.0.2  # the egress proxy engine: the newest mitmproxy on Python 3.11
ANSIBLE_BUNDLE_VERSION=12.3.0      # carries community.docker (no Galaxy needed)
CLAUDE_VERSION=2.1.332
CODEX_VERSION=0.169.0
BASE_IMAGE=localhost/bot-bottle/base:bookworm
mkdir -p "$CACHE"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

apt_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v ssh >/dev/null || missing+=(openssh-client)
  command -v tmux >/dev/null || missing+=(tmux)
  command -v unshare >/dev/null || missing+=(util-linux)
  command -v npm >/dev/null || missing+=(npm)
  # Test bottles live in network namespaces (ip netns, veth); the isolation test probes with curl.
  command -v ip >/dev/null || missing+=(iproute2)
  command -v curl >/dev/null || missing+=(curl)
  if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

python_env() {
  if [ ! -x "$VENV/bin/ansible-playbook" ] || ! cmp -s "$ROOT/requirements.txt" "$VENV/.requirements.txt"; then
    log "python venv ($VENV)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements.txt"
    cp "$ROOT/requirements.txt" "$VENV/.requirements.txt"
  fi
}

oldest_core_env() {
  # The compatibility test runs the provision playbook with the oldest supported ansible-core.
  # tomlkit: the collection's own controller dependency (Codex config edits).
  local venv="$CACHE/venv-ansible-core-$OLDEST_ANSIBLE_CORE" packages="ansible-core==$OLDEST_ANSIBLE_CORE tomlkit"
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$packages" ]; then
    log "$packages venv ($venv)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086  # one word per package
    "$venv/bin/pip" install -q --disable-pip-version-check $packages
    echo "$packages" >"$venv/.installed"
  fi
}

collections() {
  # community.docker (+ its dependency) and ansible.posix (json callback), taken from the `ansible` bundle on PyPI.
  local dest="$CACHE/collections/ansible_collections"
  if [ ! -f "$dest/community/docker/MANIFEST.json" ] || [ ! -f "$dest/ansible/posix/MANIFEST.json" ]; then
    log "community.docker from ansible==$ANSIBLE_BUNDLE_VERSION"
    local dl="$CACHE/downloads"
    mkdir -p "$dl" "$dest"
    "$VENV/bin/pip" download -q --no-deps -d "$dl" "ansible==$ANSIBLE_BUNDLE_VERSION"
    "$VENV/bin/python" - "$dl/ansible-$ANSIBLE_BUNDLE_VERSION-py3-none-any.whl" "$CACHE/collections" <<'PY'
import sys, zipfile
wanted = tuple(f"ansible_collections/{c}/" for c in ("community/docker", "community/library_inventory_filtering_v1", "ansible/posix"))
with zipfile.ZipFile(sys.argv[1]) as wheel:
    wheel.extractall(sys.argv[2], [n for n in wheel.namelist() if n.startswith(wanted)])
PY
  fi
  mkdir -p "$dest/bot_bottle"
  ln -sfn "$ROOT" "$dest/bot_bottle/agents"
}

agent_clis() {
  local npmdir="$CACHE/npm"
  if [ ! -x "$npmdir/node_modules/.bin/claude" ] || [ ! -f "$npmdir/.versions-$CLAUDE_VERSION-$CODEX_VERSION" ]; then
    log "npm install claude-code@$CLAUDE_VERSION codex@$CODEX_VERSION"
    rm -rf "$npmdir" && mkdir -p "$npmdir"
    npm install --silent --no-audit --no-fund --prefix "$npmdir" \
      "@anthropic-ai/claude-code@$CLAUDE_VERSION" "@openai/codex@$CODEX_VERSION" >/dev/null 2>&1
    touch "$npmdir/.versions-$CLAUDE_VERSION-$CODEX_VERSION"
  fi
  # Build context: the self-contained binaries only (Node is not needed in a bottle).
  local ctx="$CACHE/image-context"
  if [ ! -f "$ctx/.staged-$CLAUDE_VERSION-$CODEX_VERSION" ]; then
    rm -rf "$ctx" && mkdir -p "$ctx"
    ln "$npmdir/node_modules/@anthropic-ai/claude-code-linux-x64/claude" "$ctx/claude" 2>/dev/null \
      || cp "$npmdir/node_modules/@anthropic-ai/claude-code-linux-x64/claude" "$ctx/claude"
    cp -al "$npmdir/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl" "$ctx/codex-vendor" 2>/dev/null \
      || cp -a "$npmdir/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl" "$ctx/codex-vendor"
    touch "$ctx/.staged-$CLAUDE_VERSION-$CODEX_VERSION"
  fi
  cp "$ROOT"/images/*.Dockerfile "$ctx/"
}

docker_engine() {
  if docker info >/dev/null 2>&1; then return; fi
  log "starting dockerd"
  nohup dockerd >"$CACHE/dockerd.log" 2>&1 &
  echo $! >"$CACHE/dockerd.pid"
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 0.5; done
  log "dockerd did not start; see $CACHE/dockerd.log"; exit 1
}

base_rootfs() {
  # A minimal Debian rootfs with python3 and sshd: the base of every bottle (no registry).
  if [ ! -f "$CACHE/bottle-rootfs.tar" ]; then
    rm -rf "$CACHE/bottle-rootfs.tar" "$CACHE/bottle-rootfs.tar.part"
    log "mmdebstrap bookworm rootfs"
    local mirror
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    mmdebstrap --quiet --format=tar --variant=minbase --include=python3,sudo,openssh-server,ca-certificates,tmux \
      bookworm "$CACHE/bottle-rootfs.tar.part" "${mirror:-http://deb.debian.org/debian}"
    mv "$CACHE/bottle-rootfs.tar.part" "$CACHE/bottle-rootfs.tar"
  fi
}

egress_env() {
  # mitmproxy does not co-install with .venv: its own venv runs the loopback proxy tests and
  # stages the egress image's site-packages.
  local venv="$CACHE/venv-egress" version
  # Captured first: `mitmdump --version | grep -q` fails under pipefail when grep exits early.
  version=$("$venv/bin/mitmdump" --version 2>/dev/null || true)
  if ! grep -qx "Mitmproxy: $EGRESS_MITMPROXY_VERSION" <<<"$version"; then
    log "mitmproxy==$EGRESS_MITMPROXY_VERSION venv ($venv)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "mitmproxy==$EGRESS_MITMPROXY_VERSION"
  fi
}

egress_image() {
  # The egress proxy image (images/egress.Dockerfile): mitmproxy's site-packages staged here on
  # the host (the build has no network), plus the addon; rebuilt when either or the Dockerfile changes.
  local ctx="$CACHE/egress-context" image=localhost/bot-bottle/egress:latest
  local staged="$ctx/.staged-mitmproxy-$EGRESS_MITMPROXY_VERSION" stamp="$ctx/.built-egress"
  if [ ! -f "$staged" ]; then
    log "stage mitmproxy==$EGRESS_MITMPROXY_VERSION for $image"
    rm -rf "$ctx" && mkdir -p "$ctx"
    "$CACHE/venv-egress/bin/pip" install -q --disable-pip-version-check --no-compile \
      --target "$ctx/egress-site" "mitmproxy==$EGRESS_MITMPROXY_VERSION"
    touch "$staged"
  fi
  cmp -s "$ROOT/images/egress.Dockerfile" "$ctx/egress.Dockerfile" || cp "$ROOT/images/egress.Dockerfile" "$ctx/"
  cmp -s "$ROOT/roles/egress/files/bot_bottle_egress.py" "$ctx/bot_bottle_egress.py" \
    || cp "$ROOT/roles/egress/files/bot_bottle_egress.py" "$ctx/"
  if docker image inspect "$image" >/dev/null 2>&1 && [ "$stamp" -nt "$ctx/egress.Dockerfile" ] \
    && [ "$stamp" -nt "$ctx/bot_bottle_egress.py" ] && [ "$stamp" -nt "$staged" ]; then
    return
  fi
  log "docker build $image"
  docker build -q -t "$image" -f "$ctx/egress.Dockerfile" "$ctx" >/dev/null
  touch "$stamp"
}

images() {
  if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "docker import $BASE_IMAGE"
    docker import "$CACHE/bottle-rootfs.tar" "$BASE_IMAGE" >/dev/null
  fi
  local name stamp
  for name in claude codex agents; do
    stamp="$CACHE/image-context/.built-$name"
    if docker image inspect "localhost/bot-bottle/$name:latest" >/dev/null 2>&1 \
      && [ "$stamp" -nt "$ROOT/images/$name.Dockerfile" ] \
      && [ "$stamp" -nt "$CACHE/image-context/.staged-$CLAUDE_VERSION-$CODEX_VERSION" ] \
      && { [ "$name" != agents ] || [ "$stamp" -nt "$CACHE/image-context/.built-claude" ]; }; then
      continue
    fi
    log "docker build localhost/bot-bottle/$name:latest"
    docker build -q -t "localhost/bot-bottle/$name:latest" -f "$CACHE/image-context/$name.Dockerfile" \
      "$CACHE/image-context" >/dev/null
    touch "$stamp"
  done
}

apt_packages
python_env
collections
oldest_core_env
if [ "${BOOTSTRAP_IMAGES:-1}" = 1 ]; then
  agent_clis
  docker_engine
  base_rootfs
  egress_env
  images
  egress_image
fi
log "ready"
