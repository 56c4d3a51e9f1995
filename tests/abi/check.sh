#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The ABI test: what the shared library exports, against a committed list.
#
#   check.sh LIBCVM_SO INCLUDE_DIR SYMBOL_LIST
#
# LIBCVM_SO is the built libcvm.so, INCLUDE_DIR the public headers
# (include/libcvm), SYMBOL_LIST tests/abi/exported-symbols.txt: every symbol
# the library exports, one a line, sorted (LC_ALL=C), nothing else. Fails,
# naming the symbols, when
#   - a listed symbol is not exported any more (an ABI break);
#   - the library exports a symbol the list does not have (add it to the list
#     in the same change, so that every new export is a conscious one);
#   - a function or object declared CVM_EXPORT in INCLUDE_DIR/*.h is not
#     exported, or an exported one is not declared CVM_EXPORT there;
#   - the list is not sorted and free of duplicates.
# The list is regenerated, for review, with:
#   nm -D --defined-only LIBCVM_SO | awk 'NF >= 3 && $2 != "A" { print $3 }' |
#	sed 's/@.*//' | LC_ALL=C sort -u >tests/abi/exported-symbols.txt
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 3 ]]; then
	echo "usage: $0 LIBCVM_SO INCLUDE_DIR SYMBOL_LIST" >&2
	exit 2
fi
so=$1
inc=$2
list=$3
for f in "$so" "$list"; do
	[[ -r $f ]] || {
		echo "abi: cannot read $f" >&2
		exit 2
	}
done
[[ -d $inc ]] || {
	echo "abi: no header directory $inc" >&2
	exit 2
}
command -v nm >/dev/null || {
	echo "abi: nm (binutils) not found" >&2
	exit 2
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cvm-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0

# Report the symbols in file $2 (if any) under heading $1.
report() {
	if [[ -s $2 ]]; then
		echo "abi: $1:" >&2
		sed 's/^/    /' "$2" >&2
		status=1
	fi
}

# What the library exports: defined dynamic symbols, without version suffixes
# or version nodes (type A).
nm -D --defined-only "$so" | awk 'NF >= 3 && $2 != "A" { print $3 }' | sed 's/@.*//' |
	sort -u >"$tmp/exported"
[[ -s $tmp/exported ]] || {
	echo "abi: $so exports nothing" >&2
	exit 1
}

# The committed list: names only, sorted, no duplicates.
if grep -nvE '^[A-Za-z_][A-Za-z0-9_]*$' "$list" >"$tmp/bad-lines"; then
	report "$list: lines that are not a symbol name" "$tmp/bad-lines"
fi
grep -E '^[A-Za-z_][A-Za-z0-9_]*$' "$list" >"$tmp/listed" || true
if ! sort -c -u "$tmp/listed" 2>/dev/null; then
	echo "abi: $list is not sorted and unique (LC_ALL=C sort -u)" >&2
	sort "$tmp/listed" | uniq -d | sed 's/^/    duplicate: /' >&2
	status=1
fi
sort -u -o "$tmp/listed" "$tmp/listed"

# What the public headers declare CVM_EXPORT: comments and preprocessor lines
# out, then the name before the parameter list (or before ';' for an object).
shopt -s nullglob
headers=("$inc"/*.h "$inc"/*.h.in)
[[ ${#headers[@]} -gt 0 ]] || {
	echo "abi: no headers in $inc" >&2
	exit 2
}
for h in "${headers[@]}"; do
	perl -0777 -ne '
		s{/\*.*?\*/}{ }gs;
		s{//[^\n]*}{}g;
		s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}mg;
		while (/\bCVM_EXPORT\b([^;{(]*)[(;]/g) {
			my $d = $1;
			$d =~ s/\[[^\]]*\]\s*$//;
			print "$1\n" if $d =~ /([A-Za-z_]\w*)\s*$/;
		}' "$h"
done | sort -u >"$tmp/declared"
[[ -s $tmp/declared ]] || {
	echo "abi: no CVM_EXPORT declarations found in $inc" >&2
	exit 1
}

comm -23 "$tmp/listed" "$tmp/exported" >"$tmp/missing"
report "listed in $(basename "$list") but not exported by $(basename "$so") (an ABI break)" \
	"$tmp/missing"
comm -13 "$tmp/listed" "$tmp/exported" >"$tmp/new"
report "exported but not in $(basename "$list") (a new export: add it to the list if it is meant)" \
	"$tmp/new"
comm -23 "$tmp/declared" "$tmp/exported" >"$tmp/unexported"
report "declared CVM_EXPORT in $inc but not exported" "$tmp/unexported"
comm -13 "$tmp/declared" "$tmp/exported" >"$tmp/undeclared"
if [[ -s $tmp/undeclared ]]; then
	while read -r sym; do
		where=$(grep -lw -- "$sym" "${headers[@]}" | xargs -r -n1 basename | paste -sd, -) ||
			true
		echo "$sym${where:+ (named in $where, without CVM_EXPORT)}"
	done <"$tmp/undeclared" >"$tmp/undeclared-why"
	report "exported but not declared CVM_EXPORT in a public header ($inc)" "$tmp/undeclared-why"
fi

if [[ $status -eq 0 ]]; then
	echo "abi: OK: $(wc -l <"$tmp/exported") exported symbols, as listed and declared"
fi
exit $status
