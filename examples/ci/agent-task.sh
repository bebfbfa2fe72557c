#!/usr/bin/env bash
# One CI job: start a bottle, provision its agent, run the agent headless on a task through the
# role's launcher, and keep the machine-readable result and the agent's output as artifacts.
# The workflow files next to this one only call it.
#
# Needs: docker, ansible-playbook with bot_bottle.agents and community.docker installed, the
# bottle image. Inputs, from the environment:
#   AGENT_TASK       what the agent is asked to do (required)
#   AGENT_PROVIDER   claude | codex | gemini (default claude)
#   AGENT_VARS       a YAML file of more agent_* variables: the credential from the CI's secret
#                    store, agent_egress, agent_base_url, skills, settings... (optional)
#   BOTTLE_IMAGE     default localhost/bot-bottle/$AGENT_PROVIDER:latest
#   BOTTLE_NETWORK   the bottle's docker network (default bot-bottle-internal, created --internal)
#   BOTTLE_USER      the bottle user the agent runs as (default node)
#   ARTIFACTS        where result.json, agent-output.txt and agent-stderr.txt go (default ./artifacts)
#   EGRESS_VARS      a YAML file of more egress_* variables for the job's egress proxy (optional)
# The job runs its own egress proxy (bot_bottle.agents.egress): the bottle holds a placeholder and
# the proxy, outside it, puts the real credential on the API requests.
# Exit status: the agent's (the provisioning's when it failed).
set -euo pipefail
: "${AGENT_TASK:?set AGENT_TASK to what the agent should do}"
PROVIDER=${AGENT_PROVIDER:-claude}
IMAGE=${BOTTLE_IMAGE:-localhost/bot-bottle/$PROVIDER:latest}
NETWORK=${BOTTLE_NETWORK:-bot-bottle-internal}
USER_IN_BOTTLE=${BOTTLE_USER:-node}
mkdir -p "${ARTIFACTS:=artifacts}"
ARTIFACTS=$(cd "$ARTIFACTS" && pwd)
NAME="agent-ci-$PROVIDER-$$"
PROXY="agent-ci-egress-$$"
WORK=$(mktemp -d)
trap 'docker rm -f "$NAME" "$PROXY" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

# An internal network: the bottle's only ways out are the machine it runs on and the egress proxy.
docker network inspect "$NETWORK" >/dev/null 2>&1 || docker network create --internal "$NETWORK" >/dev/null
ansible-playbook bot_bottle.agents.egress -e "egress_name=$PROXY egress_network=$NETWORK egress_dir=$WORK/egress" \
  -e "{\"egress_credential_dirs\": [\"$WORK\"]}" ${EGRESS_VARS:+-e "@$EGRESS_VARS"} >"$WORK/egress.log" \
  || { cat "$WORK/egress.log"; exit 1; }
docker run -d --name "$NAME" --network "$NETWORK" --add-host host.docker.internal:host-gateway "$IMAGE" >/dev/null

cat >"$WORK/inventory.yml" <<YAML
bottles:
  hosts:
    $NAME:
      ansible_connection: community.docker.docker
      ansible_python_interpreter: /usr/bin/python3
      agent_provider: $PROVIDER
      agent_state_dir: $WORK/state
      agent_result_file: $ARTIFACTS/result.json
      agent_egress: {dir: $WORK/egress}
YAML
ansible-playbook -i "$WORK/inventory.yml" bot_bottle.agents.provision ${AGENT_VARS:+-e "@$AGENT_VARS"}

LAUNCHER=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["launcher"])' "$ARTIFACTS/result.json")
status=0
docker exec -u "$USER_IN_BOTTLE" "$NAME" "$LAUNCHER" --headless "$AGENT_TASK" \
  >"$ARTIFACTS/agent-output.txt" 2>"$ARTIFACTS/agent-stderr.txt" || status=$?
echo "agent exit status $status; artifacts in $ARTIFACTS"
exit "$status"
