/*
 * meta_int.h - what the files of the metadata store share (not for callers).
 */
#ifndef TENBACK_META_META_INT_H
#define TENBACK_META_META_INT_H

#include <sqlite3.h>

struct Meta {
	sqlite3 *db;
	char *path;
	char *home;
};

/* Set the error record from the connection's last error; returns the code. */
int meta_db_error(Meta *m, const char *what);
int meta_exec_sql(Meta *m, const char *sql);
int meta_prepare(Meta *m, sqlite3_stmt **st, const char *sql);
/* NULL binds SQL NULL. */
void meta_bind_text(sqlite3_stmt *st, int idx, const char *s);
/* malloc'd copy of a text column, NULL for SQL NULL. */
char *meta_col_text(sqlite3_stmt *st, int idx);
/* Step a statement that returns no row, then finalize it. */
int meta_step_done(Meta *m, sqlite3_stmt *st, const char *what);

#endif
