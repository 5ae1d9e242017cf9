#!/usr/bin/env bash
# Drives an interactive safe-run session in tmux and saves what the screen
# showed to docs/demo.txt: the banner and prompt, `cd`/`export` carrying
# over, the live risk hint while a risky line is typed, and the line being
# caught — explained, previewed, and not run when the host name typed is
# wrong.
#
# Safe to run anywhere: the risky programs are fakes placed first on PATH
# in a temp dir, the audit log goes to that temp dir, and site rules are
# not read. Needs tmux. Usage: scripts/demo.sh [OUT] (default docs/demo.txt)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/docs/demo.txt}
session=safe-run-demo-$$

command -v tmux >/dev/null || { echo "demo.sh: tmux is needed" >&2; exit 2; }
(cd "$root" && cargo build --quiet --bin safe-run)
bin=$root/target/debug/safe-run

tmp=$(mktemp -d)
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/bin" "$tmp/home" "$tmp/state"
cat >"$tmp/bin/apt-get" <<'FAKE'
#!/bin/sh
# A stand-in for apt-get: the demo must never change this machine.
if [ "$1" = "-s" ]; then
    echo "Reading package lists... Done"
    echo "The following packages will be upgraded:"
    echo "  containerd.io docker-ce kubelet openssl"
    echo "4 upgraded, 0 newly installed, 0 to remove and 0 not upgraded."
    echo "Inst kubelet [1.29.4-1.1] (1.30.1-1.1 kubernetes)"
    exit 0
fi
echo "FAKE apt-get $*"
FAKE
chmod +x "$tmp/bin/apt-get"
cat >"$tmp/config.toml" <<CONF
color = "never"

[environment]
name = "production"

[audit]
path = "$tmp/audit.jsonl"
CONF

# Waits until the pane shows TEXT (at most 20 s).
wait_for() {
    local text=$1 i
    for ((i = 0; i < 200; i++)); do
        if tmux capture-pane -t "$session" -p -S - | grep -qF -- "$text"; then
            return 0
        fi
        sleep 0.1
    done
    echo "demo.sh: the screen never showed: $text" >&2
    tmux capture-pane -t "$session" -p -S - >&2
    exit 1
}

# Counts the prompts shown so far, to wait for the next one.
prompts() { tmux capture-pane -t "$session" -p -S - | grep -cE 'demo\$( |$)' || true; }
wait_prompt() {
    local want=$1 i
    for ((i = 0; i < 200; i++)); do
        [ "$(prompts)" -ge "$want" ] && return 0
        sleep 0.1
    done
    echo "demo.sh: no prompt number $want" >&2
    exit 1
}
type_line() { tmux send-keys -t "$session" -l -- "$1"; tmux send-keys -t "$session" Enter; }

cat >>"$tmp/config.toml" <<'CONF'

[shell]
prompt = "[{env}] {user}@{host}:{cwd} demo$ "
CONF

tmux -u new-session -d -s "$session" -x 110 -y 45 -c "$tmp/home" \
    env -i PATH="$tmp/bin:/usr/local/bin:/usr/bin:/bin" HOME="$tmp/home" \
    XDG_STATE_HOME="$tmp/state" TERM=xterm LANG=C.UTF-8 USER="${USER:-$(id -un)}" \
    "$bin" --config "$tmp/config.toml" --no-site-rules
# Keep the screen readable after the shell has exited.
tmux set-option -t "$session" remain-on-exit on >/dev/null
wait_prompt 1

type_line 'cd /var/log && export STAGE=demo'
wait_prompt 2
type_line 'echo "in $(pwd), STAGE=$STAGE"'
wait_prompt 3

# Typed, not yet entered: the hint says what it would do.
tmux send-keys -t "$session" -l -- 'sudo apt-get -y upgrade'
wait_for 'apt-full-upgrade'
typing=$(tmux capture-pane -t "$session" -p -J)

tmux send-keys -t "$session" Enter
wait_for 'Type the host name'
sleep 0.3
tmux send-keys -t "$session" -l -- 'not-this-host'
tmux send-keys -t "$session" Enter
wait_for 'Nothing was run'
wait_prompt 4

type_line 'check reboot'
wait_prompt 5
type_line 'exit'
sleep 0.5

{
    echo "safe-run interactive shell — captured by scripts/demo.sh (tmux, 110x45)"
    echo
    echo "=== While typing \`sudo apt-get -y upgrade\`, before Enter: the live hint ==="
    echo
    printf '%s\n' "$typing" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
    echo
    echo "=== The whole session ==="
    echo
    tmux capture-pane -t "$session" -p -J -S - | grep -v '^Pane is dead' \
        | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
    echo
    echo "(the shell exited with status $(tmux display -p -t "$session" '#{pane_dead_status}'))"
} | sed -e "s|$tmp|…|g" >"$out.tmp"
mv "$out.tmp" "$out"
echo "demo.sh: wrote $out"
