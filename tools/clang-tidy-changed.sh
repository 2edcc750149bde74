#!/usr/bin/env bash
# clang-tidy gate: run clang-tidy (the repo's .clang-tidy) on the C++ files changed since a base and fail when
# it reports anything. The codebase is kept clean, so "nothing new" means "nothing".
#
#   tools/clang-tidy-changed.sh [-p BUILD_DIR] [-j N] [--list] [--all | BASE | -- FILE...]
#
#   BASE     a commit: check the files that differ between the working tree (untracked files included) and
#            git merge-base BASE HEAD. Also read from $DR2_TIDY_BASE.
#   default  working-tree changes plus the commits since `git merge-base HEAD origin/main` when that differs
#            from HEAD, else plus the last commit (HEAD~1..HEAD).
#   --all    every C++ file of the compile database that lives in the source tree.
#   -- FILE  these files (sources or headers, relative to the repository root) instead of a change set.
#   -p DIR   a configured build directory holding compile_commands.json (default: build); -j N parallel jobs
#            (default: nproc); --list prints the files it would check and exits. $CLANG_TIDY selects the binary
#            (default: clang-tidy).
#
# A changed header is checked through a translation unit that includes it (its own .cpp when there is one).
# Files that the build does not compile (fuzz/ needs clang, the GUI when DR2_BUILD_GUI=OFF) are listed and
# skipped. The GCC precompiled header is replaced by its source header: clang cannot read a GCC .gch.
# Exit: 0 clean, 1 findings, 2 usage or setup error, 77 skipped (no clang-tidy, not a git checkout, shallow
# clone without the base commit).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$root/build"
jobs="$(nproc 2>/dev/null || echo 2)"
mode=changed
given=()
list_only=0
base="${DR2_TIDY_BASE:-}"

log() { printf 'clang-tidy-changed: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }
skip() { log "skipped: $*"; exit 77; }

while (($#)); do
    case "$1" in
    -p) [[ $# -ge 2 ]] || die "-p needs a build directory"; build_dir="$2"; shift 2 ;;
    -p*) build_dir="${1#-p}"; shift ;;
    -j) [[ $# -ge 2 ]] || die "-j needs a number"; jobs="$2"; shift 2 ;;
    -j*) jobs="${1#-j}"; shift ;;
    --all) mode=all; shift ;;
    --list) list_only=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --) shift; mode=files; given=("$@"); break ;;
    -*) die "unknown option '$1' (expected -p DIR, -j N, --list, --all, a BASE commit or -- FILE...)" ;;
    *) base="$1"; shift ;;
    esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "-j: expected a positive integer, found '$jobs'"

tidy="${CLANG_TIDY:-clang-tidy}"
command -v "$tidy" >/dev/null 2>&1 || skip "'$tidy' not found (Debian package clang-tidy; ./dr2 installs it)"
[[ -d "$build_dir" ]] || die "build directory '$build_dir' does not exist; configure it first (cmake -B $build_dir)"
build_dir="$(cd "$build_dir" && pwd)"
db="$build_dir/compile_commands.json"
[[ -f "$db" ]] || die "$db is missing; configure with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON"

is_git=0
git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1 && is_git=1
[[ $mode != changed || $is_git == 1 ]] || skip "$root is not a git checkout, so there is no change set (use --all)"

work="$(mktemp -d "${TMPDIR:-/tmp}/dr2-tidy.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# clang cannot read the GCC precompiled header (.gch next to CMake's cmake_pch.hxx) that it would pick up for
# `-include .../cmake_pch.hxx`. Each cmake_pch.hxx is copied without its .gch and included from there, so a TU
# sees the same headers in the same order as in the GCC build (torch before Qt matters: Qt's `slots` macro).
{ grep -o -E -e '-include [^ "]*/cmake_pch\.hxx' "$db" || true; } | sed 's/^-include //' | sort -u |
    while IFS= read -r pch; do
        mkdir -p "$work/pch$(dirname "$pch")"
        if [[ -f "$pch" ]]; then cp "$pch" "$work/pch$pch"; else : >"$work/pch$pch"; fi
    done
