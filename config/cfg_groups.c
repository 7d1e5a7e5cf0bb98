/*
 * cfg_groups: the rules of groups: names, channels, inline members and
 * CSV rosters (every row read and checked through tc_roster), and whether
 * each member can be reached on a channel that is configured.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"

#define READ_CHUNK     (64u << 10) /* roster bytes read at a time */

/* A list of channel names into *mask, and in the order written into
 * order[*n_order] unless order is NULL. */
int tc_cfg_read_channels(struct tc_load *ld, struct fy_node *v, unsigned line,
			 const char *path, unsigned *mask, enum tc_channel *order,
			 size_t *n_order)
{
	char ipath[TC_PATH], q[TC_SHOW_BYTES];
	struct fy_node *item;
	void *it = NULL;
	size_t i = 0;
	unsigned iline;
	int r = TC_V_OK;

	if (!tc_yaml_is_kind(ld, v, FYNT_SEQUENCE, line, path, "a list"))
		return TC_V_BAD;
	if (fy_node_sequence_item_count(v) == 0) {
		tc_yaml_report(ld, tc_yaml_line(v, line), path, "empty list: name "
			       "at least one channel (email, sms or webhook)");
		return TC_V_BAD;
	}
	*mask = 0;
	while ((item = fy_node_sequence_iterate(v, &it))) {
		char *s = NULL;
		int c, sr;

		tc_yaml_path_index(ipath, sizeof(ipath), path, i++);
		iline = tc_yaml_line(item, line);
		sr = tc_yaml_scalar(ld, item, iline, ipath, 0, "a channel name", &s);
		if (sr == TC_V_UNSET)
			continue;
		if (sr != TC_V_OK) {
			r = TC_V_BAD;
			continue;
		}
		c = tc_channel_parse(s);
		if (c < 0) {
			tc_yaml_report(ld, iline, ipath, "unknown channel '%s': "
				       "expected email, sms or webhook",
				       tc_yaml_shows(q, sizeof(q), s));
			r = TC_V_BAD;
		} else if (*mask & TC_CH_BIT(c)) {
			tc_yaml_report(ld, iline, ipath, "channel '%s' listed twice", s);
			r = TC_V_BAD;
		} else {
			*mask |= TC_CH_BIT(c);
			if (order)
				order[(*n_order)++] = (enum tc_channel)c;
		}
		free(s);
	}
	return r;
}

/* Reports each channel of mask that the configuration does not have. */
void tc_cfg_check_enabled(struct tc_load *ld, const char *src, unsigned line,
			  const char *path, unsigned mask)
{
	int c;

	for (c = 0; c < TC_CH_COUNT; c++)
		if ((mask & TC_CH_BIT(c)) && !(ld->enabled & TC_CH_BIT(c)))
			tc_yaml_report_at(ld, src, line, path, "channel '%s' is not "
					  "configured (no channels.%s)", tc_channel_name(c),
					  tc_channel_name(c));
}

/* Whether a member that passed tc_member_check can be reached: its own
 * channels must be configured; without its own, it needs an address for
 * one of the group's channels that is configured. */
static void check_reach(struct tc_load *ld, const struct tc_member *m,
			unsigned group_channels, const char *src, unsigned line,
			unsigned chan_line, const char *path)
{
	char cpath[TC_PATH], list[64] = "";
	unsigned eff = group_channels & ld->enabled;
	int c;

	if (m->channels) {
		tc_yaml_path_key(cpath, sizeof(cpath), path, "channels");
		tc_cfg_check_enabled(ld, src, chan_line, cpath, m->channels);
		return;
	}
	if (!eff)
		return; /* the group's own channels were reported */
	for (c = 0; c < TC_CH_COUNT; c++) {
		if (!(eff & TC_CH_BIT(c)))
			continue;
		if (tc_member_address(m, c))
			return;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 list[0] ? " or " : "", tc_channel_name(c));
	}
	tc_yaml_report_at(ld, src, line, path, "unreachable: no address for %s", list);
}

/* ---- groups ------------------------------------------------------------------- */

static const char *const group_keys[] = { "members", "roster", "channels", NULL };
static const char *const member_keys[] = {
	"name", "role", "email", "phone", "webhook", "channels", NULL
};

