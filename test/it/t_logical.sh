#!/usr/bin/env bash
# Logical backup and restore of one tenant (issue 7), on real PostgreSQL 15:
#   - the tenant "shop" has several schemas, an enum and a composite type, functions
#     (SQL, PL/pgSQL, a trigger), views and a materialized view, sequences, large
#     objects, comments, grants to two roles (and default privileges, a database grant,
#     per-role and per-database settings); a role used only by another tenant;
#   - refused before anything is written: --mode incremental with exactly "Logical
#     backup supports only full backup"; pg_dump missing (--pg-bin an empty directory);
#     a pg_dump of the wrong major version; a pg_dump that fails half-way leaves no
#     listed set and nothing in the storage, and its stderr is shown;
#   - a logical backup while pgbench writes; set list (text and json) shows the method;
#     verify checks every object; window and incremental backups ignore logical sets;
#   - restore under a new name on ANOTHER instance with --jobs: the schema equals the
#     source's, every non-pgbench table and large object equals the source's, the
#     pgbench invariant holds (one snapshot), only the roles the tenant uses are created
#     (with passwords, memberships and settings; an existing role is left alone), the
#     database's grants, settings and comment follow; pg_dump of the restored database
#     equals the dump's own content (pg_restore's script from --sql-file), and the
#     --sql-file script loads into an empty database with psql to the same content;
#   - settings are literals only: a role's search_path stored raw by SET ... FROM CURRENT
#     (SQL and a psql meta-command in it) does not run on restore, and empty lists ('')
#     come back as they were; a monitoring login (member of pg_monitor) is not taken
#     along, a superuser is recreated NOLOGIN without its password and with a warning;
#   - an existing database refused without --force, replaced with it (a --force restore
#     whose pg_restore fails leaves it intact); usage errors for
#     mixed physical and logical options; a logical set refused by a physical restore;
#   - a conninfo's password and sslpassword are not shown when it does not connect;
#   - a cluster registered without --pgdata: tenant list says logical and why, a backup
#     without --method is logical, --method physical is refused;
#   - a flipped byte in the stored dump: restore refused naming the object before the
#     database is created, verify fails naming it; set delete removes the set;
#   - "Back up now" through the daemon with method logical: the same five task steps
#     succeed (checkpoint and WAL steps say they are not needed); incremental logical
#     refused with 422 and the seed's message; a tenant identified as logical backs up
#     logically without a method; the CLI through the daemon (--method logical --wait).
# tb-storage: file s3
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_api.sh"
require_tenback

P=26710; Q=26711; HTTP=26712

pg_create src $P checksums=on
pg_create other $Q checksums=on
cluster_add src
cluster_add other
pg_use src   # psql_q talks to src from here on
SYSID=$(psql_at $P postgres "SELECT system_identifier FROM pg_control_system()")

