/*
 * api.h - the daemon's HTTP REST API under /api/v1 (JSON in and out), its
 * authentication (argon2id passwords, sessions, API tokens, roles) and the
 * static console under / and /web/.
 *
 * The server owns a libmicrohttpd daemon that runs one thread per
 * connection; every request opens its own Meta on home, so nothing
 * request-scoped is shared between threads.  The engine is borrowed: the
 * caller starts it before api_server_start and stops it after
 * api_server_stop.
 */
#ifndef TENBACK_API_API_H
#define TENBACK_API_API_H

#include "task/task.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ApiServer ApiServer;

typedef struct ApiServerOpts {
	const char *home;         /* metadata home */
	const char *listen;       /* "HOST:PORT" or "[V6]:PORT"; NULL: 127.0.0.1:8432 */
	const char *web_dir;      /* the console's files; NULL: api_default_web_dir() */
	TaskEngine *engine;       /* borrowed, outlives the server */
} ApiServerOpts;

/* Binds the address (only that one) and starts serving; ERR_INVALID for a
 * listen address that does not parse, ERR_IO when it cannot be bound. */
int api_server_start(ApiServer **out, const ApiServerOpts *o);
/* The port bound (useful with port 0). */
int api_server_port(const ApiServer *s);
/* Stops accepting, finishes running requests, frees. NULL is fine. */
void api_server_stop(ApiServer *s);

/* The web directory next to the source tree when it exists, else
 * $prefix/share/tenback/web.  Borrowed, static. */
const char *api_default_web_dir(void);

/* ---- passwords (password.c) ---- */

/* argon2id encoded hash of password into *out (malloc'd). */
int api_password_hash(const char *password, char **out);
/* 0 when the password matches, ERR_PERMISSION when it does not,
 * ERR_INVALID for an encoded hash that does not parse. */
int api_password_verify(const char *encoded, const char *password);
/* A random password of 20 characters from [A-Za-z0-9] (malloc'd). */
char *api_password_generate(void);
/* ERR_INVALID unless role is admin, operator or viewer. */
int api_role_check(const char *role);

#endif