/* Moves what tc_member_check said from ld->local into ld->ds, each on the
 * line of the field it names when there is one. partial: some values were
 * unset (TC_CFG_CLIENT), so what may come from their absence (no address,
 * a channel without its address) is dropped. */
static void take_member_diags(struct tc_load *ld, struct tc_ymap *m, bool partial)
{
	size_t i, k, plen = strlen(m->path);

	for (i = 0; i < ld->local->n; i++) {
		struct tc_diag *d = &ld->local->item[i];
		const char *field = strncmp(d->path, m->path, plen) == 0 &&
				    d->path[plen] == '.' ? d->path + plen + 1 : NULL;
		unsigned line = d->line;

		if (partial && (!field || strcmp(field, "channels") == 0))
			continue;
		for (k = 0; field && k < m->n; k++)
			if (m->f[k].present && strcmp(field, m->f[k].name) == 0)
				line = tc_yaml_val_line(&m->f[k]);
		tc_yaml_report_at(ld, d->source, line, d->path, "%s", d->msg);
	}
	ld->local->n = 0;
	ld->local->dropped = 0;
}

static void load_member(struct tc_load *ld, struct fy_node *v, unsigned line,
			const char *path, struct tc_group *g, struct tc_member *mb)
{
	static const char *const text[] = { "name", "role", "email", "phone", "webhook" };
	char **slot[5] = { &mb->name, &mb->role, &mb->email, &mb->phone, &mb->webhook };
	bool bad = false, unset = false;
	struct tc_yfield *cf;
	struct tc_ymap m;
	int i, r;

	if (!tc_yaml_map_read(ld, v, path, line, member_keys, &m))
		return;
	for (i = 0; i < 5; i++) {
		r = tc_yaml_get_str(ld, &m, text[i], 0, slot[i]);
		bad |= r == TC_V_BAD;
		unset |= r == TC_V_UNSET;
	}
	cf = tc_yaml_field(&m, "channels");
	if (cf->present) {
		char cpath[TC_PATH];

		tc_yaml_path_key(cpath, sizeof(cpath), path, "channels");
		if (tc_cfg_read_channels(ld, cf->val, cf->line, cpath,
					 &mb->channels, NULL, NULL) != TC_V_OK)
			bad = true;
	}
	/* A value already reported would only make tc_member_check say
	 * something less precise about it. */
	if (bad)
		return;
	if (tc_member_check(mb, ld->cfg->sms.default_region, NULL, ld->src, m.line, path, ld->local) < 0 || unset)
		take_member_diags(ld, &m, unset);
	else
		check_reach(ld, mb, g->channels, ld->src, m.line,
			    cf->present ? tc_yaml_val_line(cf) : m.line, path);
}

static void load_members(struct tc_load *ld, struct tc_ymap *gm, struct tc_group *g)
{
	struct tc_yfield *f = tc_yaml_field(gm, "members");
	char path[TC_PATH], ipath[TC_PATH];
	struct fy_node *item;
	void *it = NULL;
	size_t i;
	int n;

	tc_yaml_path_key(path, sizeof(path), gm->path, "members");
	if (!tc_yaml_is_kind(ld, f->val, FYNT_SEQUENCE, f->line, path, "a list"))
		return;
	n = fy_node_sequence_item_count(f->val);
	if (n > TC_LIMIT_INLINE_MEMBERS) {
		tc_yaml_report(ld, f->line, path, "more than %d members "
			       "(TC_LIMIT_INLINE_MEMBERS); use a roster",
			       TC_LIMIT_INLINE_MEMBERS);
		return;
	}
	g->members = calloc(n > 0 ? (size_t)n : 1, sizeof(*g->members));
	if (!g->members) {
		ld->oom = true;
		return;
	}
	for (i = 0; (item = fy_node_sequence_iterate(f->val, &it)); i++) {
		tc_yaml_path_index(ipath, sizeof(ipath), path, i);
		load_member(ld, item, tc_yaml_line(item, f->line), ipath, g,
			    &g->members[i]);
		g->n_members++;
	}
}

/* ---- rosters ------------------------------------------------------------------ */

struct roster_ctx {
	struct tc_load *ld;
	const struct tc_group *g;
	const char *shown; /* the roster's name in diagnostics */
};