# ---------------------------------------------------------------- the tenant
psql_q postgres "CREATE DATABASE shop"
psql_q postgres "CREATE DATABASE crm"
psql_q postgres "CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw' VALID UNTIL '2099-01-01 00:00:00+00';
CREATE ROLE app_reader NOLOGIN;
CREATE ROLE reporter LOGIN PASSWORD 'reporter-pw' CONNECTION LIMIT 5 IN ROLE app_reader;
CREATE ROLE crm_only LOGIN PASSWORD 'crm-pw';
COMMENT ON ROLE reporter IS 'reads the shop';
ALTER ROLE app_owner SET search_path = sales, public;
ALTER ROLE reporter SET work_mem = '8MB'"
pgbench_init $P shop 5
psql_q shop >/dev/null "
CREATE SCHEMA sales AUTHORIZATION app_owner;
CREATE SCHEMA inventory;
CREATE TYPE sales.status AS ENUM ('new', 'paid', 'shipped');
CREATE TYPE inventory.dims AS (w numeric, h numeric, d numeric);
CREATE SEQUENCE sales.order_no START 1000;
CREATE TABLE sales.orders (
  id int PRIMARY KEY DEFAULT nextval('sales.order_no'),
  st sales.status NOT NULL DEFAULT 'new',
  size inventory.dims,
  note text,
  placed timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00');
ALTER SEQUENCE sales.order_no OWNED BY sales.orders.id;
INSERT INTO sales.orders (st, size, note)
  SELECT (ARRAY['new', 'paid', 'shipped']::sales.status[])[1 + g % 3], ROW(g, g * 2, g % 7)::inventory.dims,
         md5(g::text) FROM generate_series(1, 3000) g;
CREATE TABLE inventory.items (sku text PRIMARY KEY, qty int CHECK (qty >= 0), tags text[], meta jsonb);
INSERT INTO inventory.items SELECT 'sku-' || g, g % 50, ARRAY['t' || g % 5], jsonb_build_object('g', g)
  FROM generate_series(1, 2000) g;
CREATE TABLE inventory.audit (id bigserial PRIMARY KEY, sku text, at timestamptz DEFAULT '2026-01-01');
CREATE FUNCTION sales.total(s sales.status) RETURNS bigint LANGUAGE sql STABLE
  AS \$\$ SELECT count(*) FROM sales.orders WHERE st = s \$\$;
CREATE FUNCTION inventory.log_change() RETURNS trigger LANGUAGE plpgsql
  AS \$\$ BEGIN INSERT INTO inventory.audit (sku) VALUES (NEW.sku); RETURN NEW; END \$\$;
CREATE TRIGGER items_audit AFTER UPDATE ON inventory.items FOR EACH ROW EXECUTE FUNCTION inventory.log_change();
UPDATE inventory.items SET qty = qty + 1 WHERE sku IN ('sku-1', 'sku-2');
CREATE VIEW sales.paid_orders AS SELECT id, note FROM sales.orders WHERE st = 'paid';
CREATE MATERIALIZED VIEW inventory.stock AS SELECT tags[1] AS tag, sum(qty) AS qty FROM inventory.items GROUP BY 1;
COMMENT ON TABLE sales.orders IS 'every order';
SELECT lo_from_bytea(424242, convert_to(repeat('large object ', 20000), 'UTF8'));
SELECT lo_from_bytea(424243, '\\x00ff00ff'::bytea);
ALTER LARGE OBJECT 424242 OWNER TO app_owner;
GRANT SELECT ON LARGE OBJECT 424242 TO app_reader;
ALTER TABLE sales.orders OWNER TO app_owner;
ALTER VIEW sales.paid_orders OWNER TO app_owner;
GRANT USAGE ON SCHEMA sales, inventory TO app_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA sales TO app_reader;
GRANT SELECT, UPDATE ON inventory.items TO reporter;
GRANT EXECUTE ON FUNCTION sales.total(sales.status) TO reporter;
ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA sales GRANT SELECT ON TABLES TO app_reader"
psql_q postgres "REVOKE CONNECT ON DATABASE shop FROM PUBLIC"
psql_q postgres "GRANT CONNECT ON DATABASE shop TO reporter"
psql_q postgres "ALTER DATABASE shop SET statement_timeout = '5min'"
psql_q postgres "ALTER ROLE reporter IN DATABASE shop SET work_mem = '16MB'"
psql_q postgres "COMMENT ON DATABASE shop IS 'the shop tenant'"
psql_q crm "CREATE TABLE notes (id int); ALTER TABLE notes OWNER TO crm_only"
# settings stored raw (SET ... FROM CURRENT): SQL and a psql meta-command that must not run
psql_q postgres "CREATE ROLE sp_evil NOLOGIN"
psql_q postgres "SELECT set_config('search_path', 'x;CREATE/**/TABLE/**/pwned(i/**/int)', false);
ALTER ROLE sp_evil SET search_path FROM CURRENT;
SELECT set_config('search_path', 'x\\!touch\${IFS}$T/pwned', false);
ALTER ROLE sp_evil IN DATABASE shop SET search_path FROM CURRENT" >/dev/null
psql_q postgres "ALTER ROLE app_reader IN DATABASE shop SET search_path = ''"
psql_q postgres "ALTER DATABASE shop SET temp_tablespaces = ''"
psql_q shop "GRANT SELECT ON inventory.items TO sp_evil"
# a monitoring login (not the tenant's) and a superuser that owns a table of shop
psql_q postgres "CREATE ROLE monitor_login LOGIN PASSWORD 'mon-pw' IN ROLE pg_monitor;
CREATE ROLE sup_owner SUPERUSER LOGIN PASSWORD 'sup-pw'"
psql_q shop "CREATE TABLE inventory.sup_table (i int); ALTER TABLE inventory.sup_table OWNER TO sup_owner"
# on the other instance, a role of the same name already exists with its own password
psql_at $Q postgres "CREATE ROLE reporter LOGIN PASSWORD 'other-pw'"
other_reporter_pw=$(psql_at $Q postgres "SELECT rolpassword FROM pg_authid WHERE rolname = 'reporter'")

# ---------------------------------------------------------------- helpers
# dump_of PORT DB [pg_dump options...]: a plain pg_dump, without the random \restrict keys
dump_of() {
	local port=$1 db=$2; shift 2
	as_pg "$PGBIN/pg_dump" -h "$SOCK" -p "$port" -U "$PG_USER" "$@" "$db" | grep -vE '^\\(un)?restrict '
}
# static_fp PORT DB: what pgbench never writes: every table of sales and inventory, the
# materialized view, the sequence, and the large objects with their contents
static_fp() {
	local port=$1 db=$2 t
	for t in sales.orders inventory.items inventory.audit inventory.stock; do
		printf '%s ' "$t"
		psql_at "$port" "$db" "SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM $t x"
	done
	psql_at "$port" "$db" "SELECT 'seq ' || last_value FROM sales.order_no"
	psql_at "$port" "$db" "SELECT 'lo ' || m.oid || ' ' || pg_get_userbyid(m.lomowner) || ' ' || coalesce(m.lomacl::text, '-')
		|| ' ' || md5(lo_get(m.oid)) FROM pg_largeobject_metadata m ORDER BY m.oid"
}
# set_dir SET: the set's directory in the storage
set_dir() { echo "tenback/$SYSID/shop/$1"; }

# ---------------------------------------------------------------- method identification
tb_ok "tenant list (json)" tenant list --cluster src --output json || true
assert_eq "shop's backup method on a cluster with its data directory: physical" physical \
	"$(printf '%s' "$TB_OUT" | jq -r '.[] | select(.name == "shop") | .backup_method' 2>&1)"
tb_ok "tenant list (text)" tenant list --cluster src || true
assert_match "tenant list shows the method and why" "$TB_OUT" 'shop +[0-9]+ +postgres .* physical +PostgreSQL 15, data directory readable'

# ---------------------------------------------------------------- refused before any work
tb_fails "logical incremental is refused" 1 backup --cluster src --tenant shop --method logical --mode incremental
assert_contains "with exactly the seed's message" "$TB_ERR" "ERROR: Logical backup supports only full backup"
install -d -o "$PG_USER" "$T/emptybin" "$T/fakebin" "$T/failbin" "$T/tmp"
tb_fails "pg_dump missing (--pg-bin an empty directory)" 1 backup --cluster src --tenant shop --method logical \
	--pg-bin "$T/emptybin"
assert_contains "the error names the missing pg_dump" "$TB_ERR" "pg_dump of PostgreSQL 15 not found: \"$T/emptybin/pg_dump\" does not exist"
assert_contains "and what to install" "$TB_ALL" "postgresql-client-15"
cat >"$T/fakebin/pg_dump" <<'EOF'
#!/bin/sh
echo "pg_dump (PostgreSQL) 14.11"
EOF
chmod 755 "$T/fakebin/pg_dump"
tb_fails "pg_dump of another major version" 1 backup --cluster src --tenant shop --method logical --pg-bin "$T/fakebin"
assert_contains "the error names both versions" "$TB_ERR" "pg_dump at \"$T/fakebin/pg_dump\" is of PostgreSQL 14, the server runs PostgreSQL 15"
assert_eq "no set listed, not even a failed attempt" 0 "$(tb set list --cluster src --tenant shop --all --output json | jq length)"
assert_eq "nothing written to the storage for shop" "" "$(st_keys "tenback/$SYSID/shop")"
# a pg_dump that fails half-way through its output
cat >"$T/failbin/pg_dump" <<EOF
#!/bin/sh
if [ "\$1" = --version ]; then exec "$PGBIN/pg_dump" --version; fi
"$PGBIN/pg_dump" "\$@" | head -c 300000
echo "pg_dump: error: simulated failure half-way" >&2
exit 1
EOF
chmod 755 "$T/failbin/pg_dump"
tb_fails "a pg_dump that fails half-way fails the backup" 1 backup --cluster src --tenant shop --method logical \
	--pg-bin "$T/failbin"
assert_contains "pg_dump's stderr is shown" "$TB_ERR" "pg_dump: error: simulated failure half-way"
assert_contains "the message says pg_dump failed" "$TB_ERR" "pg_dump of tenant \"shop\" failed"
assert_eq "no set listed after the failed dump" 0 "$(set_count src shop)"
assert_eq "the failed attempt is recorded as failed" "failed logical" \
	"$(tb set list --cluster src --tenant shop --all --output json | jq -r '.[0] | "\(.status) \(.method)"')"
assert_eq "nothing left in the storage by the failed dump" "" "$(st_keys "tenback/$SYSID/shop")"

# ---------------------------------------------------------------- backup under load
src_schema=$(dump_of $P shop --schema-only)
src_static=$(static_fp $P shop)
h0=$(psql_q shop "SELECT count(*) FROM pgbench_history")
workload_start shop 900
sleep 3
tb_must "logical backup of shop while pgbench writes" backup --cluster src --tenant shop --method logical
lset=$(last_line "$TB_OUT")
assert_match "backup prints a set id" "$lset" '^[0-9]{8}-[0-9]{6}F$'
assert_contains "the backup warns about the superuser it will recreate without its powers" "$TB_ALL" \
	"role \"sup_owner\" is a superuser or has REPLICATION or BYPASSRLS"
sleep 2
workload_stop
wait_no_sessions $P shop
h_end=$(psql_q shop "SELECT count(*) FROM pgbench_history")

sets=$(set_json src shop)
assert_eq "one set listed" 1 "$(printf '%s' "$sets" | jq length)"
assert_eq "listed as a logical full set" "$lset full logical completed" \
	"$(printf '%s' "$sets" | jq -r '.[0] | "\(.id) \(.type) \(.method) \(.status)"')"
tb_ok "set list (text)" set list --cluster src --tenant shop || true
assert_match "set list text has the METHOD column" "$(printf '%s' "$TB_OUT" | head -n 1)" 'TYPE +METHOD +PARENT'
assert_match "set list text shows logical" "$TB_OUT" "$lset +shop +full +logical"
assert_eq "the set holds the dump, the roles, the database's properties and the manifest" \
	"$(set_dir "$lset")/data/database.sql $(set_dir "$lset")/data/roles.sql $(set_dir "$lset")/data/tenant.dump $(set_dir "$lset")/manifest" \
	"$(st_keys "$(set_dir "$lset")" | xargs)"
st_get "$(set_dir "$lset")/manifest" "$T/manifest.json"
assert_eq "manifest: method, format, version, objects with sizes and checksums" \
	"logical custom 15 3 3" \
	"$(jq -r '"\(.method) \(.logical.dump_format) \(.pg_version / 10000 | floor) \(.files | length) \([.files[] | select(.size > 0 and (.crc32c | length) == 8)] | length)"' "$T/manifest.json")"
assert_match "manifest: the dump's start time" "$(jq -r .start_time "$T/manifest.json")" '^20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8}\+00$'
dump_size=$(jq -r '.files[] | select(.path == "tenant.dump") | .size' "$T/manifest.json")
assert_true "the dump is stored compressed (stored < raw)" \
	test "$(st_size "$(set_dir "$lset")/data/tenant.dump")" -lt "$dump_size"

tb_ok "verify the logical set" verify --cluster src --tenant shop --set "$lset" || true
assert_contains "verify checked its 3 objects" "$TB_OUT" "3 files and 0 WAL segments"

# ---------------------------------------------------------------- restore on another instance
tb_must "restore as shop_copy into cluster other, 3 jobs" restore --cluster src --tenant shop --set "$lset" \
	--as shop_copy --into-cluster other --jobs 3 --temp-dir "$T/tmp"
assert_contains "restore says where" "$TB_OUT" "restored as database \"shop_copy\" in cluster \"other\""
assert_eq "the temporary dump is removed" "" "$(ls -A "$T/tmp")"
assert_eq "restored schema equals the source's (pg_dump --schema-only)" "$src_schema" \
	"$(dump_of $Q shop_copy --schema-only)"
assert_eq "every table pgbench does not write, the sequence and the large objects equal the source's" \
	"$src_static" "$(static_fp $Q shop_copy)"
check_invariant $Q shop_copy
h_r=$(psql_at $Q shop_copy "SELECT count(*) FROM pgbench_history")
assert_true "the dump's snapshot is from the middle of the workload ($h0 < $h_r < $h_end pgbench transactions)" \
	test "$h0" -lt "$h_r" -a "$h_r" -lt "$h_end"
assert_eq "only the roles shop uses were created (not crm_only)" "app_owner app_reader reporter" \
	"$(psql_at $Q postgres "SELECT rolname FROM pg_roles WHERE rolname IN ('app_owner', 'app_reader', 'reporter', 'crm_only') ORDER BY 1" | xargs)"
roles_q="SELECT a.rolname, a.rolcanlogin, a.rolconnlimit, a.rolpassword, a.rolvaliduntil, r.rolconfig,
	shobj_description(a.oid, 'pg_authid') FROM pg_authid a JOIN pg_roles r ON r.oid = a.oid
	WHERE a.rolname IN ('app_owner', 'app_reader') ORDER BY 1"
assert_eq "created roles have their attributes, password, validity, settings and comment" \
	"$(psql_at $P postgres "$roles_q")" "$(psql_at $Q postgres "$roles_q")"
assert_eq "the existing role reporter was left alone (its own password, no membership added)" \
	"$other_reporter_pw f" \
	"$(psql_at $Q postgres "SELECT rolpassword, pg_has_role('reporter', 'app_reader', 'MEMBER') FROM pg_authid WHERE rolname = 'reporter'" | tr '|' ' ')"
assert_eq "database grants follow (PUBLIC has no CONNECT, reporter has)" "f t" \
	"$(psql_at $Q postgres "SELECT has_database_privilege('public', 'shop_copy', 'CONNECT'), has_database_privilege('reporter', 'shop_copy', 'CONNECT')" | tr '|' ' ')"
assert_eq "database settings and per-role settings follow" \
	"statement_timeout=5min|temp_tablespaces=\"\"|app_reader:search_path=\"\"|reporter:work_mem=16MB|sp_evil:search_path=\"x\\!touch\${IFS}$T/pwned\"" \
	"$(psql_at $Q postgres "SELECT string_agg(coalesce(pg_get_userbyid(nullif(s.setrole, 0)) || ':', '') || c, '|' ORDER BY s.setrole <> 0, pg_get_userbyid(nullif(s.setrole, 0)), c) FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = 'shop_copy')")"
