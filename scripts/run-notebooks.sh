#!/usr/bin/env bash
# Executes the notebooks in notebooks/ headless with Debian's system Python (/usr/bin/python3,
# whatever python3 comes first on PATH), each against a built moesim.
#
#   scripts/run-notebooks.sh [--in-place] [--moesim PATH] [NOTEBOOK.ipynb ...]
#
# Without --in-place (the CTest test `notebooks`) each notebook runs into a temporary folder and the
# committed outputs are left alone; a notebook that raises fails the run. With --in-place the
# outputs are written back into the notebooks (to refresh the committed figures). Default: every
# notebooks/*.ipynb and build/release/moesim. When the Python packages are missing
# (scripts/install-notebook-deps.sh installs them) it exits 77, which CTest reports as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

in_place=0
moesim=build/release/moesim
notebooks=()
while (($#)); do
  case "$1" in
    --in-place) in_place=1 ;;
    --moesim) moesim="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) notebooks+=("$1") ;;
  esac
  shift
done
if ((${#notebooks[@]} == 0)); then notebooks=(notebooks/*.ipynb); fi

python=/usr/bin/python3
if ! "$python" -c 'import nbconvert, ipykernel, matplotlib, pandas' 2>/dev/null; then
  echo "notebooks: skipped: $python lacks nbconvert, ipykernel, matplotlib or pandas;" \
    "scripts/install-notebook-deps.sh installs them (python3-matplotlib python3-pandas" \
    "jupyter-nbconvert python3-ipykernel)"
  exit 77
fi
if [[ ! -x "$moesim" ]]; then
  echo "notebooks: no moesim executable at $moesim (build it with scripts/moesim.sh, or --moesim PATH)" >&2
  exit 1
fi
export MOESIM
MOESIM="$(cd "$(dirname "$moesim")" && pwd)/$(basename "$moesim")"
# The kernel must be the system Python's too: its kernel spec first, /usr/bin first on PATH.
export JUPYTER_PATH=/usr/share/jupyter PATH="/usr/bin:$PATH"
export PYDEVD_DISABLE_FILE_VALIDATION=1

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for nb in "${notebooks[@]}"; do
  start=$SECONDS
  if ((in_place)); then
    target=(--inplace)
  else
    target=(--output-dir "$out")
  fi
  "$python" -m nbconvert --to notebook --execute "${target[@]}" \
    --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 "$nb"
  echo "notebooks: $nb executed in $((SECONDS - start)) s"
done
