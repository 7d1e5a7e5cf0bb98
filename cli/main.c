/*
 * tocsin: the incident commander's command-line tool. It talks to Redis
 * only (never to tocsind): send writes a job with one XADD, status and
 * report read the job record, check-config validates a configuration.
 *
 * Exit codes: 0 success, 1 the operation failed (invalid job, failed
 * deliveries, no such job), 2 usage, 3 Redis unreachable.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "channels/channels.h"
#include "cli/cli.h"
#include "templates/templates.h"



static void usage(FILE *f)
{
	fprintf(f,
		"usage: tocsin [-c FILE] send --template T (--group G ... | --to ADDRESS ...)\n"
		"                     [--channel C ...] [--severity S] [--incident I]\n"
		"                     [--var k=v ...] [--id ID] [--send-at T] [--expires-at T]\n"
		"                     [--response LABEL ...] [--escalation NAME] [--wait] [--json]\n"
		"       tocsin [-c FILE] status JOB [--json]\n"
		"       tocsin [-c FILE] report JOB [--json] [--unreached | --unconfirmed]\n"
		"       tocsin [-c FILE] preview --template T --group G [--channel C ...]\n"
		"                     [--var k=v ...] [--job FILE] [--member NAME] [--json]\n"
		"       tocsin [-c FILE] cancel JOB [--json]\n"
		"       tocsin [-c FILE] dead list|show ID|retry ID|purge  (see dead --help)\n"
		"       tocsin check-config FILE\n"
		"\n"
		"-c defaults to $TOCSIN_CONFIG, then ./tocsin.yaml. Each command has --help.\n"
		"Exit codes: 0 success, 1 the operation failed, 2 usage, 3 Redis unreachable.\n");
}

/* Loads the configuration for a command that talks to Redis: only the
 * redis settings must resolve (secrets are the daemon's business). */
static int load_cfg(const char *path, struct tc_cfg **cfg)
{
	struct tc_diags *ds = calloc(1, sizeof(*ds));
	int r;

	if (!ds)
		return TC_EXIT_FAILED;
	r = tc_cfg_load(path, TC_CFG_CLIENT, cfg, ds);
	if (r < 0)
		tc_diags_print(ds, stderr);
	free(ds);
	return r < 0 ? TC_EXIT_FAILED : TC_EXIT_OK;
}

/* Why the last tc_cli_connect failed, for tc_cli_no_redis. */
static char no_redis_why[600];

redisContext *tc_cli_connect(const struct tc_cfg *cfg)
{
	return tc_redis_connect(cfg->redis_url, cfg->redis_username, cfg->redis_password,
				5, no_redis_why, sizeof(no_redis_why));
}

int tc_cli_no_redis(void)
{
	fprintf(stderr, "tocsin: %s\n", no_redis_why);
	return TC_EXIT_REDIS;
}

static int cmd_check_config(int argc, char **argv)
{
	struct tc_diags *ds;
	struct tc_cfg *cfg = NULL;
	int r;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: tocsin check-config FILE\n"
		       "Validates FILE completely (environment references, rosters, and\n"
		       "every template compiled) and prints every error as\n"
		       "file:line: key.path: what is wrong. Exit 0 if valid, 1 if not.\n");
		return TC_EXIT_OK;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: tocsin check-config FILE\n");
		return TC_EXIT_USAGE;
	}
	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return TC_EXIT_FAILED;
	r = tc_cfg_load(argv[1], TC_CFG_DAEMON, &cfg, ds);
	if (r == 0) {
		/* The templates are part of what tocsind loads and checks. */
		struct tc_tpl_store *store = NULL;

		r = tc_tpl_store_load(cfg->templates, &store, ds);
		tc_tpl_store_free(store);
		if (r == 0)
			r = tc_chan_cfg_check(cfg, ds);
	}
	if (r < 0) {
		tc_diags_print(ds, stderr);
		fprintf(stderr, "%s: %zu error%s\n", argv[1], ds->n + ds->dropped,
			ds->n + ds->dropped == 1 ? "" : "s");
	} else {
		printf("%s: ok (%zu group%s)\n", argv[1], cfg->n_groups,
		       cfg->n_groups == 1 ? "" : "s");
	}
	free(ds);
	tc_cfg_free(cfg);
	return r < 0 ? TC_EXIT_FAILED : TC_EXIT_OK;
}