db_settings_q() { echo "SELECT coalesce(pg_get_userbyid(nullif(s.setrole, 0)), '-'), c FROM pg_db_role_setting s,
	unnest(s.setconfig) c WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = '$1')
	AND c NOT LIKE '%pwned%' ORDER BY 1, 2"; }
assert_eq "the database's settings round-trip, the empty lists '' included" \
	"$(psql_at $P postgres "$(db_settings_q shop)")" "$(psql_at $Q postgres "$(db_settings_q shop_copy)")"
assert_eq "a search_path stored raw (SET FROM CURRENT) comes back as one quoted name, not as SQL" \
	'{"search_path=\"x;CREATE/**/TABLE/**/pwned(i/**/int)\""}' \
	"$(psql_at $Q postgres "SELECT rolconfig FROM pg_roles WHERE rolname = 'sp_evil'")"
assert_eq "...and what was stored in it did not run (no table pwned)" "0 0" \
	"$(psql_at $Q postgres "SELECT count(*) FROM pg_class WHERE relname = 'pwned'") $(psql_at $Q shop_copy "SELECT count(*) FROM pg_class WHERE relname = 'pwned'")"
assert_true "...nor the psql meta-command (no file $T/pwned)" test ! -e "$T/pwned"
assert_eq "a monitoring login, member of pg_monitor, is not taken along" 0 \
	"$(psql_at $Q postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'monitor_login'")"
