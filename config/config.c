/*
 * config: reads the YAML configuration of DESIGN.md with libfyaml and checks
 * every part of it before anything runs: types, ranges, durations, enums,
 * addresses, unknown and missing keys, ${NAME} references, the webhook
 * secret, the allow list, each group's members and every row of every
 * roster.
 *
 * What it keeps true:
 * - a struct tc_cfg it hands out is complete and valid, defaults filled in;
 * - every error found is reported, not just the first, each as
 *   "file:line: key.path: what is wrong" with the file named as the caller
 *   gave it, and the line the one the offending key or value is on;
 * - the value of a secret (ack_secret, webhook secret, passwords, tokens)
 *   never reaches a diagnostic, and must come from the environment;
 * - input is bounded: the file by TC_LIMIT_CONFIG_BYTES, nesting by
 *   TC_LIMIT_CONFIG_DEPTH, each value by TC_LIMIT_ADDRESS, lists by their
 *   named limits, checked before anything is allocated for them.
 *
 * This file holds the top level: reading the file, walking its sections in
 * a fixed order (channels before groups, so a member can be checked against
 * the channels that exist), whatever the order of the keys in the file,
 * and freeing. yaml.c and values.c are the generic reader; each cfg_*.c
 * file holds one section's rules.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* ---- channels ---------------------------------------------------------------- */

static const char *const channels_keys[] = { "webhook", "email", "sms", NULL };

static void load_channels(struct tc_load *ld, struct tc_ymap *top)
{
	struct tc_ymap ch;

	if (tc_yaml_sub_map(ld, top, "channels", TC_F_REQUIRED, channels_keys,
			    &ch) != TC_V_OK)
		return;
	tc_cfg_read_webhook(ld, &ch);
	tc_cfg_read_email(ld, &ch);
	tc_cfg_read_sms(ld, &ch);
	if (!ld->enabled)
		tc_yaml_report(ld, ch.line, "channels", "no channel configured: "
			       "expected webhook, email or sms");
}

/* ---- the whole file --------------------------------------------------------- */

static const char *const top_keys[] = {
	"redis", "dispatcher", "listen", "public_url", "ack_secret", "templates",
	"channels", "groups", "escalations", NULL
};

static void set_defaults(struct tc_cfg *cfg)
{
	cfg->in_flight = 1000;
	cfg->claim_idle_ms = 60000;
	cfg->shutdown_grace_ms = 10000;
	cfg->retention_ms = 30 * TC_DAY_MS;
	cfg->webhook.concurrency = 256;
	cfg->webhook.per_host = 16;
	cfg->webhook.connect_timeout_ms = 3000;
	cfg->webhook.timeout_ms = 10000;
	cfg->webhook.retry = (struct tc_retry_cfg){ 8, 1000, 300000 };
	cfg->email.port = 587;
	cfg->email.starttls = TC_STARTTLS_REQUIRED;
	cfg->email.sessions = 4;
	cfg->email.timeout_ms = 60000;
	cfg->email.retry = (struct tc_retry_cfg){ 6, 30000, 1800000 };
	cfg->sms.max_segments = 3;
	cfg->sms.overflow = TC_OVERFLOW_TRUNCATE;
	cfg->sms.max_per_job = 100000;
	cfg->sms.connect_timeout_ms = 3000;
	cfg->sms.timeout_ms = 10000;
	cfg->sms.breaker = (struct tc_breaker_cfg){ 5, 30000 };
	cfg->sms.retry = (struct tc_retry_cfg){ 5, 5000, 600000 };
}

/* path, its folder as given ("" or ending in '/') and that folder's
 * absolute form. */
static int set_paths(struct tc_load *ld, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
	char *dir;

	ld->shown_dir = strndup(path, dlen);
	dir = slash ? strndup(path, dlen == 1 ? 1 : dlen - 1) : strdup(".");
	if (!ld->shown_dir || !dir) {
		free(dir);
		return -ENOMEM;
	}
	ld->cfg->dir = realpath(dir, NULL);
	ld->cfg->path = realpath(path, NULL);
	free(dir);
	if (!ld->cfg->dir || !ld->cfg->path)
		return -errno;
	return 0;
}

static void load_root(struct tc_load *ld, struct fy_node *root)
{
	struct tc_ymap top;

	if (!tc_yaml_depth_ok(ld, root, 1))
		return;
	if (!tc_yaml_map_read(ld, root, "", 1, top_keys, &top))
		return;
	tc_cfg_read_redis(ld, &top);
	tc_cfg_read_dispatcher(ld, &top);
	tc_cfg_read_service(ld, &top);
	load_channels(ld, &top);
	tc_cfg_read_groups(ld, &top);
	tc_cfg_read_escalations(ld, &top);
}

/*
 * Loads and checks the whole file; see config.h. Rosters are read row by
 * row here, so a load may take a while for big ones: never on the loop
 * thread.
 */
