#!/usr/bin/env bash
# bench/lib/report.sh RESULTS.json: the Markdown report of one run of bench/run.sh
# (printed on stdout). Medians over the successful repetitions of each case, variant
# and tool; nothing here judges the figures.
set -euo pipefail
exec jq -r '
def r1: if . == null then "–" else ((. * 10 | round) / 10 | tostring) end;
def r2: if . == null then "–" else ((. * 100 | round) / 100 | tostring) end;
def r3: if . == null then "–" else ((. * 1000 | round) / 1000 | tostring) end;
def mib: if . == null then null else . / 1048576 end;
def median: map(select(. != null)) | sort | if length == 0 then null
	elif length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;

. as $root
| $root.dataset.data_dir_bytes_without_wal as $inst
| ($root.records | map(select(.rc == 0))) as $ok
# derived rows for the restores: pgBackRest files + its first recovery (the same work
# tenback restore does), and tenback up to its first recovery (files only)
| ($ok | map(select(.case == "restore" and .tool == "pgbackrest")) | map(. as $r
	| ($ok | map(select(.case == "recovery" and .variant == $r.variant and .rep == $r.rep)) | first) as $rec
	| select($rec != null)
	| $r + {tool: "pgbackrest restore + recovery", seconds: ($r.seconds + $rec.seconds),
	        rss_kib: ([$r.rss_kib, $rec.rss_kib] | max), rchar: null})) as $brfull
| ($ok | map(select(.case == "restore" and .tool == "tenback" and .laydown_seconds != null))
	| map(. + {tool: "tenback files only", seconds: .laydown_seconds, rss_kib: null, rchar: null})) as $tblay
| ($ok | map(select(.case != "recovery"))
	| map(if .case == "restore" and .tool == "tenback" then .tool = "tenback restore (+ recovery)"
	      elif .case == "restore" and .tool == "pgbackrest" then .tool = "pgbackrest files only" else . end)
	) + $brfull + $tblay
