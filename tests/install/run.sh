#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The install test: install a built tree into a temporary prefix and use the
# library from there as a user's program would.
#
#   run.sh BUILD_DIR SOURCE_DIR GUEST_ELF [plain|sanitize]
#
# Checks: only include/libcvm/*.h is installed; the shared library's SONAME is
# libcvm.so.0 and it exports only cvm_* symbols; examples/hello.c,
# custom_pio.c and custom_virtio.c build with pkg-config and examples/ with
# find_package(cvm); both hello programs boot GUEST_ELF and print its
# greeting; both builds of the custom-device examples run the guest's
# custom_pio and custom_virtio tests, sandboxed with the installed policies,
# which the moved library finds next to itself (no policy directory given).
# Exits 77 (skipped) when /dev/kvm cannot be used, after every check that
# does not need it.
set -euo pipefail

if [[ $# -lt 3 || $# -gt 4 ]]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR GUEST_ELF [plain|sanitize]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
guest=$3
mode=${4:-plain}
greeting="Hello from a libcvm guest"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cvm-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() {
	echo "install test: FAIL: $*" >&2
	exit 1
}
ok() {
	echo "install test: ok: $*"
}

extra_cflags=()
if [[ $mode == sanitize ]]; then
	# The installed library is instrumented; its users must be as well.
	# shellcheck disable=SC2054 # the comma belongs to the flag
	extra_cflags=(-fsanitize=address,undefined -fno-omit-frame-pointer)
fi

# 1. Install.
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
	{ cat "$tmp/install.log" >&2; fail "cmake --install"; }
ok "cmake --install $build --prefix $prefix"

# 2. Headers: exactly the public ones, under include/libcvm.
mapfile -t headers < <(cd "$prefix" && find . -name '*.h' -o -name '*.hpp' | sed 's|^\./||' | LC_ALL=C sort)
expected=()
for h in "$src"/include/libcvm/*.h; do
	expected+=("include/libcvm/$(basename "$h")")
done
expected+=(include/libcvm/version.h)
mapfile -t expected < <(printf '%s\n' "${expected[@]}" | LC_ALL=C sort -u)
if [[ "${headers[*]}" != "${expected[*]}" ]]; then
	echo "installed: ${headers[*]}" >&2
	echo "expected:  ${expected[*]}" >&2
	fail "the installed headers are not exactly include/libcvm's"
fi
ok "headers: ${headers[*]}"

# 3. The shared library: SONAME and exported symbols.
pc=$(find "$prefix" -name cvm.pc -path '*/pkgconfig/*' | head -n 1)
[[ -n $pc ]] || fail "no cvm.pc installed"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
so=$libdir/libcvm.so
[[ -e $so ]] || fail "no $so (next to $pc)"
[[ -e $libdir/libcvm.so.0 ]] || fail "no $libdir/libcvm.so.0"
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[[ $soname == libcvm.so.0 ]] || fail "SONAME is '$soname', not libcvm.so.0"
ok "SONAME $soname"

nm -D --defined-only "$so" | awk 'NF >= 3 { print $3 }' >"$tmp/symbols"
[[ -s $tmp/symbols ]] || fail "libcvm.so exports nothing"
if grep -v '^cvm_' "$tmp/symbols" >"$tmp/bad-symbols"; then
	cat "$tmp/bad-symbols" >&2
	fail "libcvm.so exports symbols outside the cvm_ namespace (above)"
fi
ok "exports $(wc -l <"$tmp/symbols") symbols, all cvm_*"

# 4. A program built with pkg-config. cvm.pc finds its prefix relative to
# itself (${pcfiledir}), so the tree installed under $prefix works as it is.
export PKG_CONFIG_PATH=$pcdir
flags=$(pkg-config --cflags --libs cvm) ||
	fail "pkg-config --cflags --libs cvm"
for ex in hello custom_pio custom_virtio; do
	# shellcheck disable=SC2086 # word splitting of the flags is intended
	cc -std=gnu11 -Wall -Wextra -Werror "${extra_cflags[@]}" "$src/examples/$ex.c" \
		-o "$tmp/$ex-pc" $flags || fail "building examples/$ex.c with: $flags"
	ok "examples/$ex.c built with pkg-config: $flags"
done

# 5. A project built with find_package(cvm).
cflags_def=()
if [[ ${#extra_cflags[@]} -gt 0 ]]; then
	cflags_def=("-DCMAKE_C_FLAGS=${extra_cflags[*]}")
fi
cmake -S "$src/examples" -B "$tmp/examples" -DCMAKE_PREFIX_PATH="$prefix" \
	"${cflags_def[@]}" >"$tmp/examples.log" 2>&1 ||
	{ cat "$tmp/examples.log" >&2; fail "configuring examples/ with find_package(cvm)"; }
cmake --build "$tmp/examples" >>"$tmp/examples.log" 2>&1 ||
	{ cat "$tmp/examples.log" >&2; fail "building examples/"; }
for ex in hello custom_pio custom_virtio; do
	[[ -x $tmp/examples/$ex ]] || fail "examples/ built no $ex"
done
ok "examples/ built with find_package(cvm)"

# 6. Boot the demo guest with both.
[[ -f $guest ]] || fail "no guest program at $guest"
if ! [[ -r /dev/kvm && -w /dev/kvm ]]; then
	echo "install test: SKIP: /dev/kvm is not usable; the guest was not run"
	exit 77
fi
run_hello() {
	local name=$1 rc=0
	shift
	timeout 60 env "$@" "$guest" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
	if [[ $rc -ne 0 ]] || ! grep -qF "$greeting" "$tmp/$name.out"; then
		echo "--- stdout:" >&2
		cat "$tmp/$name.out" >&2
		echo "--- stderr:" >&2
		cat "$tmp/$name.err" >&2
		[[ $rc -ne 124 ]] || fail "$name timed out after 60 s"
		[[ $rc -eq 0 ]] || fail "$name exited with $rc"
		fail "$name did not print '$greeting'"
	fi
	ok "$name booted the guest: $(grep -F "$greeting" "$tmp/$name.out" | head -n 1)"
}
run_hello hello-pc LD_LIBRARY_PATH="$libdir" "$tmp/hello-pc"
run_hello hello-cmake "$tmp/examples/hello"

# 7. The custom-device examples, sandboxed (the default) with the policies
# installed under $prefix: none of CVM_POLICY_DIR and CVM_NO_SANDBOX is set,
# so the library must find $prefix/share/policy/cvm by itself.
# run_custom NAME WANT_STATUS CMDLINE COMMAND...: COMMAND ran the guest with
# CMDLINE and exited WANT_STATUS; its stdout is in $tmp/NAME.out.
run_custom() {
	local name=$1 want=$2 cmdline=$3 rc=0
	shift 3
	timeout 60 env -u CVM_POLICY_DIR -u CVM_NO_SANDBOX "$@" "$guest" "$cmdline" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
	if [[ $rc -ne $want ]] || grep -q '^FAIL ' "$tmp/$name.out"; then
		echo "--- stdout:" >&2
		cat "$tmp/$name.out" >&2
		echo "--- stderr:" >&2
		cat "$tmp/$name.err" >&2
		[[ $rc -ne 124 ]] || fail "$name timed out after 60 s"
		[[ $rc -eq $want ]] || fail "$name exited with $rc, not $want"
		fail "the guest's test failed under $name"
	fi
}
# expect_line NAME LINE: $tmp/NAME.out has LINE, exactly.
expect_line() {
	grep -qxF "$2" "$tmp/$1.out" || {
		cat "$tmp/$1.out" "$tmp/$1.err" >&2
		fail "$1 did not print '$2'"
	}
}
for build in pc cmake; do
	if [[ $build == pc ]]; then
		pio=(LD_LIBRARY_PATH="$libdir" "$tmp/custom_pio-pc")
		virtio=(LD_LIBRARY_PATH="$libdir" "$tmp/custom_virtio-pc")
	else
		pio=("$tmp/examples/custom_pio")
		virtio=("$tmp/examples/custom_virtio")
	fi
	for code in 42 7; do
		run_custom "custom_pio-$build" "$code" "cvm.test=custom_pio cvm.exit=$code" "${pio[@]}"
		expect_line "custom_pio-$build" "DEBUG-EXIT ID 0x4356"
		expect_line "custom_pio-$build" "DEBUG-EXIT write $code"
	done
	ok "custom_pio-$build: the guest read the ID and its writes of 42 and 7 were the exit status"
	run_custom "custom_virtio-$build" 0 cvm.test=custom_virtio "${virtio[@]}"
	expect_line "custom_virtio-$build" "PASS custom_virtio"
	expect_line "custom_virtio-$build" \
		"custom_virtio: 4 requests echoed, 2 rejected (guest stopped: reset)"
	ok "custom_virtio-$build: PASS custom_virtio, 4 requests echoed, 2 rejected"
done
