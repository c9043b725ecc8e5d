#!/usr/bin/env bash
# The layering contracts (pyproject.toml [tool.importlinter]) on graphstage as installed: the
# folders only become graphstage.tracers / graphstage.viz in the wheel, so lint-imports reads a
# throwaway install of it (tests/test_package.py runs the same check in the test suite).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$root/build"' EXIT
"$root/.venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$tmp/wheel" . >/dev/null 2>&1
"$root/.venv/bin/python" -m pip install -q --no-deps --target "$tmp/site" "$tmp"/wheel/*.whl
cd "$tmp/site"
PYTHONPATH="$tmp/site" "$root/.venv/bin/lint-imports" --no-cache "$root/pyproject.toml"
