#!/usr/bin/env bash
# Builds the Debian package: target/debian/safe-run_VERSION-1_ARCH.deb.
#
# cargo-deb packages files; what it packages beyond the binary is made
# here first, under target/deb-assets, from the release binary itself, so
# none of it can drift from the code:
#   man/*.1.gz         `safe-run man --dir` (clap_mangen), gzipped
#   completions/*      `safe-run completions bash|zsh|fish` (clap_complete)
#   logrotate          packaging/logrotate/safe-run, adapted to the
#                      package's group-writable, append-only log
# /etc/safe-run/config.toml is packaging/etc/config.toml, which a test
# (tests/system/packaging.rs) keeps equal to config::commented_defaults().
#
# Needs cargo-deb (`cargo install cargo-deb --version 3.8.0 --locked`; a later
# release may refuse the dev profile that CI packages).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null 2>&1 || {
    echo "deb-build: cargo-deb is missing: cargo install cargo-deb --version 3.8.0 --locked" >&2
    exit 2
}

# DEB_PROFILE=dev packages the binary the test build already made (what
# .ci/run does, so CI compiles each profile once); the default is release.
profile=${DEB_PROFILE:-release}
case "$profile" in
    release) dir=release ;;
    dev) dir=debug ;;
    *) dir=$profile ;;
esac
cargo build --profile "$profile" --locked --quiet
bin=target/$dir/safe-run
out=target/deb-assets
rm -rf "$out"
mkdir -p "$out/man" "$out/completions"

# The pages' date: the last commit's, so a rebuild of one commit gives the
# same pages (SOURCE_DATE_EPOCH wins when set, as in Debian's builds).
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)
else
    date=$(git log -1 --format=%cs 2>/dev/null || date -u +%F)
fi
"$bin" man --dir "$out/man" --date "$date" >/dev/null
gzip -9n "$out"/man/*.1

"$bin" completions bash >"$out/completions/safe-run"
"$bin" completions zsh >"$out/completions/_safe-run"
"$bin" completions fish >"$out/completions/safe-run.fish"

# The package's log is root:safe-run 0660 and append-only (postinst), so:
# logrotate creates the new file for the group, and lifts the append-only
# attribute for its rename (an append-only file cannot be renamed, even by
# root), puts it on the new file and takes group write off the rotated one.
# Everything else is the generic snippet's.
src=packaging/logrotate/safe-run
grep -q '^    create 0600 root root$' "$src" || {
    echo "deb-build: $src no longer has 'create 0600 root root'; update scripts/deb-build.sh" >&2
    exit 1
}
awk '
    /^# safe-run.s audit log\. Install as/ {
        print "# safe-run'"'"'s audit log, as the Debian package sets it up: root:safe-run"
        print "# 0660 and append-only (chattr +a). Made by scripts/deb-build.sh from"
        print "# packaging/logrotate/safe-run."
        next
    }
    /^    create 0600 root root$/ { print "    create 0660 root safe-run"; next }
    /^}$/ {
        print ""
        print "    # An append-only file cannot be renamed: lift the attribute for the"
        print "    # rotation, put it on the new file, and make the rotated file read-only"
        print "    # for the group (root keeps the right to compress and remove it)."
        print "    prerotate"
        print "        chattr -a /var/log/safe-run/audit.jsonl 2>/dev/null || true"
        print "    endscript"
        print "    postrotate"
        print "        chattr +a /var/log/safe-run/audit.jsonl 2>/dev/null || true"
        print "        chmod g-w /var/log/safe-run/audit.jsonl.1 2>/dev/null || true"
        print "    endscript"
    }
    { print }
' "$src" >"$out/logrotate"

cargo deb --no-build --locked --profile "$profile" "$@"