int tc_cfg_load(const char *path, enum tc_cfg_mode mode, struct tc_cfg **out,
		struct tc_diags *ds)
{
	struct tc_load ld = { .ds = ds, .src = path, .mode = mode };
	struct fy_document *doc = NULL;
	struct fy_parser *fyp = NULL;
	struct fy_diag *diag = NULL;
	size_t before = ds->n + ds->dropped, len = 0;
	char *buf = NULL, eb[128];
	int r;

	ld.cfg = calloc(1, sizeof(*ld.cfg));
	ld.local = calloc(1, sizeof(*ld.local));
	if (!ld.cfg || !ld.local) {
		r = -ENOMEM;
		goto out;
	}
	set_defaults(ld.cfg);
	if (tc_yaml_read_file(&ld, path, &buf, &len) < 0)
		goto done;
	r = set_paths(&ld, path);
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		tc_yaml_report(&ld, 0, NULL, "cannot resolve its folder: %s",
			       tc_yaml_errtext(-r, eb, sizeof(eb)));
		goto done;
	}
	doc = tc_yaml_parse(&ld, buf, len, &fyp, &diag);
	if (doc)
		load_root(&ld, fy_document_root(doc));
done:
	r = ld.oom ? -ENOMEM : ds->n + ds->dropped > before ? TC_EINVAL : 0;
out:
	if (doc)
		fy_parse_document_destroy(fyp, doc);
	if (fyp)
		fy_parser_destroy(fyp);
	if (diag)
		fy_diag_destroy(diag);
	free(buf);
	free(ld.local);
	free(ld.shown_dir);
	if (r < 0) {
		tc_cfg_free(ld.cfg);
		return r;
	}
	*out = ld.cfg;
	return 0;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void tc_cfg_free(struct tc_cfg *cfg)
{
	size_t i, k;

	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->redis_url);
	free(cfg->redis_username);
	free(cfg->redis_password);
	free(cfg->prefix);
	free(cfg->consumer);
	free(cfg->listen);
	free(cfg->public_url);
	free_secret(cfg->ack_secret);
	free(cfg->templates);
	explicit_bzero(cfg->webhook.key, sizeof(cfg->webhook.key));
	for (i = 0; i < cfg->webhook.n_allow; i++)
		free(cfg->webhook.allow[i].host);
	free(cfg->webhook.allow);
	free(cfg->webhook.proxy);
	free(cfg->webhook.ca_file);
	free(cfg->email.host);
	free(cfg->email.ca_file);
	free(cfg->sms.ca_file);
	free(cfg->email.username);
	free_secret(cfg->email.password);
	free(cfg->email.from);
	free(cfg->email.from_name);
	free(cfg->email.from_addr);
	free(cfg->email.bounce_address);
	free(cfg->email.reply_to);
	for (i = 0; i < cfg->sms.n_providers; i++) {
		struct tc_sms_provider *p = &cfg->sms.providers[i];

		free(p->name);
		free(p->base_url);
		free(p->account_sid);
		free_secret(p->auth_token);
		free(p->messaging_service_sid);
		free(p->api_key);
		free_secret(p->api_secret);
		free_secret(p->signature_secret);
		free(p->from);
		free(p->url);
		for (k = 0; k < p->n_headers; k++) {
			free(p->headers[k].name);
			if (p->headers[k].secret)
				free_secret(p->headers[k].value);
			else
				free(p->headers[k].value);
		}
		free(p->headers);
		free(p->body);
		free(p->success.pointer);
		json_decref(p->success.equals);
		free(p->message_id);
	}
	free(cfg->sms.providers);
	for (i = 0; i < cfg->sms.n_allow; i++)
		free(cfg->sms.allow[i].host);
	free(cfg->sms.allow);
	for (i = 0; i < cfg->n_groups; i++) {
		struct tc_group *g = &cfg->groups[i];

		free(g->name);
		for (k = 0; k < g->n_members; k++)
			tc_member_release(&g->members[k]);
		free(g->members);
		free(g->roster);
	}
	free(cfg->groups);
	for (i = 0; i < cfg->n_escalations; i++) {
		struct tc_escalation *e = &cfg->escalations[i];

		free(e->name);
		for (k = 0; k < e->n_groups; k++)
			free(e->groups[k]);
		free(e->groups);
	}
	free(cfg->escalations);
	for (i = 0; i < TC_SEV_COUNT; i++)
		free(cfg->escalation[i]);
	free(cfg);
}

const struct tc_group *tc_cfg_group(const struct tc_cfg *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_groups; i++)
		if (strcmp(cfg->groups[i].name, name) == 0)
			return &cfg->groups[i];
	return NULL;
}

const char *tc_cfg_phone_region(const struct tc_cfg *cfg)
{
	return cfg->sms.default_region;
}

const struct tc_escalation *tc_cfg_escalation(const struct tc_cfg *cfg,
					      const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_escalations; i++)
		if (strcmp(cfg->escalations[i].name, name) == 0)
			return &cfg->escalations[i];
	return NULL;
}
