#!/usr/bin/env bash
# Packaging checks for wxprint: systemd units, sysusers, tmpfiles, udev rules, the .deb.
#
#   bash .ci/packaging-checks.sh            # everything (CI)
#   WXPRINT_SKIP_DEB=1 bash .ci/packaging-checks.sh   # skip `cargo deb` (a release build,
#                                                     # several minutes) for quick local runs
#
# Needs root (unshare -m, mknod, apt-get) on Debian 12 / systemd 252. Installs `udev` (for
# udevadm) and cargo-deb when missing. Works in a scratch directory only; nothing on the host
# changes except target/ (the release build and target/debian/*.deb). Safe to rerun.
#
# Checks, each prints "ok" or fails the script:
#  1. systemd-analyze verify of wxprint.service + wxprint.socket prints nothing at all
#     (it warns about unknown keys and bad values but still exits 0: stderr is the signal).
#  2. systemd-analyze security --offline exposure <= 2.0 for wxprint.service.
#  3. systemd-sysusers --root on a Debian base-passwd scratch root creates user wxprint,
#     group wxprint-pos, and the memberships; a second run changes nothing.
#  4. systemd-tmpfiles --root --create gives /etc/wxprint, its config and /var/lib/wxprint
#     the right owner and mode.
#  5. udev: a static check of the rules file, then `udevadm test` inside a private mount
#     namespace (tmpfs over /dev, /run and, for fake devices, /sys): the rules parse without
#     a warning, and fake USB printers / adapters get exactly the link, group, mode, tag and
#     ModemManager opt-out they should. The host's /dev and /run stay untouched.
#  6. cargo deb, then the .deb's file list, modes, Depends, conffiles and maintainer scripts.
set -euo pipefail

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
RULES_NAME=70-wxprint.rules

# Receipt printers named in the rules: vendor:product. Each must get the link.
PRINTER_IDS=(04b8:0202 04b8:0e03 04b8:0e15 0416:5011 1fc9:2016 6868:0500 2730:0fff)
# Generic USB-serial chips: ModemManager opt-out only, no link, group left as dialout.
ADAPTER_IDS=(1a86:7523 0403:6001 067b:2303 10c4:ea60)