| group_by([.case, .variant, .tool])
| map({case: .[0].case, variant: .[0].variant, tool: .[0].tool, n: length,
	sec: (map(.seconds) | median), smin: (map(.seconds) | min), smax: (map(.seconds) | max), rss: (map(.rss_kib) | max),
	tool_read: (map(.tool_read_bytes) | median), rchar: (map(.rchar) | median),
	stored: (map(.stored_bytes // .restored_bytes) | median),
	covered: (if .[0].tenant == "tenant5" then (map(.tool_read_bytes) | median) else $inst end),
	pct: (map(.workload_pct) | median), jobs: (.[0].jobs_passed // null)}) as $rows
| def base($row):
	if $row.case == "tenant" then   # the whole instance: case 1, same compression and workers
		($rows | map(select(.case == "full" and .tool == "tenback" and .variant == ($row.variant | sub("^tenant5-"; ""))))
		| first)
	elif $row.case == "restore" then
		($rows | map(select(.case == "restore" and .variant == $row.variant and
			.tool == (if ($row.tool | test("files only")) then "tenback files only" else "tenback restore (+ recovery)" end))) | first)
	else ($rows | map(select(.case == $row.case and .variant == $row.variant and .tool == "tenback")) | first)
		# no tenback row with 2 workers (no --jobs): its one process is the reference
		// ($rows | map(select(.case == $row.case and .variant == ($row.variant | sub("-w[0-9]+$"; "-w1"))
			and .tool == "tenback")) | first) end;
def order: {"full": 1, "tenant": 2, "incr": 3, "restore": 4}[.case] // 9;
def vorder: .variant as $v | ([["none", "instance", "parent", "full"], ["lz4", "tenant5", "1pct", "chain"], ["zstd", "10pct"]]
	| map(map(. as $p | $v | startswith($p)) | any) | index(true)) // 9;
def toolorder: if (.tool | startswith("tenback")) then 0 elif (.tool | startswith("pgbackrest")) then 1 else 2 end;
"# tenback benchmark, \($root.run.utc), \($root.run.host)",
"",
"`sudo ./bench/run.sh --scale \($root.run.scale) --reps \($root.run.reps)`: \($root.run.reps) repetition(s), the tools alternating within each; \(($root.run.seconds / 60) | floor) min in all.",
"",
"- Machine: \($root.machine.cpu), \($root.machine.cores) cores, \($root.machine.ram_bytes / 1073741824 | r1) GiB RAM, Linux \($root.machine.kernel), \($root.machine.disk_free_bytes / 1073741824 | r1) GiB free on \($root.machine.filesystem) at the start of the report",
"- Versions: tenback \($root.versions.tenback); \($root.versions.pgbackrest); \($root.versions.postgresql); \($root.versions.pg_basebackup)",
"- Dataset: pgbench scale \($root.run.scale) in `big` (\($root.dataset.big_bytes | mib | r1) MiB), scale \($root.run.tenant5_scale) in `tenant5` (\($root.dataset.tenant5_bytes | mib | r1) MiB, \(100 * $root.dataset.tenant5_bytes / $root.dataset.databases_bytes | r1) % of all databases), 20 small databases; data directory without pg_wal: \($inst | mib | r1) MiB (what MiB/s is computed from, except for tenant5: tenback'"'"'s own read figure).",
"- tenback `--jobs`: backup \($root.run.tenback_jobs_backup), restore \($root.run.tenback_jobs_restore) (passed only when supported; without it tenback runs one process, and its 2-worker full backups are not run: pgBackRest'"'"'s 2-worker rows are compared with tenback'"'"'s single process). Cases 2–4 use \($root.run.workers_cases_2_to_4) worker(s) for both tools.",
(if $root.run.loadavg_start then "- Load average (1 min) at the start and the end of the run: \($root.run.loadavg_start), \($root.run.loadavg_end) on \($root.machine.cores) cores: other work on the machine shows in the spread (min–max) of the repetitions." else empty end),
"- The whole data directory is in the page cache (the machine has \($root.machine.ram_bytes / 1073741824 | round) GiB RAM; it is read once before the first measurement) for all tools alike: these are CPU, copy and write figures, not disk-read figures. Every tool fsyncs what it writes.",
"",
"| Case | Variant | Tool | n | Median s | Min–max s | MiB/s | × tenback | Peak RSS MiB | Read MiB (tool) | Read MiB (rchar) | Stored MiB |",
"|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
($rows | sort_by([order, vorder, .variant, toolorder, .tool]) | .[] | . as $row | base($row) as $b |
	"| \({"full": "1 full, instance", "tenant": "2 full, tenant vs instance", "incr": "3 incremental", "restore": "4 restore"}[.case] // .case) | \(.variant)\(if .pct != null then " (\(.pct | r2) % of pages)" else "" end) | \(.tool)\(if .tool == "tenback" and .jobs != null then " (jobs: \(.jobs))" else "" end) | \(.n) | \(.sec | r3) | \(.smin | r3)–\(.smax | r3) | \(if .sec != null and .sec > 0 then (.covered | mib) / .sec | r1 else "–" end) | \(if $b != null and $b.sec != null and $b.sec > 0 and .sec != null then (.sec / $b.sec | r2) else "–" end) | \(.rss | if . == null then "–" else (. / 1024 | r1) end) | \(.tool_read | mib | r1) | \(.rchar | mib | r1) | \(.stored | mib | r1) |"),
"",
"Columns: *Median s*: wall-clock seconds of the command, to the millisecond (from its wrapper'"'"'s start to its exit; GNU time'"'"'s 10 ms steps before 2026-11-27), median of the successful repetitions (*n*). *× tenback*: this median divided by tenback'"'"'s in the same case and variant (above 1: slower than tenback); where tenback has no 2-worker run (no `--jobs`), over its 1-worker run; for case 2 tenant5 over tenback'"'"'s whole-instance full backup with the same compression in case 1; for restores, files only over files only, and restore + first recovery over tenback'"'"'s restore. *Peak RSS*: GNU time'"'"'s maximum resident set size, the largest single process of the tool'"'"'s process tree (not the sum over processes), highest of the repetitions. *Read MiB (tool)*: tenback: the \"MiB read\" of its log line `data: N files, [F MiB in files, ]X MiB read, Y MiB stored` (a full reads every file whole; an incremental reads the pages the WAL since its parent names, and whole the files the WAL does not describe by blocks, e.g. free space and visibility maps; rchar adds the WAL it read); pgBackRest: `info.delta` of `pgbackrest info --output=json` (bytes of the files it copied into this backup). *Read MiB (rchar)*: `rchar` of /proc/<pid>/io summed over the process tree (every byte returned by read(2): data files, WAL, sockets and pipes; not recv(2) on sockets: about 0 for pg_basebackup, whose files the server reads); read_bytes (storage reads) is in the JSON and is about zero since everything is cached. *Stored MiB*: `du -sb` of the new set'"'"'s directory (tenback: the set, including the WAL from its start to its stop; pgBackRest: the backup directory, WAL not included: its archive is not used here; pg_basebackup: base.tar with the WAL, `-X fetch`), for restores the restored data directory.",
"",
"## How each tool was run",
"",
($root.settings | to_entries[] | "- \(.key): \(.value)"),
"",
"## Restore checks",
"",
(if ($root.restore_checks | length) == 0 then "none ran" else
	($root.restore_checks[] | "- restore checked, \(.tool) \(.what): source `\(.source)`, restored `\(.restored)` (sum(abalance) count(*) of big.pgbench_accounts), \(.databases)/22 tenant databases: \(if .ok then "OK" else "MISMATCH" end)") end),
"",
"## Workloads (case 3)",
"",
($root.workloads[] | "- target ~\(.workload_target_pct) %: \(.rows) random rows of big.pgbench_accounts updated, then CHECKPOINT; \(.pages_changed) pages of pgbench_accounts and its primary key got a newer LSN = \(.pct_of_instance) % of the instance'"'"'s \(.instance_pages) pages"),
"",
"## Errors",
"",
(if ($root.errors | length) == 0 then "none" else ($root.errors[] | "- `\(.)`") end)
' "$1"
