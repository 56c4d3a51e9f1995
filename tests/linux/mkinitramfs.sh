#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# mkinitramfs.sh INIT OUT: a newc cpio archive with INIT as /init and an
# empty /dev (the kernel's built-in initramfs already has /dev/console; the
# init makes the node itself if not).
set -eu
[ $# -eq 2 ] || { echo "usage: mkinitramfs.sh INIT OUT" >&2; exit 1; }
command -v cpio >/dev/null 2>&1 || { echo "mkinitramfs.sh: cpio is not installed" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/dev"
cp "$1" "$stage/init"
chmod 0755 "$stage/init"
(cd "$stage" && printf 'dev\ninit\n' | cpio -o -H newc --owner=0:0 --quiet) >"$2.tmp"
mv "$2.tmp" "$2"
