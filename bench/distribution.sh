# bench/distribution.sh: sourced by the bench scripts, so every comparison runs the anchor the same way.
# start_distribution DIR PORT: Debian's docker-registry (CNCF distribution) on 127.0.0.1:PORT with
# filesystem storage under DIR, its config and log beside it (DIR.yml, DIR.log), in the background
# ($! is its pid afterwards). Errors-only logging, as Stevedore runs at warn in the benches; deletes on.
start_distribution() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  printf 'version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: %s }, delete: { enabled: true } }\nhttp: { addr: 127.0.0.1:%s }\n' \
    "$dir" "$port" >"$dir.yml"
  docker-registry serve "$dir.yml" >"$dir.log" 2>&1 &
}
