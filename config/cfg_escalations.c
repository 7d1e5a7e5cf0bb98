/*
 * cfg_escalations: the rules of escalations (named policies: after,
 * rounds, channels, groups, stop_at) and of dispatcher.escalation, which
 * picks a policy per severity.
 *
 * Read after channels and groups, so a policy can only name channels that
 * are configured and groups that exist, and after the policies, so
 * dispatcher.escalation can only name one that exists.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

static const char *const policy_keys[] = {
	"after", "rounds", "channels", "groups", "stop_at", NULL
};
static const char *const severity_keys[] = {
	"critical", "high", "normal", "low", NULL
};

/* stop_at: a percentage "1%".."100%". */
static void load_stop_at(struct tc_load *ld, struct tc_ymap *m,
			 struct tc_escalation *e)
{
	char q[TC_SHOW_BYTES], *s = NULL;
	size_t len;
	uint64_t v = 0;

	if (tc_yaml_get_value(ld, m, "stop_at", 0, "a percentage", &s) != TC_V_OK)
		return;
	len = strlen(s);
	if (len >= 2 && s[len - 1] == '%') {
		s[len - 1] = '\0';
		if (!tc_yaml_parse_u64(s, &v))
			v = 0;
		s[len - 1] = '%';
	}
	if (v >= 1 && v <= 100)
		e->stop_at = (unsigned)v;
	else
		tc_yaml_bad_value(ld, m, "stop_at", "not a percentage in 1%%..100%% "
				  "'%s'", tc_yaml_shows(q, sizeof(q), s));
	free(s);
}

/* channels: configured channels, in the order to try them. */
static void load_channels(struct tc_load *ld, struct tc_ymap *m,
			  struct tc_escalation *e)
{
	struct tc_yfield *f = tc_yaml_field(m, "channels");
	char path[TC_PATH];
	unsigned mask = 0;

	if (!f->present)
		return;
	tc_yaml_path_key(path, sizeof(path), m->path, "channels");
	if (tc_cfg_read_channels(ld, f->val, f->line, path, &mask, e->channels,
				 &e->n_channels) == TC_V_OK)
		tc_cfg_check_enabled(ld, ld->src, tc_yaml_val_line(f), path, mask);
}

/* groups: names of configured groups, each once. */
static void load_groups(struct tc_load *ld, struct tc_ymap *m,
			struct tc_escalation *e)
{
	struct tc_yfield *f = tc_yaml_field(m, "groups");
	char path[TC_PATH], ipath[TC_PATH], q[TC_SHOW_BYTES];
	struct fy_node *item;
	void *it = NULL;
	size_t i = 0, k;
	int n;

	if (!f->present)
		return;
	tc_yaml_path_key(path, sizeof(path), m->path, "groups");
	if (!tc_yaml_is_kind(ld, f->val, FYNT_SEQUENCE, f->line, path, "a list"))
		return;
	n = fy_node_sequence_item_count(f->val);
	if (n == 0) {
		tc_yaml_report(ld, f->line, path, "empty list: name at least one "
			       "group");
		return;
	}
	if (n > TC_LIMIT_GROUPS) {
		tc_yaml_report(ld, f->line, path, "more than %d groups "
			       "(TC_LIMIT_GROUPS)", TC_LIMIT_GROUPS);
		return;
	}
	e->groups = calloc((size_t)n, sizeof(*e->groups));
	if (!e->groups) {
		ld->oom = true;
		return;
	}
	while ((item = fy_node_sequence_iterate(f->val, &it))) {
		unsigned line = tc_yaml_line(item, f->line);
		char *s = NULL;

		tc_yaml_path_index(ipath, sizeof(ipath), path, i++);
		if (tc_yaml_scalar(ld, item, line, ipath, 0, "a group name",
				   &s) != TC_V_OK)
			continue;
		for (k = 0; k < e->n_groups; k++)
			if (strcmp(e->groups[k], s) == 0)
				break;
		if (!tc_cfg_group(ld->cfg, s)) {
			tc_yaml_report(ld, line, ipath, "unknown group '%s': not "
				       "under groups", tc_yaml_shows(q, sizeof(q), s));
			free(s);
		} else if (k < e->n_groups) {
			tc_yaml_report(ld, line, ipath, "group '%s' listed twice", s);
			free(s);
		} else {
			e->groups[e->n_groups++] = s;
		}
	}
}

static void load_policy(struct tc_load *ld, struct fy_node *v, unsigned line,
			const char *path, struct tc_escalation *e)
{
	struct tc_ymap m;

	e->rounds = 1;
	e->stop_at = 100;
	if (!tc_yaml_map_read(ld, v, path, line, policy_keys, &m))
		return;
	if (!tc_yaml_field(&m, "after")->present)
		tc_yaml_report(ld, m.line, m.path, "missing required key 'after'");
	(void)tc_yaml_get_duration(ld, &m, "after", 1000, TC_DURATION_MAX,
				   &e->after_ms);
	(void)tc_yaml_get_uint(ld, &m, "rounds", 1, TC_ESC_ROUNDS_MAX, &e->rounds);
	load_channels(ld, &m, e);
	load_groups(ld, &m, e);
	load_stop_at(ld, &m, e);
	if (!tc_yaml_field(&m, "channels")->present &&
	    !tc_yaml_field(&m, "groups")->present)
		tc_yaml_report(ld, m.line, m.path, "nothing to escalate to: give "
			       "channels, groups or both");
}

static void read_policy(struct tc_load *ld, void *item, char *name,
			struct fy_node *v, unsigned line, const char *path)
{
	struct tc_escalation *e = item;

	e->name = name;
	ld->cfg->n_escalations++;
	load_policy(ld, v, line, path, e);
}

/* escalations: {NAME: policy, ...}. */
static void load_policies(struct tc_load *ld, struct tc_ymap *top)
{
	void *policies = NULL;

	tc_val_named_map(ld, top, "escalations", "policy", "policies",
			 TC_LIMIT_ESCALATIONS, "TC_LIMIT_ESCALATIONS",
			 sizeof(struct tc_escalation), &policies, read_policy);
	ld->cfg->escalations = policies;
}

/* dispatcher.escalation: {critical: NAME, ...}, each NAME a policy. */
static void load_by_severity(struct tc_load *ld)
{
	struct tc_cfg *cfg = ld->cfg;
	char q[TC_SHOW_BYTES], *s;
	struct tc_ymap m;
	int i;

	if (!ld->by_severity.present ||
	    !tc_yaml_map_read(ld, ld->by_severity.val, "dispatcher.escalation",
			      ld->by_severity.line, severity_keys, &m))
		return;
	for (i = 0; i < TC_SEV_COUNT; i++) {
		s = NULL;
		if (tc_yaml_get_str(ld, &m, severity_keys[i], 0, &s) != TC_V_OK)
			continue;
		if (tc_cfg_escalation(cfg, s)) {
			cfg->escalation[i] = s;
			continue;
		}
		tc_yaml_bad_value(ld, &m, severity_keys[i], "unknown escalation "
				  "policy '%s': not under escalations",
				  tc_yaml_shows(q, sizeof(q), s));
		free(s);
	}
}

void tc_cfg_read_escalations(struct tc_load *ld, struct tc_ymap *top)
{
	load_policies(ld, top);
	load_by_severity(ld);
}
