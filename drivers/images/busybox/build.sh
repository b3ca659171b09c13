#!/usr/bin/env bash
# Build nomadlab/busybox:latest without a registry: Debian's busybox-static binary, a
# symlink per applet, a tiny /www/index.html, imported with `docker import`.
#
# Usage: build.sh [--force]   (skips the build when the image exists, unless --force)
set -euo pipefail

IMAGE="${NOMADLAB_BUSYBOX_IMAGE:-nomadlab/busybox:latest}"
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        *) echo "usage: $0 [--force]" >&2; exit 2 ;;
    esac
done

say() { echo "busybox image: $*"; }

if [ "$FORCE" -eq 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE already present; skipping (use --force to rebuild)"
    exit 0
fi

BUSYBOX=/bin/busybox
if [ ! -x "$BUSYBOX" ] || ! "$BUSYBOX" --list >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        say "$BUSYBOX is missing and this is not root; install Debian's busybox-static first" >&2
        exit 1
    fi
    say "installing Debian's busybox-static (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q busybox-static
fi
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    say "$BUSYBOX is dynamically linked; it would not run in an empty image (need busybox-static)" >&2
    exit 1
fi

ROOTFS="$(mktemp -d)"
trap 'rm -rf "$ROOTFS"' EXIT

say "assembling rootfs in $ROOTFS"
mkdir -p "$ROOTFS"/{bin,etc,tmp,www,alloc,local,secrets,proc,sys,dev}
chmod 1777 "$ROOTFS/tmp"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
count=0
for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] && continue
    ln -sf busybox "$ROOTFS/bin/$applet"
    count=$((count + 1))
done
say "linked $count applets (sh, httpd, echo, cat, sleep, env, ls, wget, nc, ...)"
for required in sh httpd echo cat sleep env ls wget nc; do
    [ -e "$ROOTFS/bin/$required" ] || { say "busybox has no '$required' applet" >&2; exit 1; }
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"
cat >"$ROOTFS/www/index.html" <<'HTML'
<!doctype html>
<title>nomadlab</title>
<p>Hello from nomadlab/busybox, served by busybox httpd.</p>
HTML

say "importing as $IMAGE"
tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/bin' \
    --change 'WORKDIR /' \
    --change 'CMD ["/bin/sh"]' \
    --change 'LABEL org.opencontainers.image.source=nomadlab/drivers/images/busybox' \
    - "$IMAGE" >/dev/null
say "built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes)"