say() { printf '%s\n' "$*"; }
fail() {
    printf '\nFAIL: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------
# The udev check's namespace half: `unshare -m` runs this script again with __udev_ns.
# Everything mounted here disappears with the namespace.
# ---------------------------------------------------------------------------------------
udev_ns() {
    local work=$1 rules=$2 sysroot=$3
    mount --make-rprivate /
    # A private /dev with just what udevadm needs; the real one is kept to bind from.
    mkdir -p "$work/hostdev"
    mount --bind /dev "$work/hostdev"
    mount -t tmpfs -o mode=0755 tmpfs /dev
    local n
    for n in null zero urandom; do
        touch "/dev/$n"
        mount --bind "$work/hostdev/$n" "/dev/$n"
    done
    mount -t tmpfs -o mode=0755 tmpfs /run
    mkdir -p /run/udev/rules.d
    # Users and groups from check 3's scratch root, so GROUP="wxprint" resolves as on a
    # register with the package installed.
    mount --bind "$sysroot/etc/group" /etc/group
    mount --bind "$sysroot/etc/passwd" /etc/passwd

    # Our file's parse warnings start with its path ("…/70-wxprint.rules:12 Invalid key");
    # per-device lines start with the device name instead.
    local warn="^/run/udev/rules.d/$RULES_NAME:[0-9]+"
    local out

    # (a) The linter catches a broken copy: proves the next check can fail.
    sed 's/SYMLINK+=/SYMLNK+=/; s/GOTO="wxprint_end"/GOTO="wxprint_nowhere"/' "$rules" \
        >"/run/udev/rules.d/$RULES_NAME"
    out=$(udevadm test --action=add /sys/class/tty/ttyS0 2>&1) || true
    grep -Eq "$warn" <<<"$out" || fail "udevadm test did not flag a rules file with typos"
    say "  ok   a rules file with typos is flagged (linter self-test)"

    # (b) The real rules, against a real device of this machine (ttyS0: matches nothing).
    cp "$rules" "/run/udev/rules.d/$RULES_NAME"
    out=$(udevadm test --action=add /sys/class/tty/ttyS0 2>&1) ||
        fail "udevadm test failed: $out"
    grep -q "Reading rules file: /run/udev/rules.d/$RULES_NAME" <<<"$out" ||
        fail "udevadm did not read our rules file"
    if grep -E "$warn" <<<"$out"; then fail "udevadm warns about $RULES_NAME (above)"; fi
    [[ ! -e /dev/wxprint-printer ]] || fail "ttyS0 must not become /dev/wxprint-printer"
    say "  ok   rules parse without warnings; on-board ttyS0 is left alone"

    # (c) Fake devices. udevadm reads devices from /sys only, so a tmpfs /sys gets a USB
    # device tree shaped like the kernel's (usb_device > interface > lp / ttyUSB / ttyACM).
    # SYSTEMD_DEVICE_VERIFY_SYSFS=0 is systemd's knob for this: it skips the check that a
    # syspath is really on sysfs. The device node is mknod'ed in the tmpfs /dev, so udev's
    # chown/chmod and symlink land there and can be inspected.
    mount -t tmpfs -o mode=0755 tmpfs /sys
    mkdir -p /sys/bus/usb /sys/bus/usb-serial /sys/class/tty /sys/class/usbmisc /dev/usb
    export SYSTEMD_DEVICE_VERIFY_SYSFS=0
    local idx=0 checked=0

    # fake_dev VID:PID KIND -> sets DEV (syspath) and NODE (/dev/…); KIND: lp|ttyUSB|ttyACM
    fake_dev() {
        local vid=${1%:*} pid=${1#*:} kind=$2
        idx=$((idx + 1))
        local usb="/sys/devices/pci0000:00/0000:00:14.0/usb1/1-$idx"
        local intf="$usb/1-$idx:1.0" major name
        mkdir -p "$intf"
        printf 'MAJOR=189\nMINOR=%d\nDEVNAME=bus/usb/001/%03d\nDEVTYPE=usb_device\nPRODUCT=%x/%x/100\nTYPE=0/0/0\nBUSNUM=001\nDEVNUM=%03d\n' \
            "$idx" "$idx" "0x$vid" "0x$pid" "$idx" >"$usb/uevent"
        echo "$vid" >"$usb/idVendor"
        echo "$pid" >"$usb/idProduct"
        ln -s /sys/bus/usb "$usb/subsystem"
        printf 'DEVTYPE=usb_interface\n' >"$intf/uevent"
        ln -s /sys/bus/usb "$intf/subsystem"
        case $kind in
        lp)
            DEV="$intf/usbmisc/lp$idx" major=180 name="usb/lp$idx"
            echo 07 >"$intf/bInterfaceClass"
            mkdir -p "$DEV"
            ln -s /sys/class/usbmisc "$DEV/subsystem"
            ;;
        ttyUSB)
            mkdir -p "$intf/ttyUSB$idx"
            : >"$intf/ttyUSB$idx/uevent"
            ln -s /sys/bus/usb-serial "$intf/ttyUSB$idx/subsystem"
            DEV="$intf/ttyUSB$idx/tty/ttyUSB$idx" major=188 name="ttyUSB$idx"
            mkdir -p "$DEV"
            ln -s /sys/class/tty "$DEV/subsystem"
            ;;
        ttyACM)
            echo 02 >"$intf/bInterfaceClass"
            DEV="$intf/tty/ttyACM$idx" major=166 name="ttyACM$idx"
            mkdir -p "$DEV"
            ln -s /sys/class/tty "$DEV/subsystem"
            ;;
        esac
        printf 'MAJOR=%d\nMINOR=%d\nDEVNAME=%s\n' "$major" "$idx" "$name" >"$DEV/uevent"
        NODE="/dev/$name"
        mknod "$NODE" c "$major" "$idx"
        chmod 0600 "$NODE"
    }
    reset_udev_state() {
        rm -f /dev/wxprint-printer
        rm -rf /run/udev/links /run/udev/data /run/udev/tags
    }
    # check_dev VID:PID KIND LINK(yes|no) GROUP MMIGNORE(yes|no) [keep]
    check_dev() {
        local id=$1 kind=$2 link=$3 group=$4 mm=$5 keep=${6:-}
        [[ -n $keep ]] || reset_udev_state
        fake_dev "$id" "$kind"
        out=$(udevadm test --action=add "$DEV" 2>&1) || fail "udevadm test $id $kind: $out"
        local what="$id as $kind (${NODE#/dev/})"
        if grep -E "$warn" <<<"$out"; then fail "$what: warnings from $RULES_NAME (above)"; fi
        if [[ $link == yes ]]; then
            [[ $(readlink -f /dev/wxprint-printer) == "$NODE" ]] ||
                fail "$what: /dev/wxprint-printer -> '$(readlink /dev/wxprint-printer)', want $NODE"
            grep -q '^TAGS=.*:systemd:' <<<"$out" || fail "$what: not tagged systemd"
        else
            [[ ! -e /dev/wxprint-printer && ! -L /dev/wxprint-printer ]] ||
                fail "$what: must not get /dev/wxprint-printer"
        fi
        local got
        got=$(stat -c '%G %a' "$NODE")
        [[ $got == "$group 660" ]] || fail "$what: node is '$got', want '$group 660'"
        if [[ $mm == yes ]]; then
            grep -q '^ID_MM_DEVICE_IGNORE=1$' <<<"$out" || fail "$what: no ID_MM_DEVICE_IGNORE=1"
        else
            ! grep -q '^ID_MM_DEVICE_IGNORE=' <<<"$out" || fail "$what: unexpected ID_MM_DEVICE_IGNORE"
        fi
        checked=$((checked + 1))
    }

    local id kind
    for id in "${PRINTER_IDS[@]}"; do
        for kind in lp ttyUSB ttyACM; do
            check_dev "$id" "$kind" yes wxprint yes
        done
    done
    say "  ok   ${#PRINTER_IDS[@]} printer ids x (usblp, ttyUSB, ttyACM): /dev/wxprint-printer, wxprint 0660, TAG systemd, ModemManager ignore"
    for id in "${ADAPTER_IDS[@]}"; do
        check_dev "$id" ttyUSB no dialout yes
    done
    say "  ok   ${#ADAPTER_IDS[@]} generic USB-serial chips: no link, group stays dialout, ModemManager ignore"
    check_dev 1234:5678 ttyUSB no dialout no
    say "  ok   an unknown USB-serial device is not touched"
    check_dev 1234:5678 lp yes wxprint no
    say "  ok   any other usblp printer gets the link and group wxprint"
    # Link priority: a known model keeps the link against a generic usblp device, whatever
    # the plug order.
    reset_udev_state
    check_dev 0416:5011 ttyACM yes wxprint yes keep
    local known=$NODE
    fake_dev 1234:5678 lp
    udevadm test --action=add "$DEV" >/dev/null 2>&1 || fail "udevadm test (priority)"
    [[ $(readlink -f /dev/wxprint-printer) == "$known" ]] ||
        fail "a generic usblp printer took the link from a known model"
    reset_udev_state
    fake_dev 1234:5678 lp
    udevadm test --action=add "$DEV" >/dev/null 2>&1 || fail "udevadm test (priority)"
    check_dev 04b8:0e03 ttyACM yes wxprint yes keep
    say "  ok   a known printer wins the link over a generic usblp device (both plug orders)"
    say "  ok   $checked fake devices checked"
}

