/*
 * logical_globals.c - what a tenant database needs from outside itself,
 * for a logical backup: the roles it uses, and its own properties (owner,
 * privileges, comment, settings), which pg_dump keeps only for a restore
 * under the same name (pg_restore --create).
 *
 * Why not pg_dumpall --roles-only: it dumps every role of the instance -
 * other tenants' roles and password hashes included - and restoring it
 * ALTERs roles that already exist (their passwords too).  Here only the
 * roles the database uses are kept, and the script creates a role only
 * when none of that name exists: an existing role is never changed.
 *
 * Invariant: both scripts are generated inside the dump's snapshot (the
 * caller's transaction), so they match the dump.  Every name and value is
 * quoted by libpq (PQescapeIdentifier, PQescapeLiteral).
 */
#include "backup/logical_int.h"

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Catalog columns naming the owner of an object of the database. */
static const char *const owner_cols[][2] = {
	{"pg_class", "relowner"},         {"pg_namespace", "nspowner"},   {"pg_proc", "proowner"},
	{"pg_type", "typowner"},          {"pg_largeobject_metadata", "lomowner"},
	{"pg_default_acl", "defaclrole"}, {"pg_language", "lanowner"},    {"pg_foreign_data_wrapper", "fdwowner"},
	{"pg_foreign_server", "srvowner"}, {"pg_user_mappings", "umuser"}, {"pg_operator", "oprowner"},
	{"pg_collation", "collowner"},    {"pg_conversion", "conowner"},  {"pg_opclass", "opcowner"},
	{"pg_opfamily", "opfowner"},      {"pg_ts_config", "cfgowner"},   {"pg_ts_dict", "dictowner"},
	{"pg_extension", "extowner"},     {"pg_event_trigger", "evtowner"}, {"pg_publication", "pubowner"},
	{"pg_statistic_ext", "stxowner"},
};

/* Catalog columns holding privileges: their grantees and grantors. */
static const char *const acl_cols[][2] = {
	{"pg_class", "relacl"},   {"pg_attribute", "attacl"},    {"pg_namespace", "nspacl"},
	{"pg_proc", "proacl"},    {"pg_type", "typacl"},         {"pg_largeobject_metadata", "lomacl"},
	{"pg_default_acl", "defaclacl"}, {"pg_language", "lanacl"}, {"pg_foreign_data_wrapper", "fdwacl"},
	{"pg_foreign_server", "srvacl"},
};

/* The oids of the roles the database uses, as an array literal "{10,16384}". */
static int
used_roles(PgConn *conn, char **out)
{
	Buf q = BUF_INIT;
	int rc;

	buf_puts(&q, "WITH RECURSIVE direct(oid) AS ("
	             " SELECT datdba FROM pg_database WHERE datname = current_database()"
	             " UNION SELECT a.x FROM pg_database d, aclexplode(d.datacl) e,"
	             "  LATERAL (VALUES (e.grantee), (e.grantor)) a(x) WHERE d.datname = current_database()"
	             " UNION SELECT unnest(polroles) FROM pg_policy"
	             " UNION SELECT setrole FROM pg_db_role_setting"
	             "  WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())");
	/* only the objects created after initdb (FirstNormalObjectId): the
	 * system's own objects name the predefined roles and the bootstrap
	 * superuser, which say nothing about the tenant */
	for (size_t i = 0; i < sizeof(owner_cols) / sizeof(owner_cols[0]); i++)
		buf_printf(&q, " UNION SELECT %s FROM pg_catalog.%s WHERE %s >= 16384", owner_cols[i][1], owner_cols[i][0],
		           strcmp(owner_cols[i][0], "pg_user_mappings") == 0 ? "umid" : "oid");
	for (size_t i = 0; i < sizeof(acl_cols) / sizeof(acl_cols[0]); i++)
		buf_printf(&q, " UNION SELECT a.x FROM pg_catalog.%s t, aclexplode(t.%s) e,"
		               " LATERAL (VALUES (e.grantee), (e.grantor)) a(x) WHERE t.%s >= 16384",
		           acl_cols[i][0], acl_cols[i][1], strcmp(acl_cols[i][0], "pg_attribute") == 0 ? "attrelid" : "oid");
	/* not the predefined roles (pg_*), before following memberships: every
	 * instance has them, and their members (monitoring logins of
	 * pg_monitor, say) are not the tenant's; then the members of the
	 * roles left (login roles that use them), transitively */
	buf_puts(&q, "), used(oid) AS (SELECT oid FROM direct WHERE oid >= 16384 OR oid = 10"
	             " UNION SELECT m.member FROM pg_auth_members m JOIN used u ON m.roleid = u.oid)"
	             " SELECT '{' || coalesce(string_agg(r.oid::text, ',' ORDER BY r.oid), '') || '}'"
	             " FROM pg_roles r WHERE r.oid IN (SELECT oid FROM used)"
	             "  AND (r.oid >= 16384 OR r.oid = 10)");
	rc = pg_conn_query_value(conn, out, q.data, 0, NULL);
	if (rc < 0)
		err_prefix("could not find the roles the database uses");
	buf_free(&q);
	return rc;
}

