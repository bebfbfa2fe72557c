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
BASE_IMAGE=localhost/bot-bottle/base:bookworm
mkdir -p "$CACHE"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

# The bottle images: images/<provider>.npm (pinned npm specs) + images/<provider>.Dockerfile
# build localhost/bot-bottle/<provider>:latest; see images/README.md.
PROVIDERS=()
for list in "$ROOT"/images/*.npm; do
  if [ -e "$list" ]; then PROVIDERS+=("$(basename "$list" .npm)"); fi
done
for p in "${PROVIDERS[@]}"; do
  case "$p" in
    agents | base | egress | *[!a-z0-9_.-]*) log "images/$p.npm: reserved or invalid image name"; exit 1 ;;
  esac
done

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

provider_contexts() {
  # One build context per provider: images/<provider>.npm lists the pinned npm specs its image
  # needs, installed into .cache/image-context/<provider>/ and redone only when the specs change.
  if [ -d "$CACHE/npm" ]; then  # the former shared layout: ~800 MB nothing reads any more
    rm -rf "$CACHE/npm" "$CACHE/image-context"
  fi
  local p list ctx specs sum
  for p in "${PROVIDERS[@]}"; do
    list="$ROOT/images/$p.npm" ctx="$CACHE/image-context/$p"
    mapfile -t specs < <(awk '$1 !~ /^#/ && NF {print $1}' "$list")
    sum=$(printf '%s\n' "${specs[@]}" | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$ctx/.npm-sha256" 2>/dev/null)" = "$sum" ]; then continue; fi
    rm -rf "$ctx.part" && mkdir -p "$ctx.part"
    if ((${#specs[@]})); then
      log "npm install ${specs[*]}"
      # --ignore-scripts: no package code runs on this machine; the Dockerfiles copy plain files.
      npm install --loglevel=error --ignore-scripts --no-audit --no-fund --prefix "$ctx.part" "${specs[@]}" >/dev/null
    fi
    echo "$sum" >"$ctx.part/.npm-sha256"
    rm -rf "$ctx" && mv "$ctx.part" "$ctx"
  done
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
  if built "$stamp" "$image" && [ "$stamp" -nt "$ctx/egress.Dockerfile" ] \
    && [ "$stamp" -nt "$ctx/bot_bottle_egress.py" ] && [ "$stamp" -nt "$staged" ]; then
    return
  fi
  log "docker build $image"
  docker build -q -t "$image" -f "$ctx/egress.Dockerfile" "$ctx" >/dev/null
  record "$stamp" "$image"
}

# The stamp of an image holds the ID this checkout built: another checkout on the same docker
# engine that rebuilt the tag (a CI clone, say) makes it stale, so the image is built again here.
built() { [ -n "$(cat "$1" 2>/dev/null)" ] && [ "$(docker image inspect --format '{{.Id}}' "$2" 2>/dev/null)" = "$(cat "$1")" ]; }
record() { docker image inspect --format '{{.Id}}' "$2" >"$1"; }

images() {
  if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "docker import $BASE_IMAGE"
    docker import "$CACHE/bottle-rootfs.tar" "$BASE_IMAGE" >/dev/null
  fi
  local p ctx stamp
  for p in "${PROVIDERS[@]}"; do
    # The Dockerfile is copied only when it differs: its mtime then says "content changed".
    ctx="$CACHE/image-context/$p" stamp="$CACHE/image-context/$p/.built"
    cmp -s "$ROOT/images/$p.Dockerfile" "$ctx/Dockerfile" || cp "$ROOT/images/$p.Dockerfile" "$ctx/Dockerfile"
    if built "$stamp" "localhost/bot-bottle/$p:latest" \
      && [ "$stamp" -nt "$ctx/Dockerfile" ] && [ "$stamp" -nt "$ctx/.npm-sha256" ]; then
      continue
    fi
    log "docker build localhost/bot-bottle/$p:latest"
    docker build -q -t "localhost/bot-bottle/$p:latest" "$ctx" >/dev/null
    record "$stamp" "localhost/bot-bottle/$p:latest"
  done
  agents_image
}

agents_image() {
  # Every provider in one image: the rootfs of the SSH bottle used by the tests and the benchmark.
  # Generic by the images' convention: files under /opt/bot-bottle/<provider>, commands in /usr/local/bin.
  local ctx="$CACHE/image-context/agents" image=localhost/bot-bottle/agents:latest p fresh=1
  local stamp="$CACHE/image-context/agents/.built"
  mkdir -p "$ctx"
  {
    echo "# Generated by scripts/bootstrap.sh from images/*.npm."
    echo "FROM $BASE_IMAGE"
    echo "RUN useradd --create-home --shell /bin/bash --uid 1000 --user-group node"
    echo "RUN command -v tmux >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \\"
    echo "    apt-get install -y -qq --no-install-recommends tmux >/dev/null && rm -rf /var/lib/apt/lists/*)"
    for p in "${PROVIDERS[@]}"; do
      echo "COPY --from=localhost/bot-bottle/$p:latest /opt/bot-bottle/$p /opt/bot-bottle/$p"
      echo "COPY --from=localhost/bot-bottle/$p:latest /usr/local/bin/ /usr/local/bin/"
    done
    echo 'CMD ["sleep", "infinity"]'
  } >"$ctx/Dockerfile.new"
  if cmp -s "$ctx/Dockerfile.new" "$ctx/Dockerfile"; then rm "$ctx/Dockerfile.new"; else mv "$ctx/Dockerfile.new" "$ctx/Dockerfile"; fi
  if ! built "$stamp" "$image" || [ ! "$stamp" -nt "$ctx/Dockerfile" ]; then fresh=0; fi
  for p in "${PROVIDERS[@]}"; do
    if [ ! "$stamp" -nt "$CACHE/image-context/$p/.built" ]; then fresh=0; fi
  done
  if ((fresh)); then return; fi
  log "docker build $image"
  docker build -q -t "$image" "$ctx" >/dev/null
  record "$stamp" "$image"
}

apt_packages
python_env
collections
oldest_core_env
if [ "${BOOTSTRAP_IMAGES:-1}" = 1 ]; then
  provider_contexts
  docker_engine
  base_rootfs
  egress_env
  images
  egress_image
fi
log "ready"
