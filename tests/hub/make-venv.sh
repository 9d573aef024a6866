#!/usr/bin/env bash
# The reference client the download tests check the cache against: huggingface_hub from PyPI,
# in a virtual environment inside the build folder (never the system's Python).
# Usage: make-venv.sh VENV_DIR
set -euo pipefail
venv=$1
version=2.4.0
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import huggingface_hub, sys; sys.exit(huggingface_hub.__version__ != '$version')" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "huggingface_hub==$version"
"$venv/bin/python" -c "import huggingface_hub; print('huggingface_hub', huggingface_hub.__version__)"