if [[ ${1:-} == __udev_ns ]]; then
    shift
    udev_ns "$@"
    exit 0
fi

# ---------------------------------------------------------------------------------------
cd "$ROOT"
[[ $(id -u) == 0 ]] || fail "run as root (unshare -m, mknod, apt-get)"
for f in systemd/wxprint.service systemd/wxprint.socket systemd/wxprint.sysusers \
    systemd/wxprint.tmpfile "udev/$RULES_NAME" debian/postinst debian/postrm; do
    [[ -f $f ]] || fail "missing $f"
done

START=$SECONDS
WORK=$(mktemp -d /tmp/wxprint-packaging.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
step() { printf '\n== %s\n' "$*"; STEP_START=$SECONDS; }
done_step() { say "  ($((SECONDS - STEP_START)) s)"; }

# --- 1 -------------------------------------------------------------------------------------
step "1. systemd-analyze verify (must print nothing)"
# verify fails when ExecStart's binary does not exist, and /usr/bin/wxprint is not installed
# here: check copies whose ExecStart is /bin/true (same arguments). Nothing else changes.
UNITS=$WORK/units
mkdir -p "$UNITS"
cp systemd/wxprint.service systemd/wxprint.socket "$UNITS/"
grep -q '^ExecStart=/usr/bin/wxprint serve$' "$UNITS/wxprint.service" ||
    fail "wxprint.service: expected ExecStart=/usr/bin/wxprint serve"
sed -i 's|^ExecStart=/usr/bin/wxprint |ExecStart=/bin/true |' "$UNITS/wxprint.service"
verify() { systemd-analyze verify --man=no "$@" 2>&1; }
out=$(verify "$UNITS/wxprint.service" "$UNITS/wxprint.socket") ||
    fail "systemd-analyze verify exited non-zero: $out"
[[ -z $out ]] || fail "systemd-analyze verify printed:"$'\n'"$out"
say "  ok   wxprint.service, wxprint.socket: no output"
# Self-test: a bad value must produce output, or this check proves nothing.
mkdir -p "$WORK/bad"
sed 's/^ProtectSystem=strict$/ProtectSystem=strictt/' "$UNITS/wxprint.service" >"$WORK/bad/wxprint.service"
cp "$UNITS/wxprint.socket" "$WORK/bad/"
out=$(verify "$WORK/bad/wxprint.service" "$WORK/bad/wxprint.socket") || true
[[ -n $out ]] || fail "verify self-test: a bad ProtectSystem= value went unnoticed"
say "  ok   self-test: a bad value is reported"
grep -q '^ListenStream=/run/wxprint/wxprint.sock$' systemd/wxprint.socket ||
    fail "wxprint.socket must listen on /run/wxprint/wxprint.sock (daemon.socket default)"
grep -q '^socket = "/run/wxprint/wxprint.sock"$' config/wxprint.toml ||
    fail "config/wxprint.toml daemon.socket differs from wxprint.socket's ListenStream"
say "  ok   socket path matches config/wxprint.toml"
! grep -Eq '^(PrivateDevices=yes|DynamicUser=yes|RuntimeDirectory=)' systemd/wxprint.service ||
    fail "wxprint.service: no PrivateDevices=yes (hides the printer), DynamicUser=yes (udev needs a static group) or RuntimeDirectory= (deleting /run/wxprint on stop would take the socket along)"
done_step

# --- 2 -------------------------------------------------------------------------------------
step "2. systemd-analyze security --offline (exposure <= 2.0)"
# --threshold is on a 0-100 scale (exposure x 10): 20 = 2.0.
if ! out=$(systemd-analyze security --offline=yes --threshold=20 --no-pager "$UNITS/wxprint.service" 2>&1); then
    printf '%s\n' "$out" | grep -F '✗' || true
    fail "exposure above 2.0: $(tail -n1 <<<"$out")"
fi
score=$(sed -n 's/.*Overall exposure level for wxprint.service: \([0-9.]*\).*/\1/p' <<<"$out")
[[ -n $score ]] || fail "no exposure score in: $out"
say "  ok   exposure $score (threshold 2.0)"
done_step

# --- 3 -------------------------------------------------------------------------------------
step "3. systemd-sysusers --root (scratch root seeded with Debian's base-passwd)"
SYS=$WORK/root
mkdir -p "$SYS/etc" "$SYS/usr/lib/sysusers.d" "$SYS/usr/lib/tmpfiles.d"
if [[ -f /usr/share/base-passwd/passwd.master ]]; then
    cp /usr/share/base-passwd/passwd.master "$SYS/etc/passwd"
    cp /usr/share/base-passwd/group.master "$SYS/etc/group"
else
    grep -Ev '^(wxprint|wxprint-pos):' /etc/passwd >"$SYS/etc/passwd"
    grep -Ev '^(wxprint|wxprint-pos):' /etc/group >"$SYS/etc/group"
fi
# The file must sit inside the root; a path outside it is "ignored".
cp systemd/wxprint.sysusers "$SYS/usr/lib/sysusers.d/wxprint.conf"
systemd-sysusers --root="$SYS" 2>&1 | sed 's/^/  | /'
[[ ${PIPESTATUS[0]} == 0 ]] || fail "systemd-sysusers failed"
pw=$(grep '^wxprint:' "$SYS/etc/passwd") || fail "no user wxprint"
IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
((uid < 1000)) || fail "wxprint uid $uid is not a system uid"
[[ $home == /var/lib/wxprint && $shell == /usr/sbin/nologin ]] ||
    fail "wxprint home/shell: $home $shell"
[[ $(awk -F: '$1=="wxprint"{print $3}' "$SYS/etc/group") == "$gid" ]] || fail "no group wxprint = primary gid"
grep -q '^wxprint-pos:' "$SYS/etc/group" || fail "no group wxprint-pos"
for g in dialout lp wxprint-pos; do
    awk -F: -v g="$g" '$1==g{print $4}' "$SYS/etc/group" | tr ',' '\n' | grep -qx wxprint ||
        fail "wxprint is not a member of $g"
done
[[ $(awk -F: '$1=="dialout"{print $3}' "$SYS/etc/group") == 20 ]] || fail "dialout gid changed"
say "  ok   user wxprint ($uid:$gid, /var/lib/wxprint, nologin), group wxprint-pos, member of dialout lp wxprint-pos"
again=$(systemd-sysusers --root="$SYS" 2>&1)
[[ -z $again ]] || fail "second systemd-sysusers run changed something: $again"
say "  ok   second run changes nothing"
done_step

# --- 4 -------------------------------------------------------------------------------------
step "4. systemd-tmpfiles --root --create"
cp systemd/wxprint.tmpfile "$SYS/usr/lib/tmpfiles.d/wxprint.conf"
# As dpkg leaves things: the conffile root:root.
mkdir -p "$SYS/etc/wxprint"
install -m 0640 -o root -g root config/wxprint.toml "$SYS/etc/wxprint/wxprint.toml"
out=$(systemd-tmpfiles --root="$SYS" --create 2>&1) || fail "systemd-tmpfiles failed: $out"
[[ -z $out ]] || fail "systemd-tmpfiles printed: $out"
expect_stat() { # path "mode uid gid"
    local got
    got=$(stat -c '%a %u %g' "$SYS$1") || fail "missing $1"
    [[ $got == "$2" ]] || fail "$1 is '$got', want '$2'"
    say "  ok   $1 $2"
}
expect_stat /etc/wxprint "750 0 $gid"
expect_stat /etc/wxprint/wxprint.toml "640 0 $gid"
expect_stat /var/lib/wxprint "750 $uid $gid"
done_step

# --- 5 -------------------------------------------------------------------------------------
step "5. udev rules"
if ! command -v udevadm >/dev/null 2>&1; then
    say "  installing udev (for udevadm)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends udev >/dev/null
fi
RULES=udev/$RULES_NAME
# Static check: every printer id sits on one active line that does everything; generic
# adapters never get the link.
active=$(grep -Ev '^[[:space:]]*(#|$)' "$RULES")
for id in "${PRINTER_IDS[@]}"; do
    line=$(grep -F "ATTRS{idVendor}==\"${id%:*}\", ATTRS{idProduct}==\"${id#*:}\"" <<<"$active") ||
        fail "$RULES: no rule for printer $id"
    for want in 'SYMLINK+="wxprint-printer"' 'GROUP="wxprint"' 'MODE="0660"' 'TAG+="systemd"' \
        'ENV{ID_MM_DEVICE_IGNORE}="1"'; do
        grep -qF "$want" <<<"$line" || fail "$RULES: printer $id lacks $want"
    done
done
for id in "${ADAPTER_IDS[@]}"; do
    line=$(grep -F "ATTRS{idVendor}==\"${id%:*}\", ATTRS{idProduct}==\"${id#*:}\"" <<<"$active") ||
        fail "$RULES: no rule for adapter $id"
    grep -qF 'ENV{ID_MM_DEVICE_IGNORE}="1"' <<<"$line" || fail "$RULES: adapter $id lacks ModemManager opt-out"
    ! grep -qE 'SYMLINK|GROUP' <<<"$line" || fail "$RULES: adapter $id must keep its link/group"
done
grep -q '^#ATTRS{idVendor}=="vvvv", ATTRS{idProduct}=="pppp"' "$RULES" || fail "$RULES: template missing"
say "  ok   static: ${#PRINTER_IDS[@]} printer ids with link+group+mode+tag+MM, ${#ADAPTER_IDS[@]} adapters MM-only, template present"
# udevadm test writes links, /dev/char/* and /run/udev/* for real on systemd 252: only ever
# run it inside a private mount namespace.
host_before=$(ls -la /dev/wxprint-printer /run/udev/rules.d/$RULES_NAME 2>&1 || true)
unshare -m --propagation private bash "$SELF" __udev_ns "$WORK" "$ROOT/$RULES" "$SYS"
host_after=$(ls -la /dev/wxprint-printer /run/udev/rules.d/$RULES_NAME 2>&1 || true)
[[ ! -e /dev/wxprint-printer && $host_before == "$host_after" ]] ||
    fail "the host's /dev or /run/udev changed: $host_after"
say "  ok   host /dev and /run untouched (no /dev/wxprint-printer)"
say "  note matching real hardware (ATTRS as the kernel reports them) stays on the technician's"
say "       checklist: udevadm test \$(udevadm info -q path -n /dev/ttyUSB0)"
done_step

# --- 6 -------------------------------------------------------------------------------------
step "6. cargo deb"
if [[ ${WXPRINT_SKIP_DEB:-} == 1 ]]; then
    say "  SKIPPED (WXPRINT_SKIP_DEB=1)"
else
    if ! cargo deb --version >/dev/null 2>&1; then
        say "  installing cargo-deb (a few minutes)"
        cargo install cargo-deb --locked --version "${CARGO_DEB_VERSION:-^3.8}"
    fi
    say "  $(cargo deb --version)"
    cargo deb --locked 2>&1 | tee "$WORK/cargo-deb.log" | grep -Ev '^\s+(Compiling|Checking|Downloaded|Downloading)' || true
    [[ ${PIPESTATUS[0]} == 0 ]] || fail "cargo deb failed (log above)"
    DEB=$(tail -n1 "$WORK/cargo-deb.log")
    [[ $DEB == *.deb && -f $DEB ]] || fail "cargo deb did not name a .deb: $DEB"
    say "  built $DEB"
    list=$(dpkg-deb -c "$DEB")
    expect_file() { # path [mode]
        local l
        l=$(awk -v p=".$1" '$6==p' <<<"$list")
        [[ -n $l ]] || fail ".deb lacks $1"
        [[ -z ${2:-} || $l == "$2 "* ]] || fail ".deb: $1 is ${l%% *}, want $2"
        say "  ok   $1 ${2:-}"
    }
    expect_file /usr/bin/wxprint -rwxr-xr-x
    expect_file /usr/lib/systemd/system/wxprint.service -rw-r--r--
    expect_file /usr/lib/systemd/system/wxprint.socket -rw-r--r--
    expect_file /usr/lib/sysusers.d/wxprint.conf -rw-r--r--
    expect_file /usr/lib/tmpfiles.d/wxprint.conf -rw-r--r--
    expect_file /usr/lib/udev/rules.d/$RULES_NAME -rw-r--r--
    expect_file /etc/wxprint/wxprint.toml -rw-r-----
    expect_file /usr/share/doc/wxprint/README.md
    # The README's links into docs/ resolve in the installed package too.
    for doc in "$ROOT"/docs/*.md; do
        expect_file "/usr/share/doc/wxprint/docs/$(basename "$doc")" -rw-r--r--
    done
    depends=$(dpkg-deb -f "$DEB" Depends)
    grep -qw ca-certificates <<<"$depends" || fail "Depends lacks ca-certificates: $depends"
    say "  ok   Depends: $depends"
    CTRL=$WORK/control
    dpkg-deb -e "$DEB" "$CTRL"
    grep -qx /etc/wxprint/wxprint.toml "$CTRL/conffiles" || fail "conffiles lacks /etc/wxprint/wxprint.toml"
    say "  ok   conffiles: $(tr '\n' ' ' <"$CTRL/conffiles")"
    for s in postinst postrm prerm; do
        [[ -f $CTRL/$s ]] || fail ".deb has no $s"
        sh -n "$CTRL/$s" || fail "$s: shell syntax error"
        ! grep -q '#DEBHELPER#' "$CTRL/$s" || fail "$s: #DEBHELPER# not replaced"
    done
    for want in 'systemd-sysusers' 'systemd-tmpfiles --create wxprint.conf' \
        'deb-systemd-helper' 'wxprint.socket' 'chgrp wxprint /etc/wxprint/wxprint.toml' \
        'udevadm control --reload-rules'; do
        grep -qF -- "$want" "$CTRL/postinst" || fail "postinst lacks: $want"
    done
    code=$(grep -Ev '^[[:space:]]*#' "$CTRL/postinst")
    # Each generated snippet exactly once (a stray token, e.g. in a comment, duplicates it).
    for want in 'systemd-sysusers ${DPKG_ROOT' 'systemd-tmpfiles --create wxprint.conf' \
        'deb-systemd-helper enable wxprint.service' 'deb-systemd-helper enable wxprint.socket'; do
        [[ $(grep -cF -- "$want" <<<"$code") == 1 ]] || fail "postinst: '$want' not exactly once"
    done
    # Order: sysusers (creates the group) before tmpfiles and before our chgrp.
    first=$(grep -E 'systemd-sysusers|systemd-tmpfiles --create|chgrp wxprint' <<<"$code" | head -n1)
    [[ $first == *systemd-sysusers* ]] || fail "postinst: systemd-sysusers does not run first"
    # enable = true, start = false: enabled on install, never started by the install (no keys
    # yet); only a unit that is already running is restarted on upgrade (try-restart).
    ! grep -Eq 'deb-systemd-invoke +(start|restart)' <<<"$code" ||
        fail "postinst starts the service (start = false expected)"
    grep -q 'deb-systemd-invoke try-restart wxprint.service' "$CTRL/postinst" ||
        fail "postinst: no try-restart on upgrade"
    grep -q 'deb-systemd-invoke stop' "$CTRL/prerm" || fail "prerm does not stop the units"
    say "  ok   maintainer scripts: sysusers -> tmpfiles -> enable (no start; try-restart on upgrade) -> chgrp, udev reload; prerm stops"
    cmp -s <(dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/lib/systemd/system/wxprint.service) systemd/wxprint.service ||
        fail "the packaged wxprint.service differs from systemd/wxprint.service"
    say "  ok   packaged unit == systemd/wxprint.service"
fi
done_step

printf '\nAll packaging checks passed in %d s.\n' $((SECONDS - START))
