#!/usr/bin/env bash
# bench/lib/iowrap.sh IOFILE ERRFILE TIMEOUT CMD...
#
# Runs CMD (under `timeout TIMEOUT`) as a child of this shell and then copies this
# shell's /proc/<pid>/io to IOFILE. The kernel adds the I/O counters of every child to
# its parent when the parent reaps it (wait), so these counters cover the whole process
# tree of CMD as long as each process waits for its own children (true of tenback,
# pgBackRest and pg_basebackup; PostgreSQL server processes are not in that tree).
# CMD's stderr lines go to ERRFILE, each prefixed by the wall-clock time it was read
# (EPOCHREALTIME); the first line of ERRFILE is "START <time>", the last "END <time>"
# (when CMD exited: the wall time in microseconds, where GNU time rounds to 10 ms).
# CMD's stdout and exit status pass through.
io=$1 err=$2 limit=$3
shift 3
printf 'START %s\n' "$EPOCHREALTIME" >"$err"
timeout -k 10 "$limit" "$@" 2> >(while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >>"$err")
rc=$?
end=$EPOCHREALTIME
wait $! 2>/dev/null   # the stderr reader (bash >= 5.1 can wait for a process substitution)
printf 'END %s\n' "$end" >>"$err"
cat "/proc/$$/io" >"$io"
exit $rc