static int roster_row(void *data, const struct tc_member *m, unsigned line,
		      const struct tc_diag *d)
{
	struct roster_ctx *rc = data;

	if (!m) {
		tc_yaml_report_at(rc->ld, d->source, d->line, d->path, "%s", d->msg);
		return 0;
	}
	check_reach(rc->ld, m, rc->g->channels, rc->shown, line, line, "");
	return 0;
}

/* Reads every row of the roster at abs through tc_roster. */
static void read_roster(struct tc_load *ld, const struct tc_group *g, const char *abs,
			const char *shown)
{
	struct roster_ctx rc = { ld, g, shown };
	struct tc_roster *r;
	struct tc_diag d;
	char eb[128], *buf;
	ssize_t n;
	int fd, rr = 0;

	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tc_yaml_report_at(ld, shown, 0, NULL, "cannot open: %s",
				  tc_yaml_errtext(errno, eb, sizeof(eb)));
		return;
	}
	buf = malloc(READ_CHUNK);
	r = tc_roster_new(shown, ld->cfg->sms.default_region, NULL, roster_row, &rc);
	if (!buf || !r) {
		ld->oom = true;
		goto out;
	}
	for (;;) {
		n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tc_yaml_report_at(ld, shown, 0, NULL, "cannot read: %s",
					  tc_yaml_errtext(errno, eb, sizeof(eb)));
			goto out;
		}
		if (n == 0)
			break;
		rr = tc_roster_feed(r, buf, (size_t)n, &d);
		if (rr != 0)
			break;
	}
	if (rr == 0)
		rr = tc_roster_finish(r, &d);
	if (rr == -ENOMEM)
		ld->oom = true;
	else if (rr != 0)
		tc_yaml_report_at(ld, d.source, d.line, d.path, "%s", d.msg);
out:
	tc_roster_free(r);
	free(buf);
	close(fd);
}

static void load_roster(struct tc_load *ld, struct tc_ymap *gm, struct tc_group *g)
{
	char *rel = NULL, *shown;

	if (tc_yaml_get_str(ld, gm, "roster", 0, &rel) != TC_V_OK)
		return;
	g->roster = tc_val_existing_path(ld, gm, "roster", rel, false);
	/* The CLI needs the group to exist, not its rows: tocsind and
	 * check-config read every row; a send to a big roster stays quick. */
	if (g->roster && ld->mode == TC_CFG_DAEMON) {
		shown = tc_val_shown_path(ld, rel);
		if (shown)
			read_roster(ld, g, g->roster, shown);
		free(shown);
	}
	free(rel);
}

static void load_group(struct tc_load *ld, struct fy_node *v, unsigned line,
		       const char *path, struct tc_group *g)
{
	struct tc_yfield *cf, *mf;
	struct tc_ymap m;

	g->channels = TC_CH_ALL;
	if (!tc_yaml_map_read(ld, v, path, line, group_keys, &m))
		return;
	cf = tc_yaml_field(&m, "channels");
	if (cf->present) {
		char cpath[TC_PATH];

		tc_yaml_path_key(cpath, sizeof(cpath), path, "channels");
		if (tc_cfg_read_channels(ld, cf->val, cf->line, cpath,
					 &g->channels, NULL, NULL) == TC_V_OK)
			tc_cfg_check_enabled(ld, ld->src, tc_yaml_val_line(cf), cpath,
					     g->channels);
		else
			g->channels = 0; /* reported; members are not judged by it */
	}
	mf = tc_yaml_field(&m, "members");
	if (mf->present)
		load_members(ld, &m, g);
	if (tc_yaml_field(&m, "roster")->present)
		load_roster(ld, &m, g);
	else if (!mf->present || (mf->val && fy_node_get_type(mf->val) == FYNT_SEQUENCE &&
				  fy_node_sequence_item_count(mf->val) == 0))
		tc_yaml_report(ld, line, path, "no members and no roster");
}

static void read_group(struct tc_load *ld, void *item, char *name,
		       struct fy_node *v, unsigned line, const char *path)
{
	struct tc_group *g = item;

	g->name = name;
	ld->cfg->n_groups++;
	load_group(ld, v, line, path, g);
}

void tc_cfg_read_groups(struct tc_load *ld, struct tc_ymap *top)
{
	void *groups = NULL;

	tc_val_named_map(ld, top, "groups", "group", "groups", TC_LIMIT_GROUPS,
			 "TC_LIMIT_GROUPS", sizeof(struct tc_group), &groups, read_group);
	ld->cfg->groups = groups;
}

