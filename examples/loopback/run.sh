#!/usr/bin/env bash
# Runs the loopback demo: a listener with the config beside this script and
# two agents announcing 127.0.0.11 and 127.0.0.12. One agent stops after 15
# seconds so you can watch its address leave. Ctrl-C stops everything.
set -euo pipefail
rgap=$(realpath "${1:-bin/rgap}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
psk=5b0f4c7d2e9a8b1c6d3e0f2a4b5c6d7e8f9011223344556677889900aabbccdd
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

cd "$work"
"$rgap" listener -c "$here/rgap.yaml" &
pids+=($!)
sleep 1
for a in 127.0.0.11 127.0.0.12; do
  RGAP_PSK=$psk "$rgap" agent -g 1000 -a "$a" -i 2s -d 127.0.0.1:8271 &
  pids+=($!)
done
last_agent=${pids[-1]}

# ask prints the dns output's answer with whichever DNS client is installed
# (a fresh Debian has none: `apt-get install bind9-dnsutils` brings dig).
ask() {
  local q=(@127.0.0.1 -p 8253 app.demo.rgap A)
  if command -v dig >/dev/null; then
    echo "--- dig ${q[*]} +short"; dig "${q[@]}" +short || true
  elif command -v kdig >/dev/null; then
    echo "--- kdig ${q[*]} +short"; kdig "${q[@]}" +short || true
  elif command -v host >/dev/null; then
    echo "--- host -p 8253 -t A app.demo.rgap 127.0.0.1"; host -p 8253 -t A app.demo.rgap 127.0.0.1 || true
  elif command -v drill >/dev/null; then
    echo "--- drill -p 8253 app.demo.rgap @127.0.0.1 A"; drill -p 8253 app.demo.rgap @127.0.0.1 A | grep -E '^app' || true
  else
    echo "--- no dig, kdig, host or drill (apt-get install bind9-dnsutils); asking with examples/loopback/dnsask"
    (cd "$here/../.." && go run ./examples/loopback/dnsask 127.0.0.1:8253 app.demo.rgap) || true
  fi
}

cat <<MSG

  rgap demo running (workdir $work).
  Ask the dns output:   dig @127.0.0.1 -p 8253 app.demo.rgap A
                        (dig is in Debian's bind9-dnsutils; kdig or host work too)
  The hosts file:       cat $work/hosts.demo
  127.0.0.12 stops announcing in 15s and leaves once its announcement expires.

MSG
sleep 4
ask
echo "--- $work/hosts.demo"; cat hosts.demo 2>/dev/null || echo "(not written yet)"
sleep 11
kill "$last_agent" 2>/dev/null || true
echo "--- stopped the agent for 127.0.0.12; its address leaves once its last announcement expires"
sleep 7
ask
wait
