#!/usr/bin/env bash
# man_pages.sh - the manual pages as built (docs/man): man finds nothing to
# warn about in any of them; tapnc(1) and tapd(1) list exactly the options
# that --help lists, and the version that --version prints; synack(3)
# names every function that synack.h and <synack/host.h> declare.
# Run by meson (suite docs) with MAN_DIR, TAPNC, TAPD and SRC set.
set -u
fails=0
bad() { echo "man_pages: FAIL: $*" >&2; fails=$((fails + 1)); }
command -v man >/dev/null || { echo "man_pages: FAIL: no man (install man-db)" >&2; exit 1; }

for page in tapnc.1 tapd.1 synack.3; do
    f=$MAN_DIR/$page
    [ -s "$f" ] || { bad "$f was not built"; continue; }
    # -Z stops at troff, whose warnings (-ww via --warnings) go to stderr.
    if ! err=$(man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>&1 >/dev/null) || [ -n "$err" ]; then
        bad "man warns about $page: $err"
    fi
done

# The options of a help text: the flags before the description on each
# line that starts with one ("  -h, --help  this help").
help_opts()
{
    grep -E '^ +-' | sed -E 's/^ +//; s/  .*//' | grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' |
        tr -d ' ,' | sort -u
}
# The options of a page: the bold flags of each term of a list (scdoc puts
# the term on the line before ".RS 4").
page_opts()
{
    awk '$0 == ".RS 4" { print prev } { prev = $0 }' "$1" |
        grep -oE '\\fB--?[A-Za-z][A-Za-z0-9-]*\\fR' | sed -E 's/^\\fB//; s/\\fR$//' | sort -u
}

for prog in tapnc tapd; do
    bin=$TAPNC
    [ "$prog" = tapd ] && bin=$TAPD
    page=$MAN_DIR/$prog.1
    [ -s "$page" ] || continue
    h=$("$bin" --help | help_opts)
    m=$(page_opts "$page")
    [ "$(echo "$h" | wc -l)" -ge 10 ] || bad "$prog --help: too few options found: $h"
    only_help=$(comm -23 <(echo "$h") <(echo "$m") | tr '\n' ' ')
    only_man=$(comm -13 <(echo "$h") <(echo "$m") | tr '\n' ' ')
    [ -z "$only_help" ] || bad "$prog --help lists options that $prog(1) does not: $only_help"
    [ -z "$only_man" ] || bad "$prog(1) lists options that $prog --help does not: $only_man"
    # "tapnc (synack) 0.1.0" and the page's footer "synack 0.1.0".
    v=$("$bin" --version)
    [[ $v =~ ^$prog\ \(synack\)\ ([0-9][0-9.]*)$ ]] || { bad "$prog --version printed '$v'"; continue; }
    grep -q "^\.TH \"$prog\" \"1\" \"[0-9-]*\" \"synack ${BASH_REMATCH[1]}\"" "$page" ||
        bad "$prog(1) is not of version ${BASH_REMATCH[1]}: $(grep '^\.TH' "$page")"
done

api=$MAN_DIR/synack.3
if [ -s "$api" ]; then
    fns=$(cat "$SRC/stack/include/synack.h" "$SRC/tap/host.h" |
        grep -oE '\b(sk|host)_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u)
    [ "$(echo "$fns" | wc -l)" -ge 40 ] || bad "too few functions found in the headers: $fns"
    for fn in $fns; do
        grep -qE "(^|[^a-z0-9_])$fn([^a-z0-9_]|$)" "$api" || bad "synack(3) does not name $fn"
    done
fi

[ "$fails" -eq 0 ] || exit 1
echo "man_pages: 3 pages without warnings; tapnc and tapd: --help and the manual agree; synack(3) names all $(echo "$fns" | wc -l) functions"
