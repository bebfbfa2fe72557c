#!/usr/bin/env bash
# Provision a demo agent bottle (Claude Code by default) on the local docker engine, behind the
# egress proxy, and print what it got. With the CLI's usual credential variable exported
# (ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN for claude, OPENAI_API_KEY for codex, GEMINI_API_KEY
# for gemini), the agent in the bottle talks to the real API with the key outside the bottle.
#   scripts/demo.sh [PROVIDER]     (any provider in plugins/plugin_utils/contrib)
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
# The bottle's inventory entry (the group's vars are in playbooks/inventory/demo.yml) and a real
# credential from this shell, if there is one, under the variable names the provider says its
# users keep it in: in 0600 files, never on a command line.
SECRETS="$STATE/$NAME.auth.json"
WANTED=$( umask 077; PYTHONPATH="$ROOT/.cache/collections" python3 - "$PROVIDER" "$NAME" "$STATE/$NAME.inventory.yml" "$SECRETS" <<'PY'
import json, os, sys
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import get_provider
provider, container, inventory, secrets = sys.argv[1:]
names = get_provider(provider).credential_env_names
with open(inventory, "w") as out:
    json.dump({"bottles": {"hosts": {f"demo-{provider}": {"agent_provider": provider, "ansible_host": container}}}}, out)
with open(secrets, "w") as out:
    json.dump({"agent_auth_token": next((os.environ[n] for n in names if os.environ.get(n)), "")}, out)
print(" or ".join(names))
PY
) || { echo "scripts/demo.sh: no provider '$PROVIDER' (see plugins/plugin_utils/contrib)" >&2; exit 2; }
TOKEN=$(python3 -c 'import json, sys; print("set" if json.load(open(sys.argv[1]))["agent_auth_token"] else "")' "$SECRETS")
ansible-playbook -i playbooks/inventory/demo.yml -i "$STATE/$NAME.inventory.yml" playbooks/provision.yml \
  -l "demo-$PROVIDER" -e "@$SECRETS" \
  -e "agent_result_file=$STATE/$NAME.json agent_state_dir=$STATE/$NAME" \
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
