#!/usr/bin/env bash
# Builds the Debian package, installs it, uses it the way a fleet would, and
# purges it again. Run by .ci/run after the tests; safe to run again on a
# machine where an earlier run (or anything else) left the package
# installed: it starts by purging it.
#
#   bash scripts/deb-check.sh
#
# What it checks, in order:
#   build     cargo-deb (installed if missing), man pages, completions
#   install   /usr/bin/safe-run, /etc/shells lists it, the shipped config
#             is config::commented_defaults() and a conffile, `safe-run`
#             group, the log directory 0750 and the log 0660 root:safe-run,
#             append-only where the filesystem allows
#   use       `check` and `-- true` from /usr/bin as root; a member of the
#             group with safe-run as login shell (`su - USER -c`) appends
#             but cannot truncate, delete, rename or create; a user outside
#             the group is not locked out; `audit verify` on the log
#   repair    a removed log: members fall back to their own; dpkg-reconfigure
#             puts it back
#   docs      `man safe-run` renders without warnings; the bash, zsh and fish
#             completions load (zsh and fish only where installed)
#   rotation  the installed logrotate file rotates an append-only log twice;
#             a member's session carries the chain on; the set verifies
#   reinstall postinst again: /etc/shells lists the shell once
#   remove    prerm names the accounts that log in with safe-run; /etc/shells
#             no longer lists it; the conffile stays
#   purge     no /usr/bin/safe-run, no /etc/safe-run/config.toml, nothing
#             in /etc/shells; a log with records is kept
#
# Without root only the build runs (installing needs dpkg as root).
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR=never

step() { printf '== deb-check: %s\n' "$*"; }
fail() {
    printf 'deb-check: FAILED: %s\n' "$*" >&2
    printf 'deb-check: %s passed, 1 failed\n' "${passed:-0}"
    exit 1
}
passed=0
check() { # check DESCRIPTION COMMAND...: the command must succeed
    local what=$1
    shift
    "$@" || fail "$what"
    passed=$((passed + 1))
    printf '   ok: %s\n' "$what"
}

quiet() { "$@" >/dev/null; }

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    is_root || return 1
    if [ -z "${apt_updated:-}" ]; then
        apt-get update -qq
        apt_updated=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" </dev/null >/dev/null
}

# ---------------------------------------------------------------------------
step "tools"
# Pinned: CI packages the test build (the dev profile, DEB_PROFILE=dev), which
# cargo-deb 3.8 accepts with a warning and says a later release will refuse.
if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "   cargo-deb is missing: cargo install cargo-deb --version 3.8.0 --locked (a few minutes)"
    cargo install cargo-deb --version 3.8.0 --locked --quiet
fi
command -v dpkg-shlibdeps >/dev/null 2>&1 || apt_install dpkg-dev ||
    echo "   note: no dpkg-shlibdeps; the libc dependency is guessed"
command -v man >/dev/null 2>&1 || apt_install man-db ||
    echo "   note: no man(1): the man page is not rendered"
command -v logrotate >/dev/null 2>&1 || apt_install logrotate ||
    echo "   note: no logrotate: rotation is not checked"

