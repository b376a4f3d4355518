#!/bin/sh
# Install collbot's systemd units (run as root by `make install-service`). Starts nothing unless START=1.
#   BIN    directory holding the collbot executable (default: this checkout's .venv/bin)
#   ETC    settings directory (default /etc/collbot), STATE  working directory (default /var/lib/collbot)
#   UNITS  where unit files go (default /etc/systemd/system)
#   SERVICE_USER  the system user the services run as (default collbot; created if missing)
#   SYSTEMCTL=0   write the files only (no daemon-reload / enable), e.g. into a staging tree
set -eu
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$(cd "$here/../.." && pwd)/.venv/bin}
ETC=${ETC:-/etc/collbot}
STATE=${STATE:-/var/lib/collbot}
UNITS=${UNITS:-/etc/systemd/system}
SERVICE_USER=${SERVICE_USER:-collbot}
[ -x "$BIN/collbot" ] || { echo "install-service: $BIN/collbot is missing; run make setup first" >&2; exit 1; }
if ! getent passwd "$SERVICE_USER" >/dev/null; then
  useradd --system --user-group --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi
group=$(id -gn "$SERVICE_USER")
install -d -m 0750 -o root -g "$group" "$ETC"
install -d -m 0700 -o "$SERVICE_USER" -g "$group" "$STATE" "$STATE/var"
[ -e "$ETC/collbot.yaml" ] || install -m 0640 -o root -g "$group" /dev/null "$ETC/collbot.yaml"
install -d -m 0755 "$UNITS"
for unit in collbot-serve collbot-web; do
  sed -e "s|@BIN@|$BIN|g" -e "s|@ETC@|$ETC|g" -e "s|@STATE@|$STATE|g" -e "s|@USER@|$SERVICE_USER|g" \
    "$here/$unit.service" > "$UNITS/$unit.service"
  chmod 0644 "$UNITS/$unit.service"
done
if [ "${SYSTEMCTL:-1}" != 0 ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable collbot-serve.service collbot-web.service
  if [ "${START:-0}" = 1 ]; then systemctl start collbot-serve.service collbot-web.service; fi
fi
echo "installed collbot-serve and collbot-web units in $UNITS (settings: $ETC/collbot.yaml, state: $STATE)"
