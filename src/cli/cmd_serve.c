/*
 * cmd_serve.c - "serve" (the daemon: the REST API, the console and the
 * task engine) and "user add|list".  Wiring only.
 *
 * Invariant: a password is read from standard input, hashed and wiped;
 * the only one ever printed is the generated first admin's, once.
 */
#include "cli/args.h"
#include "cli/cli.h"

#include "alert/alert.h"
#include "api/api.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strutil.h"
#include "task/task.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define SERVE_USAGE "tenback serve [--listen HOST:PORT] [--workers N] [--web DIR] [--alert-interval SEC]"
#define USER_USAGE "tenback user add NAME --role admin|operator|viewer   (password on standard input)\n" \
	"       tenback user list [--output text|json]\n" \
	"       tenback user passwd NAME   (new password on standard input; ends the user's sessions and tokens)\n" \
	"       tenback user remove NAME\n" \
	"       tenback user sessions [--user NAME] [--output text|json]   (live sessions and API tokens)\n" \
	"       tenback user revoke NAME | --id ID   (all sessions and tokens of a user, or one)"

/* With no user at all, create "admin" with a random password, printed once. */
/* serve and user work on the local metadata, never through --server. */
static int
need_local(Cli *cli, const char *what)
{
	if (cli->meta)
		return 0;
	err_set(ERR_INVALID, "%s works on the local metadata and cannot be used with --server", what);
	err_hint("Run it on the daemon's host with --home.");
	return ERR_INVALID;
}

static int
first_admin(Cli *cli)
{
	MetaUser *users = NULL, u = {0};
	size_t n = 0;
	char *password = NULL, *hash = NULL;
	int rc;

	if ((rc = meta_user_list(cli->meta, &users, &n)) < 0)
		return rc;
	meta_user_array_free(users, n);
	if (n > 0)
		return 0;
	password = api_password_generate();
	if ((rc = api_password_hash(password, &hash)) < 0)
		goto out;
	u.name = "admin";
	u.role = "admin";
	u.password_hash = hash;
	if ((rc = meta_user_add(cli->meta, &u)) < 0)
		goto out;
	printf("created user admin with password %s\n", password);
	printf("(shown once: change it by adding another admin with \"tenback user add\")\n");
	fflush(stdout);
out:
	explicit_bzero(password, strlen(password));
	free(password);
	free(hash);
	return rc;
}

int
cmd_serve(Cli *cli, int argc, char **argv)
{
	const char *listen = "127.0.0.1:8432", *workers_opt = NULL, *web = NULL, *interval_opt = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {
		{"listen", ARG_STRING, &listen, false},
		{"workers", ARG_STRING, &workers_opt, false},
		{"web", ARG_STRING, &web, false},
		{"alert-interval", ARG_STRING, &interval_opt, false},
		{NULL, 0, NULL, false},
	};
	TaskEngine *engine = NULL;
	AlertService *alerts = NULL;
	ApiServer *server = NULL;
	TaskEngineOpts eo = {0};
	ApiServerOpts so = {0};
	uint64_t workers = 2, alert_interval = 30;
	sigset_t set;
	int rc, sig = 0;

	if ((rc = args_parse(argc, argv, specs, &pos)) < 0 || pos.count ||
	    (workers_opt && ((rc = str_to_u64(&workers, workers_opt, "--workers")) < 0 || workers < 1 || workers > 64)) ||
	    (interval_opt && ((rc = str_to_u64(&alert_interval, interval_opt, "--alert-interval")) < 0 ||
	                      alert_interval < 1 || alert_interval > 3600))) {
		if (rc == 0)
			err_set(ERR_INVALID, pos.count ? "serve takes no positional argument"
			                     : workers < 1 || workers > 64 ? "--workers must be between 1 and 64"
			                                                    : "--alert-interval must be between 1 and 3600 seconds");
		strlist_free(&pos);
		return cli_usage_error(SERVE_USAGE);
	}
	strlist_free(&pos);
	if ((rc = need_local(cli, "serve")) < 0 || (rc = first_admin(cli)) < 0)
		return rc;

	/* Signals go to this thread only: block them before any thread exists. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	eo.home = cli->home;
	eo.workers = (int)workers;
	if ((rc = task_engine_start(&engine, &eo)) < 0)
		goto out;
	so.home = cli->home;
	so.listen = listen;
	so.web_dir = web;
	so.engine = engine;
	if ((rc = api_server_start(&server, &so)) < 0)
		goto out;
	if ((rc = alert_service_start(&alerts, cli->home, (int)alert_interval)) < 0)
		goto out;
	log_info("tenback serve: listening on %s (port %d), console from %s, %d workers", listen, api_server_port(server),
	         web ? web : api_default_web_dir(), (int)workers);
	while (sigwait(&set, &sig) != 0)
		;
	log_info("tenback serve: %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
out:
	alert_service_stop(alerts);
	api_server_stop(server);
	if (engine)
		task_engine_stop(engine);
	return rc;
}

/* One line of standard input, without echo on a terminal (malloc'd). */
static int
read_password(char **out)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	*out = NULL;
	if (tty) {
		fprintf(stderr, "Password: ");
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	len = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (len < 0) {
		free(line);
		err_set(ERR_INVALID, "no password on standard input");
		err_hint("Pipe it in: printf '%%s\\n' \"$PASSWORD\" | tenback user add NAME --role ROLE");
		return ERR_INVALID;
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (len < 8) {
		explicit_bzero(line, cap);
		free(line);
		return err_set(ERR_INVALID, "password must have at least 8 characters");
	}
	*out = line;
	return 0;
}

static bool
user_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len >= 1 && len <= 63 &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-") == len;
}

static int
user_add_cmd(Cli *cli, int argc, char **argv)
{
	const char *role = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"role", ARG_STRING, &role, true}, {NULL, 0, NULL, false}};
	MetaUser u = {0};
	char *password = NULL, *hash = NULL;
	int rc;

	if ((rc = args_parse(argc, argv, specs, &pos)) < 0 || pos.count != 1 || (rc = api_role_check(role)) < 0) {
		if (rc == 0)
			err_set(ERR_INVALID, "user add needs exactly one NAME");
		strlist_free(&pos);
		return cli_usage_error(USER_USAGE);
	}
	if (!user_name_ok(pos.items[0])) {
		rc = err_set(ERR_INVALID, "invalid user name \"%.80s\"", pos.items[0]);
		err_detail("A user name has 1 to 63 characters among letters, digits, \"_\", \".\", \"@\" and \"-\".");
		goto out;
	}
	if ((rc = read_password(&password)) < 0 || (rc = api_password_hash(password, &hash)) < 0)
		goto out;
	u.name = pos.items[0];
	u.role = (char *)role;
	u.password_hash = hash;
	if ((rc = meta_user_add(cli->meta, &u)) == 0)
		printf("user \"%s\" added with role %s\n", u.name, role);
