#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# fetch-kernel.sh OUTDIR: put a Debian cloud kernel as an ELF vmlinux at
# OUTDIR/vmlinux for the Linux boot test.
#
# Downloads the package that linux-image-cloud-amd64 depends on with
# `apt-get download` (kept in OUTDIR, so later runs need no network),
# extracts boot/vmlinuz-*, and decompresses its payload: an LZ4 legacy frame
# (magic 02 21 4c 18). The magic bytes also occur in the decompressor's own
# code, so every occurrence is tried until one yields an ELF file.
# Exits 0 with OUTDIR/vmlinux in place, or non-zero with the reason on stderr.
set -eu

die() {
	echo "fetch-kernel.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: fetch-kernel.sh OUTDIR"
out=$1
mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)

is_elf() {
	[ -s "$1" ] && [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = "7f454c46" ]
}

if is_elf "$out/vmlinux"; then
	exit 0
fi

for tool in apt-get apt-cache dpkg-deb lz4 grep od; do
	command -v "$tool" >/dev/null 2>&1 || die "'$tool' is needed but not installed"
done

deb=$(ls "$out"/linux-image-*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
	resolve() {
		apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n 1
	}
	pkg=$(resolve)
	if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
		echo "fetch-kernel.sh: no package list yet: apt-get update" >&2
		apt-get update -qq >&2 || die "apt-get update failed"
		pkg=$(resolve)
	fi
	[ -n "$pkg" ] || die "cannot resolve the package linux-image-cloud-amd64 depends on (apt-cache depends found nothing; run apt-get update)"
	echo "fetch-kernel.sh: downloading $pkg" >&2
	(cd "$out" && apt-get download "$pkg" >&2) || die "apt-get download $pkg failed"
	deb=$(ls "$out"/"$pkg"_*.deb 2>/dev/null | head -n 1 || true)
	[ -n "$deb" ] || die "apt-get download $pkg left no .deb in $out"
fi

tmp=$(mktemp -d "$out/extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
vmlinuz=$(ls "$tmp"/root/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
[ -n "$vmlinuz" ] || die "$deb has no boot/vmlinuz-*"

offsets=$(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$vmlinuz" | cut -d: -f1 || true)
[ -n "$offsets" ] || die "no LZ4 frame (02 21 4c 18) in $vmlinuz"
for off in $offsets; do
	# The frame is followed by the rest of the bzImage: lz4 then complains
	# about trailing garbage, which is expected; the output is what counts.
	tail -c +$((off + 1)) "$vmlinuz" | lz4 -dc >"$tmp/vmlinux" 2>"$tmp/lz4.err" || true
	if is_elf "$tmp/vmlinux"; then
		mv "$tmp/vmlinux" "$out/vmlinux"
		echo "fetch-kernel.sh: $out/vmlinux from $(basename "$deb") (LZ4 frame at $off)" >&2
		exit 0
	fi
done
die "no LZ4 frame in $vmlinuz decompressed to an ELF file (last lz4 error: $(head -c 300 "$tmp/lz4.err"))"