assert_eq "a superuser is recreated NOLOGIN, not superuser, without its password" "f f t" \
	"$(psql_at $Q postgres "SELECT rolsuper, rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = 'sup_owner'" | tr '|' ' ')"
assert_eq "the database comment follows" "the shop tenant" \
	"$(psql_at $Q postgres "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'shop_copy'")"
assert_eq "the database keeps its owner" postgres \
	"$(psql_at $Q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop_copy'")"

# the restored database is exactly the dump's content: compare with pg_restore's own script
tb_must "write the set as SQL" restore --cluster src --tenant shop --set "$lset" --sql-file "$T/shop.sql"
assert_contains "sql-file says where" "$TB_OUT" "written as SQL to \"$T/shop.sql\""
assert_eq "the SQL file is private (0600)" 600 "$(stat -c %a "$T/shop.sql")"
sed -n '/^-- tenback: pg_restore of tenant.dump follows$/,/^-- tenback: end of pg_restore output$/p' "$T/shop.sql" \
	| sed '1d;$d' | grep -vE '^\\(un)?restrict ' >"$T/dump-content.sql"
assert_true "the SQL file holds pg_restore's script" test "$(wc -l <"$T/dump-content.sql")" -gt 1000
if cmp -s "$T/dump-content.sql" <(dump_of $Q shop_copy); then
	ok "pg_dump of the restored database equals the dump's content (data included)"