out:
	str_wipe_free(password);
	free(hash);
	strlist_free(&pos);
	return rc;
}

static int
user_list_cmd(Cli *cli, int argc, char **argv)
{
	const char *output = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"output", ARG_STRING, &output, false}, {NULL, 0, NULL, false}};
	MetaUser *users = NULL;
	size_t n = 0;
	bool json;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0) {
		strlist_free(&pos);
		return cli_usage_error(USER_USAGE);
	}
	if ((rc = meta_user_list(cli->meta, &users, &n)) < 0)
		return rc;
	if (json) {
		Buf b = BUF_INIT;
		JsonWriter w;
		json_writer_init(&w, &b, true);
		json_array_begin(&w);
		for (size_t i = 0; i < n; i++) {
			json_object_begin(&w);
			json_kv_string(&w, "name", users[i].name);
			json_kv_string(&w, "role", users[i].role);
			json_kv_string(&w, "created_at", users[i].created_at);
			json_object_end(&w);
		}
		json_array_end(&w);
		printf("%s\n", b.data);
		buf_free(&b);
	} else {
		printf("%-24s %-9s %s\n", "NAME", "ROLE", "CREATED");
		for (size_t i = 0; i < n; i++)
			printf("%-24s %-9s %s\n", users[i].name, users[i].role, users[i].created_at ? users[i].created_at : "");
	}
	meta_user_array_free(users, n);
	return 0;
}

/* One NAME argument, an existing user's. */
static int
one_user(Cli *cli, int argc, char **argv, const char *what, StrList *pos)
{
	MetaUser u = {0};
	int rc;

	if (args_parse(argc, argv, (ArgSpec[]){{NULL, 0, NULL, false}}, pos) < 0 || pos->count != 1) {
		if (err_code() == 0)
			err_set(ERR_INVALID, "user %s needs exactly one NAME", what);
		return cli_usage_error(USER_USAGE);
	}
	if ((rc = meta_user_get(cli->meta, pos->items[0], &u)) < 0)
		return rc;
	meta_user_clear(&u);
	return 0;
}

static int
user_passwd_cmd(Cli *cli, int argc, char **argv)
{
	StrList pos = {0};
	char *password = NULL, *hash = NULL;
	size_t n = 0;
	int rc;

	if ((rc = one_user(cli, argc, argv, "passwd", &pos)) < 0)
		goto out;
	if ((rc = read_password(&password)) < 0 || (rc = api_password_hash(password, &hash)) < 0)
		goto out;
	if ((rc = meta_user_set_password(cli->meta, pos.items[0], hash)) < 0 ||
	    (rc = meta_auth_revoke_user(cli->meta, pos.items[0], &n)) < 0)
		goto out;
	printf("password of user \"%s\" changed; %zu session(s) and token(s) ended\n", pos.items[0], n);
out:
	str_wipe_free(password);
	free(hash);
	strlist_free(&pos);
	return rc;
}

