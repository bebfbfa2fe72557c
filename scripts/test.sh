#!/usr/bin/env bash
# Run every test: unit, integration on real docker and SSH bottles, real agent CLIs, the
# Ansible gates (ansible-lint, ansible-test sanity, molecule, galaxy build) and the
# benchmark in quick mode. Installs and starts what they need first.
#   scripts/test.sh [pytest args]     e.g. scripts/test.sh tests/unit
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH" ANSIBLE_CONFIG="$ROOT/ansible.cfg"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
