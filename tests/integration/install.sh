#!/usr/bin/env bash
# install.sh - `meson install` of this build into a temporary DESTDIR, and
# the public API used from there as another project would use it:
#   - every file in its place: the programs, both libraries static and shared
#     (soname, version), the headers, the pkg-config files, the manual pages,
#     the gdb helpers where gdb auto-loads them;
#   - the shared libraries export the API of their headers and nothing else;
#   - every installed header compiles on its own;
#   - docs/examples/echo_server.c builds with pkg-config alone, and echoes
#     what the kernel's nc sends it, inside a namespace made here;
#   - gdb loads the helpers for the installed library and program;
#   - tapnc and tapd print the project's version.
# meson passes the build's directories (PREFIX, LIBDIR, ...) and sanitizers.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc readelf nm pkg-config cc gdb

: "${PREFIX:?}" "${LIBDIR:?}" "${BINDIR:?}" "${INCLUDEDIR:?}" "${DATADIR:?}" "${MANDIR:?}"
: "${VERSION:?}" "${SOVERSION:?}" "${SRC:?}"
abs() { case $1 in /*) echo "$1" ;; *) echo "$PREFIX/$1" ;; esac; }
DEST=$TMP/dest
LIB=$DEST$(abs "$LIBDIR")
BIN=$DEST$(abs "$BINDIR")
INC=$DEST$(abs "$INCLUDEDIR")
SHARE=$DEST$(abs "$DATADIR")
MAN=$DEST$(abs "$MANDIR")

# --no-rebuild: meson test has built everything; no second ninja meanwhile.
meson install -C "$BUILD" --no-rebuild --destdir "$DEST" >"$TMP/install.log" 2>&1 ||
    { show "$TMP/install.log"; fail "meson install failed"; }
pass "meson install --destdir"

missing=
for f in "$BIN/tapnc" "$BIN/tapd" \
    "$LIB/libsynack.so.$VERSION" "$LIB/libsynack.so.$SOVERSION" "$LIB/libsynack.so" "$LIB/libsynack.a" \
    "$LIB/libsynack-tap.so.$VERSION" "$LIB/libsynack-tap.so.$SOVERSION" "$LIB/libsynack-tap.so" \
    "$LIB/libsynack-tap.a" "$INC/synack.h" "$INC/synack/host.h" \
    "$LIB/pkgconfig/synack.pc" "$LIB/pkgconfig/synack-tap.pc" \
    "$MAN/man1/tapnc.1" "$MAN/man1/tapd.1" "$MAN/man3/synack.3"; do
    [ -e "$f" ] || missing+=" ${f#"$DEST"}"
done
[ -x "$BIN/tapnc" ] && [ -x "$BIN/tapd" ] || missing+=" (tapnc or tapd not executable)"
[ -z "$missing" ] || { (cd "$DEST" && find . -type f -o -type l) >&2; fail "not installed:$missing"; }
pass "programs, libraries, headers, pkg-config files and manual pages in their places"

# The soname, and the development link pointing at it.
for l in synack synack-tap; do
    so=$(readelf -d "$LIB/lib$l.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$so" = "lib$l.so.$SOVERSION" ] || fail "lib$l.so.$VERSION: soname '$so', want lib$l.so.$SOVERSION"
    [ "$(readlink "$LIB/lib$l.so")" = "lib$l.so.$SOVERSION" ] &&
        [ "$(readlink "$LIB/lib$l.so.$SOVERSION")" = "lib$l.so.$VERSION" ] ||
        fail "lib$l.so links: $(ls -l "$LIB"/lib"$l".so*)"
    readelf -d "$LIB/lib$l.so.$VERSION" | grep -qE 'RPATH|RUNPATH' && fail "lib$l.so keeps the build's rpath"
done
readelf -d "$LIB/libsynack-tap.so.$VERSION" | grep -q "NEEDED.*\[libsynack.so.$SOVERSION\]" ||
    fail "libsynack-tap.so does not need libsynack.so.$SOVERSION"
pass "sonames libsynack.so.$SOVERSION and libsynack-tap.so.$SOVERSION, version $VERSION"

# Exported: exactly the functions synack.h declares (the map file's sk_*
# less the internal ones), and for the tap library only names of its headers.
want=$(grep -oE '\bsk_[a-z0-9_]+ *\(' "$INC/synack.h" | tr -d ' (' | sort -u)
got=$(nm -D --defined-only "$LIB/libsynack.so.$VERSION" | awk '{ print $3 }' | sort -u)
[ "$want" = "$got" ] || fail "libsynack.so exports other than synack.h declares:" \
    "$(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"
for sym in $(nm -D --defined-only "$LIB/libsynack-tap.so.$VERSION" | awk '{ print $3 }'); do
    grep -qw "$sym" "$INC"/synack/*.h || fail "libsynack-tap.so exports $sym, which no installed header declares"
done
pass "the shared libraries export their headers' API only ($(echo "$got" | wc -l) functions in libsynack)"

export PKG_CONFIG_PATH=$LIB/pkgconfig
# The .pc files name the real prefix; the sysroot puts DESTDIR before it.
export PKG_CONFIG_SYSROOT_DIR=$DEST
v=$(pkg-config --modversion synack) || fail "pkg-config does not find synack"
[ "$v" = "$VERSION" ] || fail "pkg-config --modversion synack: $v, want $VERSION"
pkg-config --static --libs synack-tap | grep -q -- '-lpcap' || fail "synack-tap.pc: no libpcap for static links"
pass "pkg-config --modversion synack: $v"

# The flags of the build under test (sanitizers need their runtime too).
CFLAGS=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
[ "${SANITIZE:-none}" = none ] || CFLAGS+=("-fsanitize=$SANITIZE")
# shellcheck disable=SC2046 # pkg-config's flags are words
for h in synack.h synack/host.h synack/tap.h synack/trace.h synack/impair.h synack/ladder.h; do
    echo "#include <$h>" | cc "${CFLAGS[@]}" $(pkg-config --cflags synack-tap) -fsyntax-only -x c - \
        2>"$TMP/hdr.err" || { show "$TMP/hdr.err"; fail "<$h> does not compile on its own"; }
done
pass "each installed header compiles on its own"

EX=$TMP/echo_server
# shellcheck disable=SC2046
cc "${CFLAGS[@]}" -o "$EX" "$SRC/docs/examples/echo_server.c" $(pkg-config --cflags --libs synack-tap) \
    2>"$TMP/cc.err" || { show "$TMP/cc.err"; fail "the example does not build with pkg-config synack-tap"; }
readelf -d "$EX" | grep -q "NEEDED.*\[libsynack.so.$SOVERSION\]" &&
    readelf -d "$EX" | grep -q "NEEDED.*\[libsynack-tap.so.$SOVERSION\]" ||
    fail "the example is not linked to the shared libraries"
# And statically, against the archives (libpcap, and liburing when built
# with it, stay shared: what pkg-config --static adds beyond synack).
PRIV=$(pkg-config --static --libs-only-l synack-tap | tr ' ' '\n' | grep -v '^-lsynack' | tr '\n' ' ')
# shellcheck disable=SC2046,SC2086
cc "${CFLAGS[@]}" -o "$EX-static" "$SRC/docs/examples/echo_server.c" $(pkg-config --cflags synack-tap) \
    -L"$LIB" -Wl,-Bstatic -lsynack-tap -lsynack -Wl,-Bdynamic $PRIV \
    2>"$TMP/cc.err" || { show "$TMP/cc.err"; fail "the example does not link the static libraries"; }
readelf -d "$EX-static" | grep -q 'NEEDED.*libsynack' && fail "the static example still needs libsynack.so"
pass "docs/examples/echo_server.c builds against the installed libraries, shared and static"

# Run it, in a namespace, on the installed shared libraries.
ns_create
NS=$NS_LAST
export LD_LIBRARY_PATH=$LIB
start_bg "$NS" echo_server "$EX" 7007
wait_tap_up "$NS" tap0 "$HOST_IP" "$BG_LAST"
ECHO_PID=$BG_LAST
head -c 100000 /dev/urandom >"$TMP/data"
printf 'hello, synack\n' | ns_exec "$NS" timeout 10 nc -N "$STACK_IP" 7007 >"$TMP/hello" 2>"$TMP/nc.err" ||
    { show "$TMP/nc.err" "$TMP/echo_server.err"; fail "nc to the example failed"; }
[ "$(cat "$TMP/hello")" = "hello, synack" ] || fail "the example echoed '$(cat "$TMP/hello")'"
ns_exec "$NS" timeout 20 nc -N "$STACK_IP" 7007 <"$TMP/data" >"$TMP/back" 2>"$TMP/nc.err" ||
    { show "$TMP/nc.err" "$TMP/echo_server.err"; fail "nc (100000 bytes) to the example failed"; }
cmp -s "$TMP/data" "$TMP/back" || fail "100000 bytes came back as $(wc -c <"$TMP/back") other bytes"
grep -q 'echoes on port 7007' "$TMP/echo_server.err" || { show "$TMP/echo_server.err"; fail "no greeting"; }
kill -TERM "$ECHO_PID"
wait_exit "$ECHO_PID" 10 || fail "the example did not exit on SIGTERM"
[ "$EXIT_CODE" = 0 ] || { show "$TMP/echo_server.err"; fail "the example exited with $EXIT_CODE"; }
pass "the example echoes nc's line and 100000 bytes, and exits 0 on SIGTERM"

# gdb looks for SCRIPTS-DIRECTORY/REALPATH-gdb.py.  Installed for real,
# REALPATH would be PREFIX/...; here it is DEST/PREFIX/..., so a scripts
# directory whose DEST leads to the installed auto-load directory is what
# gdb would see with the files in place.
GDBDIR=$TMP/gdb-scripts
mkdir -p "$(dirname "$GDBDIR$DEST")"
ln -s "$SHARE/gdb/auto-load" "$GDBDIR$DEST"
[ -e "$SHARE/gdb/auto-load$(abs "$LIBDIR")/libsynack.so.$VERSION-gdb.py" ] ||
    fail "no gdb helpers for libsynack.so.$VERSION under $SHARE/gdb/auto-load"
gdb_auto()
{
    gdb -nx -q -batch -iex "set auto-load scripts-directory $GDBDIR" -iex "set auto-load safe-path /" "$@" 2>&1
}
out=$(gdb_auto -ex 'break main' -ex run -ex 'info auto-load python-scripts' -ex 'help synack-tcbs' \
    -ex kill --args "$EX")
echo "$out" | grep -qE "^Yes +$GDBDIR$LIB/libsynack.so.$VERSION-gdb.py" &&
    echo "$out" | grep -q 'connection' ||
    { echo "$out" >&2; fail "gdb did not auto-load the helpers for libsynack.so"; }
for prog in tapnc tapd; do
    out=$(gdb_auto -ex 'info auto-load python-scripts' -ex 'help synack-break-state' "$BIN/$prog")
    echo "$out" | grep -qE "^Yes +$GDBDIR$BIN/$prog-gdb.py" ||
        { echo "$out" >&2; fail "gdb did not auto-load the helpers for $prog"; }
done
pass "gdb auto-loads the helpers for libsynack.so.$VERSION, tapnc and tapd"

for prog in tapnc tapd; do
    v=$("$BIN/$prog" --version)
    [ "$v" = "$prog (synack) $VERSION" ] || fail "$prog --version: '$v'"
done
pass "tapnc --version: $("$BIN/tapnc" --version)"
finish
