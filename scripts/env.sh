# Sourced by shell scripts: points the v8 crate at the offline V8 archive when
# it is present (the crate's build script runs elsewhere: use an absolute path).
__root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
__archive="$(cd "$__root/.." && pwd)/shared/v8/librusty_v8_release_x86_64-unknown-linux-gnu.a.gz"
if [ -z "${RUSTY_V8_ARCHIVE:-}" ] && [ -f "$__archive" ]; then
  export RUSTY_V8_ARCHIVE="$__archive"
fi
