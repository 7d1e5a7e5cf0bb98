/*
 * cfg_service: the rules of the top-level keys that are not channels or
 * audiences: redis (where and how to log in), dispatcher (consumer name,
 * caps and timings), listen, public_url, ack_secret and templates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"

#define CONSUMER_CHARS 128         /* a consumer name */

/* ---- redis -------------------------------------------------------------------- */

static const char *const redis_keys[] = {
	"url", "prefix", "username", "password", NULL
};

/* Reports a redis.url that is not one tocsin reads. */
static void bad_redis_url(struct tc_load *ld, struct tc_ymap *m, const char *url)
{
	char q[TC_SHOW_BYTES];

	/* A URL with user:password@ may hold a secret: not shown. */
	if (strchr(url, '@'))
		tc_yaml_bad_value(ld, m, "url", "credentials in the URL are not "
				  "supported: expected redis://host[:port][/db] or "
				  "unix:///path");
	else
		tc_yaml_bad_value(ld, m, "url", "expected redis://host[:port][/db] "
				  "or unix:///path, got '%s'",
				  tc_yaml_shows(q, sizeof(q), url));
}

void tc_cfg_read_redis(struct tc_load *ld, struct tc_ymap *top)
{
	struct tc_cfg *cfg = ld->cfg;
	char q[TC_SHOW_BYTES];
	struct tc_ymap m;

	ld->in_redis = true;
	if (tc_yaml_sub_map(ld, top, "redis", TC_F_REQUIRED, redis_keys,
			    &m) != TC_V_OK)
		goto out;
	if (tc_yaml_get_str(ld, &m, "url", TC_F_REQUIRED,
			    &cfg->redis_url) == TC_V_OK &&
	    !tc_val_redis_url_ok(cfg->redis_url))
		bad_redis_url(ld, &m, cfg->redis_url);
	if (tc_yaml_get_str(ld, &m, "prefix", 0, &cfg->prefix) == TC_V_OK &&
	    !tc_val_token_ok(cfg->prefix, 64))
		tc_yaml_bad_value(ld, &m, "prefix", "not a key prefix '%s': 1 to 64 "
				  "of A-Z a-z 0-9 _ . : -",
				  tc_yaml_shows(q, sizeof(q), cfg->prefix));
	/* AUTH: a password alone logs in as Redis' default user. */
	(void)tc_yaml_get_str(ld, &m, "password", TC_F_SECRET,
			      &cfg->redis_password);
	if (tc_yaml_get_str(ld, &m, "username", 0,
			    &cfg->redis_username) == TC_V_OK &&
	    !tc_yaml_field(&m, "password")->present)
		tc_yaml_bad_value(ld, &m, "username", "a username needs "
				  "redis.password too");
out:
	ld->in_redis = false;
	if (!cfg->prefix)
		cfg->prefix = tc_yaml_strdup(ld, "tocsin");
}

/* ---- dispatcher --------------------------------------------------------------- */

static const char *const dispatcher_keys[] = {
	"consumer", "in_flight", "claim_idle", "shutdown_grace", "retention",
	"escalation", NULL
};

/* The default consumer name: $HOSTNAME, else gethostname(). */
static char *default_consumer(struct tc_load *ld)
{
	const char *h = getenv("HOSTNAME");
	char name[256];

	if (!h || !h[0]) {
		if (gethostname(name, sizeof(name)) < 0)
			name[0] = '\0';
		name[sizeof(name) - 1] = '\0';
		h = name[0] ? name : "tocsind";
	}
	return tc_yaml_strdup(ld, h);
}

