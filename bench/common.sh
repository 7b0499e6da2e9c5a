# bench/common.sh: sourced by the bench scripts (run from the repository's root), for what each needs alike.
# port: a free loopback port. wait_http URL: until URL answers at all (any status), for up to 60 s.
port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_http() { for _ in $(seq 1 120); do curl -s -o /dev/null "$1" && return 0; sleep 0.5; done; echo "bench: $1 did not answer" >&2; exit 1; }
