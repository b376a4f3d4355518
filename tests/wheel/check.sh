#!/usr/bin/env bash
# The built wheel, installed with its declared dependencies only into an empty venv, must work:
# a dependency missing from pyproject.toml or a data file missing from the wheel fails here.
# Usage: tests/wheel/check.sh PYTHON WORKDIR   (run from the repository root)
set -euo pipefail
python=${1:-python3}
work=${2:-var/check-wheel}
repo=$(pwd)
rm -rf build "$work"  # a stale build/ would put deleted modules into the wheel
mkdir -p "$work/dist" "$work/run"
work=$(cd "$work" && pwd)
"$python" -m pip wheel -q --no-deps -w "$work/dist" . 2>"$work/build.log" || { cat "$work/build.log"; exit 1; }
# Warnings are errors here as in pytest: setuptools announces removals (e.g. the license table) this way.
if grep -q "Warning" "$work/build.log"; then
    cat "$work/build.log"; echo "check-wheel: the build warned (above)"; exit 1
fi
rm -rf build
wheel=$(ls "$work"/dist/collbot-*.whl)

# Templates and static files under bot/ must ship in the wheel.
"$python" - "$wheel" <<'PY'
import pathlib, sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
wanted = [p.as_posix() for d in ("templates", "static") for p in pathlib.Path("bot").glob(f"**/{d}/**/*")
          if p.is_file() and "__pycache__" not in p.parts]
missing = [p for p in wanted if p not in names]
if missing:
    sys.exit(f"check-wheel: not in the wheel: {', '.join(missing)}")
print(f"check-wheel: {len(names)} files in {pathlib.Path(sys.argv[1]).name}, {len(wanted)} templates/static")
PY

"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel[models]" 2>"$work/install.log" || { cat "$work/install.log"; exit 1; }
cd "$work/run"
clean=(env -i "PATH=$work/venv/bin:/usr/bin:/bin" "HOME=$HOME" "LANG=C.UTF-8")

"${clean[@]}" collbot --help >/dev/null

set +e
usage=$("${clean[@]}" collbot import 2>&1 >/dev/null)
code=$?
set -e
lines=$(printf '%s\n' "$usage" | grep -c .)
if [ "$code" != 2 ] || [ "$lines" != 1 ] || grep -q Traceback <<<"$usage"; then
    printf 'check-wheel: `collbot import` should be one line and exit 2; got exit %s:\n%s\n' "$code" "$usage"
    exit 1
fi

"${clean[@]}" collbot script check "$repo/scripts/reminder-ko.yaml"
echo "check-wheel: ok"