else
	not_ok "pg_dump of the restored database equals the dump's content (data included)" \
		"$(diff "$T/dump-content.sql" <(dump_of $Q shop_copy) | head -n 20)"
fi
psql_at $Q postgres "CREATE DATABASE shop_sql"
if out=$(as_pg "$PGBIN/psql" -X -q -h "$SOCK" -p $Q -U "$PG_USER" -d shop_sql -v ON_ERROR_STOP=1 -f "$T/shop.sql" 2>&1); then
	ok "psql loads the --sql-file script into an empty database"
else
	not_ok "psql loads the --sql-file script into an empty database" "$(printf '%s' "$out" | tail -n 10)"
fi
assert_eq "...to the same content as the restore" "$(dump_of $Q shop_copy)" "$(dump_of $Q shop_sql)"
assert_eq "...and no table pwned there either" 0 \
	"$(psql_at $Q shop_sql "SELECT count(*) FROM pg_class WHERE relname = 'pwned'")"
assert_true "...nor a file $T/pwned" test ! -e "$T/pwned"
assert_eq "...with the database's grants" "f t" \
	"$(psql_at $Q postgres "SELECT has_database_privilege('public', 'shop_sql', 'CONNECT'), has_database_privilege('reporter', 'shop_sql', 'CONNECT')" | tr '|' ' ')"
tb_fails "an existing --sql-file is refused" 1 restore --cluster src --tenant shop --set "$lset" --sql-file "$T/shop.sql"
assert_contains "naming it" "$TB_ERR" "file \"$T/shop.sql\" already exists"
chmod 644 "$T/shop.sql"
tb_ok "--sql-file --force overwrites it" restore --cluster src --tenant shop --set "$lset" --sql-file "$T/shop.sql" \
	--force || true
assert_eq "and leaves it private (0600) though it was 0644" 600 "$(stat -c %a "$T/shop.sql")"
assert_eq "the roles and database scripts say their encoding (as pg_restore's script does)" 3 \
	"$(grep -c "^SET client_encoding = 'UTF8';\$" "$T/shop.sql")"

# ---------------------------------------------------------------- existing database, --force
psql_at $Q shop_copy "CREATE TABLE public.marker (x int)"
tb_fails "restore into an existing database is refused" 1 restore --cluster src --tenant shop --set latest \
	--as shop_copy --into-cluster other
assert_contains "saying so" "$TB_ERR" "database \"shop_copy\" already exists in cluster \"other\""
assert_contains "and how to replace it" "$TB_ALL" "--force"
assert_eq "the existing database is untouched" 1 \
	"$(psql_at $Q shop_copy "SELECT count(*) FROM pg_class WHERE relname = 'marker'")"
# a --force restore that fails keeps the existing database: pg_restore fails here
install -d -o "$PG_USER" "$T/failrbin"
cat >"$T/failrbin/pg_restore" <<EOF
#!/bin/sh
if [ "\$1" = --version ]; then exec "$PGBIN/pg_restore" --version; fi
echo "pg_restore: error: simulated failure" >&2
exit 1
EOF
chmod 755 "$T/failrbin/pg_restore"
ln -s "$PGBIN/psql" "$T/failrbin/psql"
tb_fails "a --force restore whose pg_restore fails" 1 restore --cluster src --tenant shop --set latest \
	--as shop_copy --into-cluster other --force --pg-bin "$T/failrbin"
assert_contains "shows pg_restore's error" "$TB_ERR" "pg_restore: error: simulated failure"
assert_eq "the existing database is intact (its marker table is there)" 1 \
	"$(psql_at $Q shop_copy "SELECT count(*) FROM pg_class WHERE relname = 'marker'")"
assert_eq "and no temporary database is left" 0 \
	"$(psql_at $Q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'tenback_restore_%'")"
# a session on it: --force refuses up front (it does not end sessions)
as_pg "$PGBIN/psql" -X -q -h "$SOCK" -p $Q -U "$PG_USER" -d shop_copy -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
holder=$!
wait_for "a session on shop_copy" "$WAIT_TIMEOUT" eval \
	'[[ $(psql_at $Q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '"'shop_copy'"'") == 1 ]]'
tb_fails "--force with a session on the existing database is refused" 1 restore --cluster src --tenant shop \
	--set latest --as shop_copy --into-cluster other --force
assert_contains "saying it has a session" "$TB_ERR" \
	"database \"shop_copy\" of cluster \"other\" has 1 session(s): it cannot be replaced"
psql_at $Q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'shop_copy'" >/dev/null
wait "$holder" || true
wait_no_sessions $Q shop_copy
assert_eq "the database is still there, with its marker table" 1 \
	"$(psql_at $Q shop_copy "SELECT count(*) FROM pg_class WHERE relname = 'marker'")"
tb_ok "with --force it is dropped and restored" restore --cluster src --tenant shop --set latest \
	--as shop_copy --into-cluster other --force --jobs 2 || true
assert_eq "the replaced database has no marker table" 0 \
	"$(psql_at $Q shop_copy "SELECT count(*) FROM pg_class WHERE relname = 'marker'")"
assert_eq "and the dump's content" "$(cat "$T/dump-content.sql")" "$(dump_of $Q shop_copy)"
check_amcheck $Q shop_copy   # (creates the extension: after the comparisons)
tb_ok "restore into the same cluster under a new name" restore --cluster src --tenant shop --as shop_again || true
assert_eq "same cluster: the schema equals the source's" "$src_schema" "$(dump_of $P shop_again --schema-only)"

# ---------------------------------------------------------------- usage errors
tb_fails "--as with --to is a usage error" 2 restore --cluster src --tenant shop --as x --to "$T/x"
assert_contains "naming the physical option" "$TB_ERR" "--to is for a physical restore"
tb_fails "--temp-dir without --as is a usage error" 2 restore --cluster src --tenant shop --to "$T/x" --temp-dir "$T"
assert_contains "naming the logical option" "$TB_ERR" "--temp-dir is for a logical restore"
tb_fails "--as with --sql-file is a usage error" 2 restore --cluster src --tenant shop --as x --sql-file "$T/x.sql"
tb_fails "restore without --to, --as or --sql-file is a usage error" 2 restore --cluster src --tenant shop
tb_fails "a physical restore of a logical set is refused" 1 restore --cluster src --tenant shop --set "$lset" --to "$T/x"
assert_contains "saying it is logical and what to use" "$TB_ALL" "is a logical backup"
assert_contains "hint --as" "$TB_ALL" "--as NEWDB"
tb_fails "a physical restore without a physical set" 1 restore --cluster src --tenant shop --to "$T/x"
assert_contains "says there is no physical set" "$TB_ERR" "has no physical backup set"
tb_fails "an invalid --method is a usage error" 2 backup --cluster src --tenant shop --method dump

