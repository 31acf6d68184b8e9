/*
 * routes.h - the route table of /api/v1, as an X-macro so that the server
 * (http.c) and the test that holds it against openapi.json read the same
 * list.  API_ROUTES(X) calls X(method, path template, least role, handler)
 * once per route.  Keep openapi.json true when this changes.
 */
#ifndef TENBACK_API_ROUTES_H
#define TENBACK_API_ROUTES_H

#define API_ROUTES(X) \
	X("POST", "/api/v1/sessions", ROLE_PUBLIC, h_session_create) \
	X("DELETE", "/api/v1/sessions", ROLE_VIEWER, h_session_delete) \
	X("GET", "/api/v1/sessions", ROLE_ADMIN, h_sessions_list) \
	X("DELETE", "/api/v1/sessions/{id}", ROLE_ADMIN, h_session_revoke) \
	X("DELETE", "/api/v1/users/{name}/sessions", ROLE_ADMIN, h_user_sessions_revoke) \
	X("GET", "/api/v1/me", ROLE_VIEWER, h_me) \
	X("POST", "/api/v1/tokens", ROLE_VIEWER, h_token_create) \
	X("GET", "/api/v1/openapi.json", ROLE_PUBLIC, h_openapi) \
	X("GET", "/api/v1/clusters", ROLE_VIEWER, h_clusters_list) \
	X("POST", "/api/v1/clusters", ROLE_ADMIN, h_cluster_create) \
	X("GET", "/api/v1/clusters/{name}", ROLE_VIEWER, h_cluster_get) \
	X("POST", "/api/v1/clusters/{name}/status", ROLE_ADMIN, h_cluster_status) \
	X("POST", "/api/v1/clusters/{name}/checkpoint", ROLE_OPERATOR, h_cluster_checkpoint) \
	X("GET", "/api/v1/clusters/{name}/keys", ROLE_VIEWER, h_cluster_keys_list) \
	X("POST", "/api/v1/clusters/{name}/keys", ROLE_ADMIN, h_cluster_key_add) \
	X("DELETE", "/api/v1/clusters/{name}/keys/{fingerprint}", ROLE_ADMIN, h_cluster_key_delete) \
	X("DELETE", "/api/v1/clusters/{name}/encryption", ROLE_ADMIN, h_cluster_encryption_off) \
	X("GET", "/api/v1/tenants", ROLE_VIEWER, h_tenants_list) \
	X("GET", "/api/v1/tenants/{id}", ROLE_VIEWER, h_tenant_get) \
	X("GET", "/api/v1/tenants/{id}/sets", ROLE_VIEWER, h_tenant_sets) \
	X("DELETE", "/api/v1/tenants/{id}/sets/{set}", ROLE_ADMIN, h_tenant_set_delete) \
	X("POST", "/api/v1/tenants/{id}/sets/{set}/verify", ROLE_OPERATOR, h_tenant_set_verify) \
	X("GET", "/api/v1/tenants/{id}/window", ROLE_VIEWER, h_tenant_window) \
	X("GET", "/api/v1/tenants/{id}/strategy", ROLE_VIEWER, h_strategy_get) \
	X("PUT", "/api/v1/tenants/{id}/strategy", ROLE_ADMIN, h_strategy_put) \
	X("DELETE", "/api/v1/tenants/{id}/strategy", ROLE_ADMIN, h_strategy_delete) \
	X("GET", "/api/v1/tenants/{id}/tasks", ROLE_VIEWER, h_tenant_tasks) \
	X("POST", "/api/v1/tenants/{id}/backups", ROLE_OPERATOR, h_backup_create) \
	X("POST", "/api/v1/tenants/{id}/restores", ROLE_OPERATOR, h_restore_create) \
	X("GET", "/api/v1/storages", ROLE_VIEWER, h_storages_list) \
	X("POST", "/api/v1/storages", ROLE_ADMIN, h_storage_create) \
	X("POST", "/api/v1/storages/test", ROLE_OPERATOR, h_storage_test_uri) \
	X("DELETE", "/api/v1/storages/{name}", ROLE_ADMIN, h_storage_delete) \
	X("POST", "/api/v1/storages/{name}/test", ROLE_OPERATOR, h_storage_test) \
	X("GET", "/api/v1/tasks", ROLE_VIEWER, h_tasks_list) \
	X("GET", "/api/v1/tasks/{id}", ROLE_VIEWER, h_task_get) \
	X("POST", "/api/v1/tasks/{id}/retry", ROLE_OPERATOR, h_task_retry) \
	X("POST", "/api/v1/tasks/{id}/cancel", ROLE_OPERATOR, h_task_cancel) \
	X("POST", "/api/v1/scheduler/run", ROLE_ADMIN, h_scheduler_run) \
	X("GET", "/api/v1/audit", ROLE_ADMIN, h_audit_list) \
	X("GET", "/api/v1/metrics", ROLE_VIEWER, h_metrics) \
	X("GET", "/api/v1/alerts", ROLE_VIEWER, h_alerts_list) \
	X("POST", "/api/v1/alerts/{id}/ack", ROLE_OPERATOR, h_alert_ack) \
	X("GET", "/api/v1/notification-channels", ROLE_OPERATOR, h_channels_list) \
	X("POST", "/api/v1/notification-channels", ROLE_ADMIN, h_channel_create) \
	X("DELETE", "/api/v1/notification-channels/{id}", ROLE_ADMIN, h_channel_delete) \
	X("POST", "/api/v1/notification-channels/{id}/test", ROLE_OPERATOR, h_channel_test) \
	X("GET", "/api/v1/notification-attempts", ROLE_OPERATOR, h_attempts_list)

#endif