/* Settings whose value is a list that PostgreSQL keeps quoted (pg_dump's
 * variable_is_guc_list_quote): each element becomes its own literal. */
static bool
guc_list_quote(const char *name)
{
	static const char *const names[] = {"local_preload_libraries", "search_path", "session_preload_libraries",
	                                    "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

static void
put_ident(Buf *b, PGconn *pc, const char *s)
{
	char *q = PQescapeIdentifier(pc, s, strlen(s));

	buf_puts(b, q ? q : "\"?\"");
	PQfreemem(q);
}

static void
put_literal(Buf *b, PGconn *pc, const char *s)
{
	char *q = PQescapeLiteral(pc, s, strlen(s));

	buf_puts(b, q ? q : "''");
	PQfreemem(q);
}

/*
 * The elements of a list setting as stored in pg_db_role_setting, split
 * like PostgreSQL's SplitGUCList (pg_dump does the same): elements are
 * separated by commas, surrounding blanks ignored, a double-quoted element
 * keeps everything up to the closing quote ("" being one quote).  Nothing
 * of the stored text is trusted to be quoted: a value SET ... FROM CURRENT
 * stored raw splits into elements that become literals, never SQL.
 * false when it does not split (the caller then writes it as one literal).
 */
static bool
split_guc_list(Buf *b, PGconn *pc, const char *value)
{
	Buf out = BUF_INIT;
	Buf elem = BUF_INIT;
	const char *p = value;
	int n = 0;
	bool ok = false;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '\0') {
		buf_puts(b, "''");
		return true;
	}
	for (;;) {
		buf_reset(&elem);
		if (*p == '"') {
			for (p++;; p++) {
				if (*p == '\0')
					goto out; /* no closing quote */
				if (*p == '"') {
					if (p[1] != '"')
						break;
					p++;
				}
				buf_putc(&elem, *p);
			}
			p++;
		} else {
			while (*p && *p != ',' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
				buf_putc(&elem, *p++);
			if (elem.len == 0)
				goto out; /* empty unquoted element */
		}
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (n++ > 0)
			buf_puts(&out, ", ");
		put_literal(&out, pc, elem.data ? elem.data : ""); /* NULL: an empty quoted element */
		if (*p == '\0')
			break;
		if (*p != ',')
			goto out;
		p++;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
	}
	buf_puts(b, out.data);
	ok = true;
out:
	buf_free(&out);
	buf_free(&elem);
	return ok;
}

/* "name=value" of pg_db_role_setting as "SET name = value": the value as
 * literals only (a list setting as one literal per element), like
 * pg_dump's makeAlterConfigCommand. */
static void
put_setting(Buf *b, PGconn *pc, const char *cfg)
{
	const char *eq = strchr(cfg, '=');
	char *name;

	if (eq == NULL)
		return;
	name = xasprintf("%.*s", (int)(eq - cfg), cfg);
	buf_puts(b, "SET ");
	put_ident(b, pc, name);
	buf_puts(b, " = ");
	if (!guc_list_quote(name) || !split_guc_list(b, pc, eq + 1))
		put_literal(b, pc, eq + 1);
	free(name);
}

/* The encoding the script's text is in (the connection's, in which the
 * server sent names and values), so that psql reads it as such. */
static void
put_client_encoding(Buf *b, PGconn *pc)
{
	buf_puts(b, "SET client_encoding = ");
	put_literal(b, pc, pg_encoding_to_char(PQclientEncoding(pc)));
	buf_puts(b, ";\n\n");
}

/* A dollar-quote tag that does not occur in body. */
static char *
dollar_tag(const char *body)
{
	char *tag = xstrdup("$tb$");

	for (int i = 1; strstr(body, tag); i++) {
		free(tag);
		tag = xasprintf("$tb%d$", i);
	}
	return tag;
}

static int
roles_script(PgConn *conn, const char *oids, Buf *out, size_t *out_n, bool *out_passwords)
{
	PGconn *pc = pg_conn_raw(conn);
	const char *params[1] = {oids};
	PGresult *roles = NULL, *settings = NULL, *members = NULL;
	char *can_read = NULL;
	Buf body = BUF_INIT;
	char *tag = NULL;
	char *sql = NULL;
	int rc;

	*out_n = 0;
	/* Passwords are in pg_authid, readable by superusers only; pg_roles shows them masked. */
	if ((rc = pg_conn_query_value(conn, &can_read, "SELECT has_table_privilege('pg_authid', 'SELECT')", 0, NULL)) < 0)
		goto out;
	*out_passwords = strcmp(can_read, "t") == 0;
	sql = xasprintf("SELECT r.oid, r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb,"
	                " r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit, %s,"
	                " CASE WHEN r.rolvaliduntil IS NULL THEN NULL WHEN isfinite(r.rolvaliduntil)"
	                "  THEN to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
	                "  ELSE r.rolvaliduntil::text END,"
	                " shobj_description(r.oid, 'pg_authid')"
	                " FROM %s r WHERE r.oid = ANY ($1::oid[]) ORDER BY r.rolname",
	                *out_passwords ? "r.rolpassword" : "NULL::text", *out_passwords ? "pg_authid" : "pg_roles");
	if ((rc = pg_conn_query(conn, &roles, sql, 1, params)) < 0 ||
	    (rc = pg_conn_query(conn, &settings,
	                        "SELECT r.rolname, c.cfg FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole,"
	                        " unnest(s.setconfig) WITH ORDINALITY c(cfg, n)"
	                        " WHERE s.setdatabase = 0 AND s.setrole = ANY ($1::oid[]) ORDER BY r.rolname, c.n",
	                        1, params)) < 0 ||
	    (rc = pg_conn_query(conn, &members,
	                        "SELECT u.rolname, g.rolname, m.admin_option FROM pg_auth_members m"
	                        " JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
	                        " WHERE m.member = ANY ($1::oid[]) AND (m.roleid = ANY ($1::oid[]) OR m.roleid < 16384)"
	                        " ORDER BY 1, 2", 1, params)) < 0) {
		err_prefix("could not read the roles the database uses");
		goto out;
	}
	*out_n = (size_t)PQntuples(roles);
	buf_puts(&body, "DECLARE\n  created text[] := '{}';\nBEGIN\n");
	for (int i = 0; i < PQntuples(roles); i++) {
		const char *name = PQgetvalue(roles, i, 1);
		static const char *const attrs[][2] = {
			{"SUPERUSER", "NOSUPERUSER"}, {"INHERIT", "NOINHERIT"},       {"CREATEROLE", "NOCREATEROLE"},
			{"CREATEDB", "NOCREATEDB"},   {"LOGIN", "NOLOGIN"},           {"REPLICATION", "NOREPLICATION"},
			{"BYPASSRLS", "NOBYPASSRLS"},
		};

		/* SUPERUSER, REPLICATION, BYPASSRLS: a restore must not hand out
		 * powers over the whole instance, so such a role is recreated
		 * without them, NOLOGIN and without its password */
		bool powerful = PQgetvalue(roles, i, 2)[0] == 't' || PQgetvalue(roles, i, 7)[0] == 't' ||
		                PQgetvalue(roles, i, 8)[0] == 't';

		/* the bootstrap superuser (oid 10) exists on every server: no warning */
		if (powerful && strcmp(PQgetvalue(roles, i, 0), "10") != 0)
			log_warning("role \"%s\" is a superuser or has REPLICATION or BYPASSRLS: the logical backup "
			            "recreates it NOLOGIN, without those attributes and without its password", name);
		buf_puts(&body, "  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ");
		put_literal(&body, pc, name);
		buf_puts(&body, ") THEN\n    CREATE ROLE ");
		put_ident(&body, pc, name);
		buf_puts(&body, " WITH");
		for (int k = 0; k < 7; k++) {
			bool on = PQgetvalue(roles, i, 2 + k)[0] == 't';
			if (powerful && (k == 0 || k == 4 || k == 5 || k == 6))
				on = false;
			buf_printf(&body, " %s", attrs[k][on ? 0 : 1]);
		}
		buf_printf(&body, " CONNECTION LIMIT %d", atoi(PQgetvalue(roles, i, 9)));
		if (!powerful && !PQgetisnull(roles, i, 10)) {
			buf_puts(&body, " PASSWORD ");
			put_literal(&body, pc, PQgetvalue(roles, i, 10));
		}
		if (!PQgetisnull(roles, i, 11)) {
			buf_puts(&body, " VALID UNTIL ");
			put_literal(&body, pc, PQgetvalue(roles, i, 11));
		}
		buf_puts(&body, ";\n");
		if (!PQgetisnull(roles, i, 12)) {
			buf_puts(&body, "    COMMENT ON ROLE ");
			put_ident(&body, pc, name);
			buf_puts(&body, " IS ");
			put_literal(&body, pc, PQgetvalue(roles, i, 12));
			buf_puts(&body, ";\n");
		}
		for (int k = 0; k < PQntuples(settings); k++) {
			if (strcmp(PQgetvalue(settings, k, 0), name) != 0)
				continue;
			buf_puts(&body, "    ALTER ROLE ");
			put_ident(&body, pc, name);
			buf_putc(&body, ' ');
			put_setting(&body, pc, PQgetvalue(settings, k, 1));
			buf_puts(&body, ";\n");
		}
		buf_puts(&body, "    created := created || ");
		put_literal(&body, pc, name);
		buf_puts(&body, "::text;\n  END IF;\n");
	}
	/* memberships, for the roles this script created only */
	for (int i = 0; i < PQntuples(members); i++) {
		buf_puts(&body, "  IF ");
		put_literal(&body, pc, PQgetvalue(members, i, 0));
		buf_puts(&body, " = ANY (created) THEN\n    GRANT ");
		put_ident(&body, pc, PQgetvalue(members, i, 1));
		buf_puts(&body, " TO ");
		put_ident(&body, pc, PQgetvalue(members, i, 0));
		if (PQgetvalue(members, i, 2)[0] == 't')
			buf_puts(&body, " WITH ADMIN OPTION");
		buf_puts(&body, ";\n  END IF;\n");
	}
	buf_puts(&body, "  IF cardinality(created) > 0 THEN\n"
	                "    RAISE NOTICE 'tenback: roles created: %', array_to_string(created, ', ');\n"
	                "  END IF;\nEND\n");
	tag = dollar_tag(body.data);
	buf_printf(out, "--\n-- The roles this database uses (%zu), as tenback backed them up%s.\n"
	                "-- Each is created only when no role of that name exists; an existing role is never changed.\n"
	                "--\n\n", *out_n, *out_passwords ? "" : " (without passwords: not readable by the backup role)");
	put_client_encoding(out, pc);
	if (*out_n == 0)
		buf_puts(out, "-- (none besides the bootstrap superuser and the predefined roles)\n");
	else
		buf_printf(out, "DO %s\n%s%s;\n", tag, body.data, tag);
out:
	PQclear(roles);
	PQclear(settings);
	PQclear(members);
	free(can_read);
	free(sql);
	free(tag);
	buf_free(&body);
	return rc;
}

static int
dbprops_script(PgConn *conn, Buf *out)
{
	PGconn *pc = pg_conn_raw(conn);
	PGresult *db = NULL, *acl = NULL, *settings = NULL;
	const char *owner;
	int rc;

	if ((rc = pg_conn_query(conn, &db,
	                        "SELECT pg_get_userbyid(d.datdba), d.datacl IS NOT NULL,"
	                        " shobj_description(d.oid, 'pg_database'), d.datconnlimit, d.datname"
	                        " FROM pg_database d WHERE d.datname = current_database()", 0, NULL)) < 0 ||
	    (rc = pg_conn_query(conn, &acl,
	                        "SELECT CASE WHEN e.grantee = 0 THEN NULL ELSE pg_get_userbyid(e.grantee) END,"
	                        " e.privilege_type, e.is_grantable FROM pg_database d, aclexplode(d.datacl) e"
	                        " WHERE d.datname = current_database() ORDER BY 1 NULLS FIRST, 2", 0, NULL)) < 0 ||
	    (rc = pg_conn_query(conn, &settings,
	                        "SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END, c.cfg"
	                        " FROM pg_db_role_setting s, unnest(s.setconfig) WITH ORDINALITY c(cfg, n)"
	                        " WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())"
	                        " ORDER BY 1 NULLS FIRST, c.n", 0, NULL)) < 0) {
		err_prefix("could not read the properties of the database");
		goto out;
	}
	owner = PQgetvalue(db, 0, 0);
	buf_puts(out, "--\n-- Properties of database ");
	put_ident(out, pc, PQgetvalue(db, 0, 4));
	buf_puts(out, " (owner, privileges, comment, settings), as tenback backed them up.\n"
	              "-- They apply to the database this script runs in: psql sets DBNAME to its name.\n--\n\n");
	put_client_encoding(out, pc);
	buf_puts(out, "ALTER DATABASE :\"DBNAME\" OWNER TO ");
	put_ident(out, pc, owner);
	buf_puts(out, ";\n");
	if (PQgetvalue(db, 0, 1)[0] == 't') {
		buf_puts(out, "REVOKE ALL ON DATABASE :\"DBNAME\" FROM PUBLIC;\nREVOKE ALL ON DATABASE :\"DBNAME\" FROM ");
		put_ident(out, pc, owner);
		buf_puts(out, ";\n");
		for (int i = 0; i < PQntuples(acl); i++) {
			buf_printf(out, "GRANT %s ON DATABASE :\"DBNAME\" TO ", PQgetvalue(acl, i, 1));
			if (PQgetisnull(acl, i, 0))
				buf_puts(out, "PUBLIC");
			else
				put_ident(out, pc, PQgetvalue(acl, i, 0));
			buf_puts(out, PQgetvalue(acl, i, 2)[0] == 't' ? " WITH GRANT OPTION;\n" : ";\n");
		}
	}
	if (!PQgetisnull(db, 0, 2)) {
		buf_puts(out, "COMMENT ON DATABASE :\"DBNAME\" IS ");
		put_literal(out, pc, PQgetvalue(db, 0, 2));
		buf_puts(out, ";\n");
	}
	if (atoi(PQgetvalue(db, 0, 3)) != -1)
		buf_printf(out, "ALTER DATABASE :\"DBNAME\" CONNECTION LIMIT %d;\n", atoi(PQgetvalue(db, 0, 3)));
	for (int i = 0; i < PQntuples(settings); i++) {
		if (PQgetisnull(settings, i, 0)) {
			buf_puts(out, "ALTER DATABASE :\"DBNAME\" ");
		} else {
			buf_puts(out, "ALTER ROLE ");
			put_ident(out, pc, PQgetvalue(settings, i, 0));
			buf_puts(out, " IN DATABASE :\"DBNAME\" ");
		}
		put_setting(out, pc, PQgetvalue(settings, i, 1));
		buf_puts(out, ";\n");
	}
out:
	PQclear(db);
	PQclear(acl);
	PQclear(settings);
	return rc;
}

int
logical_globals(PgConn *conn, Buf *roles_sql, Buf *dbprops_sql, size_t *out_n_roles, bool *out_passwords)
{
	char *oids = NULL;
	int rc;

	*out_n_roles = 0;
	*out_passwords = false;
	if ((rc = used_roles(conn, &oids)) < 0)
		return rc;
	if ((rc = roles_script(conn, oids, roles_sql, out_n_roles, out_passwords)) == 0)
		rc = dbprops_script(conn, dbprops_sql);
	free(oids);
	return rc;
}
