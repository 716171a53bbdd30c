#!/usr/bin/env bash
# Set up clm on a machine that has Python 3.11: uv, then the locked environment in .venv.
# With --tests, also what the tests need beyond Python: Debian's Chromium and a Chinese font
# (the driver-report render check) and a Java runtime (Spark in local mode).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check uv==0.13.8
# .pyc files written once here: where PYTHONDONTWRITEBYTECODE is set (as on our CI machines) every
# process would otherwise compile MLflow, pandas, scikit-learn ... from source at each start
# (importing the scorer: 11 s -> 4 s; every pipeline stage, test process and `clm` command)
python3 -m uv sync --frozen --compile-bytecode

if [[ "${1:-}" == "--tests" ]]; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  # a font with Chinese glyphs, so the bilingual driver report renders its Chinese
  [[ -n "$(fc-list :lang=zh 2>/dev/null)" ]] || missing+=(fonts-wqy-microhei)
  if ((${#missing[@]})); then
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi
