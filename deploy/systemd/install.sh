#!/bin/sh
# Install collbot's systemd units (run as root by `make install-service`). Starts nothing unless START=1.
#   BIN    directory holding the collbot executable (default: this checkout's .venv/bin)
#   ETC    settings directory (default /etc/collbot), STATE  working directory (default /var/lib/collbot)
#   UNITS  where unit files go (default /etc/systemd/system)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$(cd "$here/../.." && pwd)/.venv/bin}
ETC=${ETC:-/etc/collbot}
STATE=${STATE:-/var/lib/collbot}
UNITS=${UNITS:-/etc/systemd/system}
[ -x "$BIN/collbot" ] || { echo "install-service: $BIN/collbot is missing; run make setup first" >&2; exit 1; }
if ! getent passwd collbot >/dev/null; then
  useradd --system --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin collbot
fi
install -d -m 0750 -o root -g collbot "$ETC"
install -d -m 0700 -o collbot -g collbot "$STATE" "$STATE/var"
[ -e "$ETC/collbot.yaml" ] || install -m 0640 -o root -g collbot /dev/null "$ETC/collbot.yaml"
for unit in collbot-serve collbot-web; do
  sed -e "s|@BIN@|$BIN|g" -e "s|@ETC@|$ETC|g" -e "s|@STATE@|$STATE|g" "$here/$unit.service" > "$UNITS/$unit.service"
  chmod 0644 "$UNITS/$unit.service"
done
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable collbot-serve.service collbot-web.service
  if [ "${START:-0}" = 1 ]; then systemctl start collbot-serve.service collbot-web.service; fi
fi
echo "installed collbot-serve and collbot-web units in $UNITS (settings: $ETC/collbot.yaml, state: $STATE)"