# ---------------------------------------------------------------- next to physical sets
wal_switch_and_wait $P
tb_must "physical full backup (no --method: identified)" backup --cluster src --tenant shop
pset=$(last_line "$TB_OUT")
tb_must "incremental builds on the physical set, not on the logical one" backup --cluster src --tenant shop --mode incremental
iset=$(last_line "$TB_OUT")
assert_eq "methods and parents listed" "$lset logical - $pset physical - $iset physical $pset" \
	"$(set_json src shop | jq -r '.[] | "\(.id) \(.method) \(.parent // "-")"' | xargs)"
tb_ok "window lists the physical sets only" window --cluster src --tenant shop --output json || true
assert_eq "window: the two physical sets" "$pset $iset" "$(printf '%s' "$TB_OUT" | jq -r '.[].set' | xargs)"
tb_ok "a logical restore of latest takes the newest logical set" restore --cluster src --tenant shop --set latest \
	--sql-file "$T/latest.sql" || true
assert_contains "the logical one" "$TB_OUT" "backup set $lset"
tb_fails "a logical restore of a physical set is refused" 1 restore --cluster src --tenant shop --set "$pset" --as y
assert_contains "saying it is physical" "$TB_ERR" "is a physical backup"

# ---------------------------------------------------------------- a cluster without its data directory
cred=()
[[ -n $STORAGE_CRED ]] && cred=(--storage-credentials "$STORAGE_CRED")
tb_must "register other2 without --pgdata" cluster add other2 --conninfo "$(conninfo other)" --storage "$STORAGE_URI" \
	"${cred[@]}"
assert_contains "cluster add says it is logical only" "$TB_OUT" "backed up logically"
tb_fails "a cluster that does not answer is refused" 1 cluster add nobody --conninfo \
	"host=$SOCK port=1 user=$PG_USER password=sekrit-pw sslpassword=k3y-pw dbname=postgres" --storage "$STORAGE_URI" \
	"${cred[@]}"
assert_contains "saying it could not connect, with the conninfo in the hint" "$TB_ALL" "port='1'"
assert_not_contains "but neither its password nor its sslpassword" "$TB_ALL" "-pw"
psql_at $Q postgres "CREATE DATABASE billing"
psql_at $Q billing "CREATE TABLE invoices AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 500) g"
tb_ok "tenant list of other2" tenant list --cluster other2 --output json || true
assert_eq "billing: logical, because no data directory is registered" \
	'logical no data directory registered for cluster "other2"' \
	"$(printf '%s' "$TB_OUT" | jq -r '.[] | select(.name == "billing") | "\(.backup_method) \(.backup_method_reason)"')"
tb_fails "an incremental without --method is refused there" 1 backup --cluster other2 --tenant billing --mode incremental
assert_contains "with the seed's message" "$TB_ERR" "ERROR: Logical backup supports only full backup"
tb_fails "--method physical is refused there" 1 backup --cluster other2 --tenant billing --method physical
assert_contains "naming the missing data directory" "$TB_ERR" "has no data directory registered"
tb_must "backup without --method is logical there" backup --cluster other2 --tenant billing
assert_eq "billing's set is logical" logical "$(set_json other2 billing | jq -r '.[0].method')"
tb_ok "restore it into src" restore --cluster other2 --tenant billing --as billing_copy --into-cluster src || true
assert_eq "billing_copy equals billing" "$(psql_at $Q billing "SELECT md5(string_agg(h, '' ORDER BY id)) FROM invoices")" \
	"$(psql_at $P billing_copy "SELECT md5(string_agg(h, '' ORDER BY id)) FROM invoices")"

# ---------------------------------------------------------------- a damaged dump
obj="$(set_dir "$lset")/data/tenant.dump"
st_flip_byte "$obj" $(( $(st_size "$obj") / 2 ))
tb_fails "restore of the damaged set is refused" 1 restore --cluster src --tenant shop --set "$lset" \
	--as shop_bad --into-cluster other --temp-dir "$T/tmp"
assert_contains "naming the damaged object" "$TB_ERR" "stored file \"$obj\" is damaged"
assert_eq "no database was created" 0 "$(psql_at $Q postgres "SELECT count(*) FROM pg_database WHERE datname = 'shop_bad'")"
assert_eq "nothing left in the temporary directory" "" "$(ls -A "$T/tmp")"
tb_fails "--sql-file of the damaged set is refused too" 1 restore --cluster src --tenant shop --set "$lset" \
	--sql-file "$T/bad.sql"
assert_true "and writes no file" test ! -e "$T/bad.sql"
tb_fails "verify fails on the damaged set" 1 verify --cluster src --tenant shop --set "$lset"
assert_contains "naming the object" "$TB_ERR" "$obj"
assert_eq "the verification is kept with the set" damaged \
	"$(set_json src shop | jq -r --arg s "$lset" '.[] | select(.id == $s) | .verify_status')"

# ---------------------------------------------------------------- set delete
tb_ok "set delete of the logical set" set delete --cluster src --tenant shop --set "$lset" || true
assert_eq "it is no longer listed" "$pset $iset" "$(set_ids src shop | xargs)"
assert_eq "its objects are gone from the storage" "" "$(st_keys "$(set_dir "$lset")")"

check_invariant $P shop

# ---------------------------------------------------------------- "Back up now" through the daemon
user_add admin 'admin-pw-1' admin
daemon_start $HTTP
API_TOKEN=$(api_token admin 'admin-pw-1')
shop=$(tenant_id src shop)
billing=$(tenant_id other2 billing)
api_expect "incremental logical Back up Now is refused" 422 POST "/api/v1/tenants/$shop/backups" \
	'{"mode": "incremental", "method": "logical"}' || true
assert_eq "with the seed's message" "Logical backup supports only full backup" \
	"$(printf '%s' "$API_BODY" | jq -r .error.message)"
api_expect "an invalid method is refused" 400 POST "/api/v1/tenants/$shop/backups" '{"mode": "full", "method": "dump"}' || true
api_expect "Back up Now with method logical" 202 POST "/api/v1/tenants/$shop/backups" '{"mode": "full", "method": "logical"}' || true
task=$(printf '%s' "$API_BODY" | jq -r .id)
task_wait "$task" || true
log "$(task_summary)"
assert_eq "the logical task succeeded, every step" "SUCCEEDED SUCCEEDED SUCCEEDED SUCCEEDED SUCCEEDED SUCCEEDED" \
	"$(printf '%s' "$API_BODY" | jq -r '[.status, .steps[].status] | join(" ")')"
assert_contains "the checkpoint step says it is not needed" "$(task_step 'Start cluster compact if necessary' .log)" \
	"not needed for a logical backup"
assert_contains "the logs step says there is no WAL" "$(task_step 'Back up logs' .log)" "no WAL for a logical backup"
assert_eq "its set is listed as logical" logical "$(set_json src shop | jq -r '.[-1].method')"
api GET "/api/v1/tenants/$shop/sets"
assert_eq "the API's set list shows the method" logical "$(printf '%s' "$API_BODY" | jq -r '.[0].method')"
tb_ok "the new set verifies" verify --cluster src --tenant shop --set latest || true
api GET "/api/v1/tenants/$billing"
assert_eq "billing (no data directory): logical, incremental not offered, and why" \
	"logical false Logical backup supports only full backup" \
	"$(printf '%s' "$API_BODY" | jq -r '"\(.backup_method) \(.modes.incremental) \(.modes.incremental_reason)"')"
api_expect "Back up Now of billing without a method" 202 POST "/api/v1/tenants/$billing/backups" '{"mode": "full"}' || true
task_wait "$(printf '%s' "$API_BODY" | jq -r .id)" || true
assert_eq "runs logically and succeeds" "SUCCEEDED logical" \
	"$(printf '%s %s' "$(task_status)" "$(set_json other2 billing | jq -r '.[-1].method')")"
api POST "/api/v1/tenants/$shop/backups" '{"mode": "full", "method": "logical", "max_rate": "64M"}'
assert_eq "a logical Back up Now with max_rate is refused" 422 "$API_STATUS"
assert_contains "saying the rate limit is for physical backups" "$(printf '%s' "$API_BODY" | jq -r '.error.message')" \
	"a rate limit is for physical backups"
tb_remote backup --cluster src --tenant shop --mode full --method logical --wait
assert_eq "the CLI through the daemon: --method logical --wait succeeds" 0 "$TB_RC"
assert_match "and prints the set id" "$(last_line "$TB_OUT")" '^[0-9]{8}-[0-9]{6}F$'
assert_eq "which is logical" logical \
	"$(set_json src shop | jq -r --arg s "$(last_line "$TB_OUT")" '.[] | select(.id == $s) | .method')"
api_expect "a restore task with both to and as is refused" 400 POST "/api/v1/tenants/$shop/restores" \
	"$(jq -nc --arg t "$T/x" '{to: $t, as: "x"}')" || true
api_expect "a restore task of the newest logical set as shop_api into other" 202 POST "/api/v1/tenants/$shop/restores" \
	'{"as": "shop_api", "into_cluster": "other", "jobs": 2}' || true
task_wait "$(printf '%s' "$API_BODY" | jq -r .id)" || true
assert_eq "the restore task succeeded" SUCCEEDED "$(task_status)"
assert_contains "its log says where" "$(task_step Restore .log)" "restored as database shop_api in cluster other"
assert_eq "shop_api has shop's schema" "$src_schema" "$(dump_of $Q shop_api --schema-only)"
daemon_stop
