#!/usr/bin/env bash
# The CLI's own errors: bad flags and arguments exit 2, runtime failures exit 1, both with a
# one-line message on stderr and nothing on stdout.
. "$(dirname "$0")/lib.sh"
S=$SUANCHI

# run EXPECTED_EXIT NEEDLE ARGS...
run() {
  local want=$1 needle=$2; shift 2
  "$S" "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  eq "suanchi $*: exit" "$rc" "$want"
  contains "suanchi $*: message" "$(cat "$T/err")" "$needle"
  eq "suanchi $*: stdout empty" "$(cat "$T/out")" ""
}

run 2 "unknown command" frobnicate
run 2 "unknown flag '--bogus'" regions --bogus
run 2 "--owner is required" token create
run 2 "is not a duration" token create --owner self --ttl soon
run 2 "is not an integer" token create --owner self --uses many
run 2 "--share applies to pool owners only" owner add x --share 10
run 2 "needs --share" owner add x --pool
run 2 "give both --lat and --lon" region add x --lat 10
run 2 "is not a number in" region add x --lat 100 --lon 0
run 2 "unknown verb" node reboot n1
run 2 "missing argument" node cordon
run 2 "--heartbeat-timeout" serve --heartbeat-timeout never
run 2 "is not debug|info|warn|error" serve --log-level loud
run 2 "unknown flag" agent --frobnicate

# no server there
SUANCHI_SERVER=http://127.0.0.1:1 SUANCHI_TOKEN=x run 1 "cannot reach http://127.0.0.1:1" regions
# no credential anywhere
(cd "$T" && env -u SUANCHI_TOKEN SUANCHI_SERVER=http://127.0.0.1:1 "$S" regions >"$T/out" 2>"$T/err"); eq "no credential exit" "$?" "1"
contains "no credential message" "$(cat "$T/err")" "no credential"

start_server "$T/data"
run 1 "unknown owner 'ghost'" token create --owner ghost
run 1 "already exists" owner add self
run 1 "no join token" token revoke 0123456789abcdef
SUANCHI_TOKEN=wrong run 1 "missing or invalid credential" regions
# the agent refuses to start without a way to join
run 1 "has no node credential" agent --server "$URL" --devices cpu --state "$T/noagent"
run 1 "unknown chip" agent --server "$URL" --devices sim:NoSuchChip:2 --state "$T/noagent2" --join x --region y
finish