sed -E -e 's# -Winvalid-pch##g' -e "s# -include ([^ \"]*/cmake_pch\\.hxx)# -include $work/pch\\1#g" "$db" >"$work/compile_commands.json"
# The source files of the database under the source tree, minus generated ones (build dirs, moc, autogen).
sed -n -E 's#^ *"file": "(.*)",?$#\1#p' "$db" | sort -u |
    while IFS= read -r f; do
        [[ "$f" == "$root/"* ]] || continue
        rel="${f#"$root/"}"
        [[ "$f" == "$build_dir/"* || "$rel" == build*/* || "$rel" == */*_autogen/* || "$(basename "$rel")" == moc_* ||
            "$rel" == *cmake_pch.hxx.cxx ]] && continue
        printf '%s\n' "$rel"
    done >"$work/db_files"

# Our source files (headers and TUs), relative to the root, for the header -> TU search.
if ((is_git)); then
    git -C "$root" ls-files --cached --others --exclude-standard -- '*.h' '*.hpp' '*.cpp' '*.cc' '*.cxx' >"$work/sources"
else
    cat "$work/db_files" >"$work/sources"
fi

changed_files() {
    local from
    if [[ -n "$base" ]]; then
        git -C "$root" rev-parse --verify -q "$base^{commit}" >/dev/null || die "base '$base' is not a commit here"
        from="$(git -C "$root" merge-base "$base" HEAD)" || die "no merge base between '$base' and HEAD"
    else
        local mb=""
        if git -C "$root" rev-parse --verify -q origin/main >/dev/null; then
            mb="$(git -C "$root" merge-base HEAD origin/main 2>/dev/null || true)"
        fi
        if [[ -n "$mb" && "$mb" != "$(git -C "$root" rev-parse HEAD)" ]]; then
            from="$mb"
        elif git -C "$root" rev-parse --verify -q 'HEAD~1' >/dev/null; then
            from="$(git -C "$root" rev-parse 'HEAD~1')"
        elif [[ "$(git -C "$root" rev-parse --is-shallow-repository)" == true ]]; then
            skip "shallow clone: HEAD~1 is missing, so the last commit's files are unknown (git fetch --deepen=1, or pass a BASE)"
        else
            from=4b825dc642cb6eb9a060e54bf8d69288fbee4904 # the empty tree: a root commit changes every file
        fi
    fi
    log "changes since $(git -C "$root" rev-parse --short "$from" 2>/dev/null || echo "$from") (working tree included)"
    {
        git -C "$root" diff --name-only --diff-filter=d "$from" --
        git -C "$root" ls-files --others --exclude-standard
    } | sort -u
}

# All files (transitively) including $1, by its root-relative spelling (#include "core/vit.h").
includers_of() {
    local seen="$work/seen" frontier="$work/frontier" next="$work/next"
    printf '%s\n' "$1" >"$seen"
    printf '%s\n' "$1" >"$frontier"
    while [[ -s "$frontier" ]]; do
        : >"$next"
        while IFS= read -r h; do
            (cd "$root" && grep -l -F -e "#include \"$h\"" -- $(cat "$work/sources") 2>/dev/null || true) >>"$next"
        done <"$frontier"
        sort -u "$next" | comm -23 - <(sort -u "$seen") >"$frontier"
        cat "$frontier" >>"$seen"
    done
    tail -n +2 "$seen"
}

: >"$work/tus"
: >"$work/notes"
if [[ $mode == all ]]; then
    grep -v -E '^fuzz/' "$work/db_files" >"$work/tus" || true
else
    if [[ $mode == files ]]; then
        printf '%s\n' ${given[@]+"${given[@]}"} >"$work/changed_all"
    else
        changed_files >"$work/changed_all" # not in a pipeline: its die/skip must end the script
    fi
    grep -E '\.(h|hpp|cpp|cc|cxx)$' "$work/changed_all" | grep -v -E '(^|/)build[^/]*/|(^|/)moc_|_autogen/' >"$work/changed" || true
    headers=()
    while IFS= read -r f; do
        if [[ ! -f "$root/$f" ]]; then
            [[ $mode == files ]] && printf '%s (no such file under %s)\n' "$f" "$root" >>"$work/notes"
            continue
        fi
        case "$f" in
        *.h | *.hpp) headers+=("$f") ;;
        *)
            if grep -q -x -F -e "$f" "$work/db_files"; then
                printf '%s\n' "$f" >>"$work/tus"
            else
                printf '%s (not compiled in this build configuration)\n' "$f" >>"$work/notes"
            fi
            ;;
        esac
    done <"$work/changed"
    for h in ${headers[@]+"${headers[@]}"}; do
        own="${h%.*}.cpp"
        # Its own .cpp first, then any compiled file that includes it; nothing to add when a chosen TU does.
        # Among includers, nearest first: same folder, then same layer, then the rest (closest includers first).
        {
            grep -q -x -F -e "$own" "$work/db_files" && printf '%s\n' "$own"
            includers_of "$h" | { grep -x -F -f "$work/db_files" || true; } |
                awk -v dir="$(dirname "$h")" -v top="${h%%/*}" '{
                    d = $0; sub(/\/[^\/]*$/, "", d); t = $0; sub(/\/.*$/, "", t)
                    print (d == dir ? 0 : t == top ? 1 : 2) "\t" NR "\t" $0 }' | sort -n -k1,1 -k2,2 | cut -f3
        } >"$work/candidates" || true
        if [[ ! -s "$work/candidates" ]]; then
            printf '%s (no compiled file includes it)\n' "$h" >>"$work/notes"
        elif ! grep -q -x -F -f "$work/candidates" "$work/tus"; then
            head -n 1 "$work/candidates" >>"$work/tus"
        fi
    done