static int
user_remove_cmd(Cli *cli, int argc, char **argv)
{
	StrList pos = {0};
	int rc;

	if ((rc = one_user(cli, argc, argv, "remove", &pos)) == 0 && (rc = meta_user_remove(cli->meta, pos.items[0])) == 0)
		printf("user \"%s\" removed, with its sessions and tokens\n", pos.items[0]);
	strlist_free(&pos);
	return rc;
}

#define SESSION_ID_SHOWN 16 /* as the admin API shows them */

static void
fmt_expiry(char *out, size_t cap, int64_t expires_at)
{
	time_t t = (time_t)expires_at;
	struct tm tm;

	if (expires_at == 0) {
		snprintf(out, cap, "never");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M:%S+00", &tm);
}

static int
user_sessions_cmd(Cli *cli, int argc, char **argv)
{
	const char *output = NULL, *user = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"output", ARG_STRING, &output, false}, {"user", ARG_STRING, &user, false},
	                   {NULL, 0, NULL, false}};
	MetaAuth *a = NULL;
	size_t n = 0;
	bool json;
	int rc;

	if (args_parse(argc, argv, specs, &pos) < 0 || pos.count || cli_output_json(&json, output) != 0) {
		strlist_free(&pos);
		return cli_usage_error(USER_USAGE);
	}
	if ((rc = meta_auth_list(cli->meta, user, (int64_t)time(NULL), &a, &n)) < 0)
		return rc;
	if (json) {
		Buf b = BUF_INIT;
		JsonWriter w;
		json_writer_init(&w, &b, true);
		json_array_begin(&w);
		for (size_t i = 0; i < n; i++) {
			char id[SESSION_ID_SHOWN + 1];
			snprintf(id, sizeof(id), "%s", a[i].id);
			json_object_begin(&w);
			json_kv_string(&w, "id", id);
			json_kv_string(&w, "kind", a[i].kind);
			json_kv_string(&w, "user", a[i].user_name);
			json_kv_string(&w, "role", a[i].role);
			json_kv_string(&w, "label", a[i].label);
			json_kv_string(&w, "created_at", a[i].created_at);
			if (a[i].expires_at)
				json_kv_int(&w, "expires_at", a[i].expires_at);
			else
				json_kv_string(&w, "expires_at", NULL);
			json_object_end(&w);
		}
		json_array_end(&w);
		printf("%s\n", b.data);
		buf_free(&b);
	} else {
		printf("%-16s %-7s %-20s %-9s %-22s %-22s %s\n", "ID", "KIND", "USER", "ROLE", "CREATED", "EXPIRES", "LABEL");
		for (size_t i = 0; i < n; i++) {
			char exp[32];
			fmt_expiry(exp, sizeof(exp), a[i].expires_at);
			printf("%-16.16s %-7s %-20s %-9s %-22s %-22s %s\n", a[i].id, a[i].kind, a[i].user_name, a[i].role,
			       a[i].created_at ? a[i].created_at : "", exp, a[i].label ? a[i].label : "");
		}
	}
	meta_auth_array_free(a, n);
	return 0;
}

static int
user_revoke_cmd(Cli *cli, int argc, char **argv)
{
	const char *id = NULL;
	StrList pos = {0};
	ArgSpec specs[] = {{"id", ARG_STRING, &id, false}, {NULL, 0, NULL, false}};
	MetaUser u = {0};
	MetaAuth a = {0};
	size_t n = 0;
	int rc;

	if ((rc = args_parse(argc, argv, specs, &pos)) < 0 || (id != NULL) == (pos.count == 1) || pos.count > 1) {
		if (rc == 0)
			err_set(ERR_INVALID, "user revoke needs a user NAME or --id ID, one of them");
		strlist_free(&pos);
		return cli_usage_error(USER_USAGE);
	}
	if (id) {
		if ((rc = meta_auth_revoke(cli->meta, id, &a)) == 0)
			printf("%s %s of user \"%s\" revoked\n", a.kind, id, a.user_name);
		meta_auth_clear(&a);
	} else if ((rc = meta_user_get(cli->meta, pos.items[0], &u)) == 0 &&
	           (rc = meta_auth_revoke_user(cli->meta, pos.items[0], &n)) == 0) {
		printf("%zu session(s) and token(s) of user \"%s\" revoked\n", n, pos.items[0]);
	}
	meta_user_clear(&u);
	strlist_free(&pos);
	return rc;
}

int
cmd_user(Cli *cli, int argc, char **argv)
{
	int rc;

	if ((rc = need_local(cli, "user")) < 0)
		return rc;
	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return user_add_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return user_list_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "passwd") == 0)
		return user_passwd_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "remove") == 0)
		return user_remove_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "sessions") == 0)
		return user_sessions_cmd(cli, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "revoke") == 0)
		return user_revoke_cmd(cli, argc - 1, argv + 1);
	err_set(ERR_INVALID, "unknown user command \"%s\"", argc ? argv[0] : "");
	return cli_usage_error(USER_USAGE);
}