void tc_cfg_read_dispatcher(struct tc_load *ld, struct tc_ymap *top)
{
	struct tc_cfg *cfg = ld->cfg;
	char q[TC_SHOW_BYTES];
	struct tc_ymap m;

	if (tc_yaml_sub_map(ld, top, "dispatcher", 0, dispatcher_keys,
			    &m) == TC_V_OK) {
		if (tc_yaml_get_str(ld, &m, "consumer", 0,
				    &cfg->consumer) == TC_V_OK &&
		    !tc_val_token_ok(cfg->consumer, CONSUMER_CHARS))
			tc_yaml_bad_value(ld, &m, "consumer", "not a consumer name "
					  "'%s': 1 to %d of A-Z a-z 0-9 _ . : -",
					  tc_yaml_shows(q, sizeof(q), cfg->consumer),
					  CONSUMER_CHARS);
		(void)tc_yaml_get_uint(ld, &m, "in_flight", 1, 1000000,
				       &cfg->in_flight);
		(void)tc_yaml_get_duration(ld, &m, "claim_idle", 1,
					   TC_DURATION_MAX, &cfg->claim_idle_ms);
		(void)tc_yaml_get_duration(ld, &m, "shutdown_grace", 0,
					   TC_DURATION_MAX, &cfg->shutdown_grace_ms);
		(void)tc_yaml_get_duration(ld, &m, "retention", 1000,
					   TC_RETENTION_MAX, &cfg->retention_ms);
		/* Policies per severity name escalations, read later. */
		ld->by_severity = *tc_yaml_field(&m, "escalation");
	}
	if (!cfg->consumer) {
		cfg->consumer = default_consumer(ld);
		if (cfg->consumer && !tc_val_token_ok(cfg->consumer, CONSUMER_CHARS))
			tc_yaml_report(ld, 0, "dispatcher.consumer", "the host name "
				       "'%s' is not a consumer name: set "
				       "dispatcher.consumer",
				       tc_yaml_shows(q, sizeof(q), cfg->consumer));
	}
}

/* ---- listen, public_url, ack_secret, templates ------------------------------- */

/* host:port for listen; port 0 asks for any free port, which tocsind
 * logs when it starts (tests start many daemons side by side). */
static bool listen_ok(const char *s)
{
	size_t n = strlen(s);
	const char *port;
	char one[300];

	if (tc_val_host_port_ok(s, false, &port))
		return true;
	if (n < 3 || n >= sizeof(one) || strcmp(s + n - 2, ":0") != 0)
		return false;
	memcpy(one, s, n + 1);
	one[n - 1] = '1';
	return tc_val_host_port_ok(one, false, &port);
}

/* The default templates folder: templates/ beside the file. */
static void default_templates(struct tc_load *ld, unsigned line)
{
	char *abs = tc_val_resolve(ld, "templates"), *shown;
	struct stat st;

	if (!abs)
		return;
	if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode)) {
		ld->cfg->templates = realpath(abs, NULL);
	} else {
		shown = tc_val_shown_path(ld, "templates/");
		tc_yaml_report(ld, line, "templates", "no folder '%s' (the "
			       "default); create it or set templates",
			       shown ? shown : "templates/");
		free(shown);
	}
	free(abs);
}

void tc_cfg_read_service(struct tc_load *ld, struct tc_ymap *top)
{
	struct tc_cfg *cfg = ld->cfg;
	char q[TC_SHOW_BYTES], why[600], *tpl = NULL;

	if (tc_yaml_get_str(ld, top, "listen", 0, &cfg->listen) == TC_V_OK &&
	    !listen_ok(cfg->listen))
		tc_yaml_bad_value(ld, top, "listen", "not host:port '%s'",
				  tc_yaml_shows(q, sizeof(q), cfg->listen));
	if (tc_yaml_get_str(ld, top, "public_url", 0, &cfg->public_url) == TC_V_OK &&
	    tc_addr_url_check(cfg->public_url, why, sizeof(why)) < 0)
		tc_yaml_bad_value(ld, top, "public_url", "%s", why);
	if (tc_yaml_get_str(ld, top, "ack_secret", TC_F_SECRET,
			    &cfg->ack_secret) == TC_V_OK &&
	    strlen(cfg->ack_secret) < 16)
		tc_yaml_bad_value(ld, top, "ack_secret", "shorter than 16 bytes");
	switch (tc_yaml_get_str(ld, top, "templates", 0, &tpl)) {
	case TC_V_OK:
		cfg->templates = tc_val_existing_path(ld, top, "templates", tpl, true);
		break;
	case TC_V_NONE:
		default_templates(ld, top->line);
		break;
	default:
		break;
	}
	free(tpl);
}

