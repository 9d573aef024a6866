#!/usr/bin/env bash
# The reference clients the tests check Corolla against, from PyPI, in a virtual environment
# inside the build folder (never the system's Python): huggingface_hub (the Hub cache) and
# openai (the HTTP API).
# Usage: make-pyenv.sh VENV_DIR
set -euo pipefail
venv=$1
packages=("huggingface_hub==2.4.0" "openai==3.57.0")
if [ -x "$venv/bin/python" ] && "$venv/bin/python" - <<'PY' 2>/dev/null
import sys
import huggingface_hub, openai
sys.exit(huggingface_hub.__version__ != "2.4.0" or openai.__version__ != "3.57.0")
PY
then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
"$venv/bin/python" -c "import huggingface_hub, openai; print('huggingface_hub', huggingface_hub.__version__, 'openai', openai.__version__)"
