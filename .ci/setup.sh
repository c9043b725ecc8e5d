#!/usr/bin/env bash
# Set up graphstage on a fresh machine: system packages (Graphviz, Xvfb, Qt's xcb libraries)
# where missing, then a virtual environment with the pinned Python packages. Idempotent: a second
# run with nothing changed takes a second.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
APT_PACKAGES=(graphviz xvfb libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1
  libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-xfixes0
  libegl1 libgl1 libfontconfig1 libdbus-1-3)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "setup: installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  else
    echo "setup: cannot install ${missing[*]} (not root, no sudo); graphviz-pure stands in" \
         "for Graphviz, but the GUI needs Qt's xcb libraries and the screenshot tests Xvfb" >&2
  fi
fi

"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "graphstage needs Python >= 3.11"'
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp="$VENV/.graphstage-installed"
want=$(cat pyproject.toml .ci/constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into $VENV (torch, tensorflow-cpu, PySide6, ...)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c .ci/constraints.txt -e ".[all,dev]"
  echo "$want" > "$stamp"
fi
echo "setup: ready ($("$VENV/bin/python" -c 'import graphstage.viz.graphviz as g; print("Graphviz engine:", g.find_engine().describe())'))"