step "build"
deb=$(bash scripts/deb-build.sh | tail -n 1)
[ -f "$deb" ] || fail "scripts/deb-build.sh did not name a package ($deb)"
echo "   $deb ($(du -h "$deb" | cut -f1))"
for page in target/deb-assets/man/*.1.gz; do
    zcat "$page" | grep -q '^\.TH ' || fail "$page is not a man page"
done

if ! is_root; then
    echo "deb-check: not root: the package was built but not installed; run as root for the rest" >&2
    exit 0
fi

# ---------------------------------------------------------------------------
BIN=/usr/bin/safe-run
LOG_DIR=/var/log/safe-run
LOG=$LOG_DIR/audit.jsonl
USER_IN=safe-run-ci            # a member of the group, login shell safe-run
work=$(mktemp -d /tmp/deb-check.XXXXXX)
chmod 0755 "$work" # the test user's home is inside
rot_dir=""

cleanup() {
    set +e
    if [ -f "$work/saved-audit.jsonl" ]; then # a failure in the repair step
        chattr -a "$LOG" 2>/dev/null
        mv -f "$work/saved-audit.jsonl" "$LOG"
    fi
    userdel "$USER_IN" >/dev/null 2>&1
    if [ -n "$rot_dir" ] && [ -d "$rot_dir" ]; then
        chattr -a "$rot_dir"/* 2>/dev/null
        rm -rf "$rot_dir"
    fi
    rm -rf "$work"
}
trap cleanup EXIT

lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
mode_of() { stat -c '%U:%G %a' "$1"; }
has_attr_a() { lsattr -d "$1" 2>/dev/null | cut -d' ' -f1 | grep -q a; }
shells_count() { grep -cx "$BIN" /etc/shells || true; }

step "start clean"
if dpkg-query -W -f='${Status}' safe-run 2>/dev/null | grep -qv 'not-installed'; then
    echo "   an earlier safe-run package is on this machine: purging it"
    dpkg --purge safe-run >/dev/null
fi
userdel "$USER_IN" >/dev/null 2>&1 || true
check "/usr/bin/safe-run is absent before installing" test ! -e "$BIN"

# Can this filesystem and this process set the append-only attribute? Then
# the package must have set it.
probe=$(mktemp /var/log/.safe-run-attr.XXXXXX)
if chattr +a "$probe" 2>/dev/null; then append_only=yes; else append_only=no; fi
chattr -a "$probe" 2>/dev/null || true
rm -f "$probe"
echo "   append-only attribute available in /var/log: $append_only"

# ---------------------------------------------------------------------------
step "install"
dpkg -i "$deb" >"$work/install.log" 2>&1 || {
    cat "$work/install.log"
    fail "dpkg -i"
}
check "safe-run is installed" sh -c "dpkg-query -W -f='\${Status}' safe-run | grep -q 'install ok installed'"
check "/usr/bin/safe-run runs" quiet "$BIN" --version
check "/etc/shells lists /usr/bin/safe-run once" test "$(shells_count)" = 1
check "the shipped config is config::commented_defaults()" cmp -s /etc/safe-run/config.toml packaging/etc/config.toml
check "the shipped config is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}' safe-run | grep -q ' /etc/safe-run/config.toml '"
check "safe-run config accepts the shipped file" sh -c "$BIN config >/dev/null"
check "rules.d has its README" test -f /etc/safe-run/rules.d/README
check "the safe-run group exists" quiet getent group safe-run
check "$LOG_DIR is root:safe-run 750" test "$(mode_of $LOG_DIR)" = "root:safe-run 750"
check "$LOG is root:safe-run 660" test "$(mode_of $LOG)" = "root:safe-run 660"
if [ "$append_only" = yes ]; then
    check "$LOG is append-only" has_attr_a "$LOG"
else
    echo "   note: append-only not available here; postinst said so:"
    grep 'append-only' "$work/install.log" || fail "postinst did not say the log is not append-only"
fi

# ---------------------------------------------------------------------------
step "use, as root, from /usr/bin"
cd /
check "safe-run check 'ls -l' exits 0" quiet "$BIN" check 'ls -l'
set +e
"$BIN" check 'sudo reboot' >/dev/null
status=$?
set -e
check "safe-run check 'sudo reboot' exits 1 (needs confirmation)" test "$status" = 1
before=$(lines "$LOG")
check "safe-run -- true exits 0" "$BIN" -- true
check "two records (decision, outcome) were appended to $LOG" test "$(lines "$LOG")" = $((before + 2))
check "safe-run audit verify $LOG" sh -c "$BIN audit verify $LOG >/dev/null"
cd - >/dev/null

step "use, as a member of the group whose login shell is safe-run"
useradd --no-user-group --gid nogroup --groups safe-run --shell "$BIN" \
    --home-dir "$work/home" --create-home "$USER_IN"
before=$(lines "$LOG")
out=$(su - "$USER_IN" -c 'echo hello from the login shell' 2>"$work/su.err") || {
    cat "$work/su.err"
    fail "su - $USER_IN -c (safe-run as the login shell)"
}
check "su - $USER_IN -c runs through safe-run" test "$out" = "hello from the login shell"
check "the member's session appended two records" test "$(lines "$LOG")" = $((before + 2))
check "the records name the member" sh -c "tail -n 2 $LOG | grep -q '\"user\":\"$USER_IN\"'"
as_member() { runuser -u "$USER_IN" -- sh -c "$1" 2>/dev/null; }
check "the member cannot delete the log" sh -c "! runuser -u $USER_IN -- rm -f $LOG 2>/dev/null && test -s $LOG"
check "the member cannot rename the log" sh -c "! runuser -u $USER_IN -- mv $LOG $LOG.x 2>/dev/null && test -s $LOG"
check "the member cannot create files in $LOG_DIR" sh -c "! runuser -u $USER_IN -- touch $LOG_DIR/forged 2>/dev/null"
if [ "$append_only" = yes ]; then
    size=$(stat -c %s "$LOG")
    if as_member ": > $LOG"; then fail "the member truncated the log"; fi
    if as_member "printf x | dd of=$LOG conv=notrunc status=none"; then fail "the member overwrote the log"; fi
    check "the member can neither truncate nor overwrite the log" test "$(stat -c %s "$LOG")" = "$size"
fi
check "the chain still verifies" sh -c "$BIN audit verify $LOG >/dev/null"

step "use, as a user outside the group (not locked out)"
before=$(lines "$LOG")
check "nobody runs a safe command" runuser -u nobody -- env HOME=/nonexistent "$BIN" -- true
check "and cannot write to the shared log" test "$(lines "$LOG")" = "$before"

step "a removed log is put back by dpkg-reconfigure"
chattr -a "$LOG" 2>/dev/null || true
mv "$LOG" "$work/saved-audit.jsonl" # the machine's records, put back below
runuser -u "$USER_IN" -- "$BIN" -- true
check "meanwhile a member's session writes to the member's own log" \
    test "$(lines "$work/home/.local/state/safe-run/audit.jsonl")" = 2
dpkg-reconfigure safe-run >/dev/null 2>&1 || fail "dpkg-reconfigure safe-run"
check "dpkg-reconfigure made $LOG again, root:safe-run 660" test "$(mode_of "$LOG")" = "root:safe-run 660"
[ "$append_only" = no ] || check "and append-only" has_attr_a "$LOG"
chattr -a "$LOG" 2>/dev/null || true
mv "$work/saved-audit.jsonl" "$LOG"
[ "$append_only" = no ] || chattr +a "$LOG"
check "the machine's log is back, root:safe-run 660" test "$(mode_of "$LOG")" = "root:safe-run 660"

# ---------------------------------------------------------------------------
step "man page and completions"
if command -v man >/dev/null 2>&1; then
    page=$(man -w safe-run 2>/dev/null || true)
    if [ -n "$page" ]; then
        check "man -w safe-run finds the installed page" test "$page" = /usr/share/man/man1/safe-run.1.gz
    else
        # Some images tell dpkg not to install man pages
        # (/etc/dpkg/dpkg.cfg.d/*: path-exclude /usr/share/man/*).
        echo "   note: no installed man page (dpkg excludes /usr/share/man here?): checking the built one"
        page=target/deb-assets/man/safe-run.1.gz
    fi
    MANWIDTH=80 MANPAGER=cat man --warnings -l "$page" >"$work/man.txt" 2>"$work/man.err" </dev/null
    check "man -l renders the page without warnings" test ! -s "$work/man.err"
    check "the page has its EXIT STATUS section" grep -q '^EXIT STATUS' "$work/man.txt"
    for sub in target/deb-assets/man/safe-run-*.1.gz; do
        MANWIDTH=80 MANPAGER=cat man --warnings -l "$sub" >/dev/null 2>"$work/man.err" </dev/null
        [ ! -s "$work/man.err" ] || fail "man -l $sub: $(cat "$work/man.err")"
    done
    check "every subcommand page renders without warnings" true
fi
check "bash: the installed completion loads" bash --norc --noprofile -c \
    'source /usr/share/bash-completion/completions/safe-run && complete -p safe-run >/dev/null'
check "bash: source <(safe-run completions bash) loads" bash --norc --noprofile -c \
    "source <($BIN completions bash) && complete -p safe-run >/dev/null"
if command -v zsh >/dev/null 2>&1; then
    # shellcheck disable=SC2016 # zsh expands it, not this script
    check "zsh: the installed completion loads through compinit" zsh -f -c \
        'fpath=(/usr/share/zsh/vendor-completions $fpath); autoload -Uz compinit && compinit -u -D && [[ $_comps[safe-run] == _safe-run ]]'
else
    echo "   zsh not installed: skipped"
fi
if command -v fish >/dev/null 2>&1; then
    check "fish: the installed completion loads and completes" sh -c \
        "HOME=$work fish --no-config -c 'source /usr/share/fish/vendor_completions.d/safe-run.fish; complete -C\"safe-run ch\"' | grep -q '^check'"
else
    echo "   fish not installed: skipped"
fi

# ---------------------------------------------------------------------------
step "rotation (the installed logrotate file, on a scratch log)"
if command -v logrotate >/dev/null 2>&1; then
    # The same file with the same commands, pointed at a scratch directory
    # set up as postinst sets up the real one.
    rot_dir=$(mktemp -d /var/log/safe-run-ci.XXXXXX)
    chown root:safe-run "$rot_dir"
    chmod 0750 "$rot_dir"
    install -o root -g safe-run -m 0660 /dev/null "$rot_dir/audit.jsonl"
    chattr +a "$rot_dir/audit.jsonl" 2>/dev/null || true
    sed "s#/var/log/safe-run/#$rot_dir/#g" /etc/logrotate.d/safe-run >"$work/logrotate.conf"
    printf '[audit]\npath = "%s/audit.jsonl"\n' "$rot_dir" >"$work/rot.toml"
    for round in 1 2; do
        "$BIN" --config "$work/rot.toml" -- true
        logrotate --force --state "$work/logrotate.state" "$work/logrotate.conf" ||
            fail "logrotate round $round"
    done
    check "a new, empty log, root:safe-run 660" test "$(mode_of "$rot_dir/audit.jsonl")" = "root:safe-run 660"
    [ "$append_only" = no ] || check "the new log is append-only" has_attr_a "$rot_dir/audit.jsonl"
    check "the first rotation was compressed (.2.gz), root:safe-run 640" \
        test "$(mode_of "$rot_dir/audit.jsonl.2.gz")" = "root:safe-run 640"
    check "the newest rotated log is not group-writable" test "$(stat -c %a "$rot_dir/audit.jsonl.1")" = 640
    # A member's session writes next: it carries the chain on from
    # audit.jsonl.1, which the group can still read.
    runuser -u "$USER_IN" -- "$BIN" --config "$work/rot.toml" -- true
    check "a member's session goes on in the new log" test "$(lines "$rot_dir/audit.jsonl")" = 2
    verified=$("$BIN" audit verify "$rot_dir"/audit.jsonl*) || fail "audit verify of the rotated set: $verified"
    check "the rotated set verifies as one chain: $(echo "$verified" | head -n 1)" \
        sh -c "echo '$verified' | grep -q '^ok: 6 records in 3 file(s)'"
else
    echo "   logrotate not installed: skipped"
fi

# ---------------------------------------------------------------------------
step "reinstall (postinst runs again)"
dpkg -i "$deb" >"$work/reinstall.log" 2>&1 || {
    cat "$work/reinstall.log"
    fail "dpkg -i (again)"
}
check "/etc/shells still lists /usr/bin/safe-run once" test "$(shells_count)" = 1
check "$LOG kept its records and modes" test "$(mode_of $LOG)" = "root:safe-run 660"
[ "$append_only" = no ] || check "$LOG is still append-only" has_attr_a "$LOG"

step "remove"
dpkg -r safe-run >"$work/remove.log" 2>&1 || {
    cat "$work/remove.log"
    fail "dpkg -r"
}
check "prerm named the account that logs in with safe-run" grep -q "WARNING: .*$USER_IN" "$work/remove.log"
check "/usr/bin/safe-run is gone" test ! -e "$BIN"
check "/etc/shells no longer lists it" test "$(shells_count)" = 0
check "the conffile stays until purge" test -f /etc/safe-run/config.toml

step "purge"
dpkg --purge safe-run >"$work/purge.log" 2>&1 || {
    cat "$work/purge.log"
    fail "dpkg --purge"
}
check "the package is gone" sh -c "! dpkg-query -W -f='\${Status}' safe-run 2>/dev/null | grep -q installed"
check "no /usr/bin/safe-run" test ! -e "$BIN"
check "/etc/shells does not list it" test "$(shells_count)" = 0
check "no /etc/safe-run/config.toml" test ! -e /etc/safe-run/config.toml
check "no /etc/logrotate.d/safe-run" test ! -e /etc/logrotate.d/safe-run
check "no man page" test ! -e /usr/share/man/man1/safe-run.1.gz
check "the audit log, which holds records, is kept" test -s "$LOG"
check "purge said where it is" grep -q "audit log in $LOG_DIR is kept" "$work/purge.log"

step "all checks passed"
echo "deb-check: $passed passed, 0 failed"