fi
sort -u -o "$work/tus" "$work/tus"

if [[ -s "$work/notes" ]]; then
    log "not checked:"
    sed 's/^/    /' "$work/notes" >&2
fi
count=$(wc -l <"$work/tus")
if ((list_only)); then
    cat "$work/tus"
    exit 0
fi
if ((count == 0)); then
    log "no C++ files to check"
    exit 0
fi
log "$("$tidy" --version | grep -o -m1 "version [0-9.]*" || true): $count file(s), $jobs job(s), build dir $build_dir"

# Findings only in our own files: torch, Qt and generated headers are never reported.
header_filter="^$(printf '%s' "$root" | sed 's/[][\.*^$+?(){}|]/\\&/g')/(app|core|storage|training|widgets|tests)/"
export tidy work header_filter root
# One output file per TU so parallel runs do not interleave. -Wno-unknown-warning-option: GCC-only flags.
# shellcheck disable=SC2016
tr '\n' '\0' <"$work/tus" | xargs -0 -P "$jobs" -I{} sh -c '
    out="$work/out/$(printf "%s" "$1" | tr "/" "_").log"
    mkdir -p "$work/out"
    if "$tidy" -p "$work" --quiet --header-filter="$header_filter" --warnings-as-errors="*" \
        --extra-arg=-Wno-unknown-warning-option "$root/$1" >"$out" 2>&1; then
        rm -f "$out"
    else
        printf "%s\n" "$1" >>"$work/failed"
    fi' sh {}

if [[ ! -s "$work/failed" ]]; then
    log "clean: $count file(s)"
    exit 0
fi
# Findings in a shared header show up once per TU that includes it: print each diagnostic once.
cat "$work"/out/*.log | awk '
    /^[^ ].*:[0-9]+:[0-9]+: (warning|error): / { key = $0; dup = (key in seen); seen[key] = 1; if (!dup) n++ }
    /^[0-9]+ (warnings?|errors?) generated/ || /^Suppressed [0-9]+ warnings/ || /^Use -header-filter/ { next }
    /^Error while processing/ || /^ *#[0-9]+ 0x/ { next }
    !dup { print }
    END { printf "clang-tidy-changed: %d finding(s)\n", n > "/dev/stderr" }'
log "failed: $(sort -u "$work/failed" | tr '\n' ' ')"
exit 1
