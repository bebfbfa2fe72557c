#!/usr/bin/env bash
# Provision a demo Claude Code bottle on the local docker engine and print what it got.
#   scripts/demo.sh [claude|codex]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROVIDER=${1:-claude}
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH" ANSIBLE_CONFIG="$ROOT/ansible.cfg"
NAME=${BOT_BOTTLE_DEMO_NAME:-bot-bottle-demo-$PROVIDER}   # the container (tests name their own)
# An internal network: the bottle reaches this machine, never the outside on its own.
NETWORK=${BOT_BOTTLE_DEMO_NETWORK:-bot-bottle-internal}
if ! docker network inspect "$NETWORK" >/dev/null 2>&1; then
  docker network create --internal "$NETWORK" >/dev/null
fi
if [ -z "$(docker ps -q --filter "name=^$NAME\$")" ]; then
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker run -d --name "$NAME" --network "$NETWORK" "localhost/bot-bottle/$PROVIDER:latest" >/dev/null
fi
STATE="$ROOT/.cache/demo"
mkdir -p "$STATE"
ansible-playbook -i playbooks/inventory/demo.yml playbooks/provision.yml \
  -e "demo_bottle=$NAME agent_provider=$PROVIDER agent_result_file=$STATE/$NAME.json agent_state_dir=$STATE/$NAME"
echo "--- machine-readable result ($STATE/$NAME.json):"
cat "$STATE/$NAME.json"
echo "--- try it: docker exec -it -u node $NAME /home/node/.bot-bottle/$PROVIDER/launch"
echo "    (the bottle is on the internal docker network $NETWORK: it has no route off this machine)"
