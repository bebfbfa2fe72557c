#!/usr/bin/env bash
# Provision a demo Claude Code bottle on the local docker engine, behind the egress proxy, and
# print what it got. With ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN (claude) or OPENAI_API_KEY
# (codex) exported, the agent in the bottle talks to the real API with the key outside the bottle.
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
# The egress proxy: the only way out of the bottle; it holds the real key, the bottle a placeholder.
EGRESS_DIR="$STATE/egress"
ansible-playbook playbooks/egress.yml -e "egress_name=bot-bottle-egress-demo egress_network=$NETWORK" \
  -e "egress_dir=$EGRESS_DIR" -e "{\"egress_credential_dirs\": [\"$STATE\"]}" >"$STATE/egress.log" \
  || { cat "$STATE/egress.log"; exit 1; }
# A real credential from this shell, if there is one: in a 0600 vars file, never on a command line.
case "$PROVIDER" in
  claude) TOKEN=${ANTHROPIC_API_KEY:-${CLAUDE_CODE_OAUTH_TOKEN:-}}; WANTED="ANTHROPIC_API_KEY (or CLAUDE_CODE_OAUTH_TOKEN)" ;;
  *) TOKEN=${OPENAI_API_KEY:-}; WANTED="OPENAI_API_KEY" ;;
esac
SECRETS="$STATE/$NAME.auth.json"
( umask 077; TOKEN="$TOKEN" python3 -c 'import json, os; print(json.dumps({"agent_auth_token": os.environ["TOKEN"]}))' >"$SECRETS" )
ansible-playbook -i playbooks/inventory/demo.yml playbooks/provision.yml -l "demo-$PROVIDER" -e "@$SECRETS" \
  -e "demo_bottle=$NAME agent_result_file=$STATE/$NAME.json agent_state_dir=$STATE/$NAME" \
  -e "{\"agent_egress\": {\"dir\": \"$EGRESS_DIR\"}}"
rm -f "$SECRETS"
echo "--- machine-readable result ($STATE/$NAME.json):"
cat "$STATE/$NAME.json"
echo "--- try it: docker exec -it -u node $NAME /home/node/.bot-bottle/$PROVIDER/launch"
echo "    (the bottle is on the internal docker network $NETWORK: its only way out is the egress proxy"
echo "     bot-bottle-egress-demo, which puts the real credential on requests to the API)"
if [ -z "$TOKEN" ]; then
  echo "--- no credential in this shell: export $WANTED and run scripts/demo.sh $PROVIDER again;"
  echo "    it stays on this machine (the bottle gets a placeholder)"
fi