int tc_cli_one_arg(int argc, char **argv, int from, const char **arg, bool *json)
{
	int i;

	*arg = NULL;
	*json = false;
	for (i = from; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			*json = true;
		else if (argv[i][0] != '-' && !*arg)
			*arg = argv[i];
		else
			return -1;
	}
	return *arg ? 0 : -1;
}

int tc_cli_add_var(json_t *vars, const char *cmd, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[256];

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
		fprintf(stderr, "tocsin %s: --var '%s': expected name=value\n", cmd, kv);
		return -1;
	}
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	if (json_object_set_new(vars, key, json_string(eq + 1)) < 0) {
		fprintf(stderr, "tocsin %s: --var '%s': not valid UTF-8\n", cmd, kv);
		return -1;
	}
	return 0;
}

/* preview never touches Redis: it needs the configuration only. */
static int cmd_preview(const char *path, int argc, char **argv)
{
	struct tc_cfg *cfg = NULL;
	int i, r;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0)
			return tc_cli_preview(NULL, argc, argv);
	if (load_cfg(path, &cfg) != TC_EXIT_OK)
		return TC_EXIT_FAILED;
	r = tc_cli_preview(cfg, argc, argv);
	tc_cfg_free(cfg);
	return r;
}

int main(int argc, char **argv)
{
	const char *path = getenv("TOCSIN_CONFIG");
	const char *cmd;
	struct tc_cfg *cfg = NULL;
	redisContext *c;
	int i = 1, r;

	/* A peer that went away must be an error return, not a signal:
	 * hiredis writes with write(2). */
	signal(SIGPIPE, SIG_IGN);
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return TC_EXIT_OK;
		} else {
			usage(stderr);
			return TC_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return TC_EXIT_USAGE;
	}
	cmd = argv[i];
	argc -= i;
	argv += i;
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check_config(argc, argv);
	if (!path || !path[0])
		path = "tocsin.yaml";
	if (strcmp(cmd, "preview") == 0)
		return cmd_preview(path, argc, argv);
	if (strcmp(cmd, "send") != 0 && strcmp(cmd, "status") != 0 &&
	    strcmp(cmd, "report") != 0 && strcmp(cmd, "cancel") != 0 &&
	    strcmp(cmd, "dead") != 0) {
		fprintf(stderr, "tocsin: unknown command '%s'\n", cmd);
		usage(stderr);
		return TC_EXIT_USAGE;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			if (strcmp(cmd, "send") == 0)
				return tc_cli_send(NULL, NULL, argc, argv);
			if (strcmp(cmd, "cancel") == 0)
				return tc_cli_cancel(NULL, NULL, argc, argv);
			if (strcmp(cmd, "dead") == 0)
				return tc_cli_dead(NULL, NULL, argc, argv);
			return tc_cli_status(NULL, NULL, cmd, argc, argv);
		}
	}
	if (load_cfg(path, &cfg) != TC_EXIT_OK)
		return TC_EXIT_FAILED;
	/* Without Redis (c NULL), a command still reads its arguments and
	 * checks what it can first: a usage error exits 2 and an invalid job
	 * 1 whether Redis is there or not; each returns TC_EXIT_REDIS where it
	 * would first need Redis. */
	c = tc_cli_connect(cfg);
	if (strcmp(cmd, "send") == 0)
		r = tc_cli_send(cfg, c, argc, argv);
	else if (strcmp(cmd, "cancel") == 0)
		r = tc_cli_cancel(cfg, c, argc, argv);
	else if (strcmp(cmd, "dead") == 0)
		r = tc_cli_dead(cfg, c, argc, argv);
	else
		r = tc_cli_status(cfg, c, cmd, argc, argv);
	if (c)
		redisFree(c);
	tc_cfg_free(cfg);
	return r;
}
