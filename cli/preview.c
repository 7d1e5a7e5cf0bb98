/*
 * tocsin preview: shows what a group would receive from a template, part by
 * part, exactly as tocsind would send it, without sending anything and
 * without Redis: each channel's message is composed by the channel's own
 * compose code, the one tocsind calls (the part's escaping, a subject on
 * one line, a webhook body checked as JSON or the JSON envelope, SMS cut
 * or refused as channels.sms says).
 *
 * It builds the job the way `tocsin send` would (or reads one with --job)
 * and checks it with the same parser tocsind uses, so a var tocsind would
 * refuse is refused here too. Rosters are read with blocking I/O: this is
 * the command-line tool, not the loop.
 *
 * Member names and roles from rosters, and the rendered text itself (its
 * vars come from the job, that is from whoever wrote it), are printed
 * escaped (safe.c): the rendered text keeps its newlines and tabs, every
 * other control shows as \xNN or \uXXXX. --json keeps every string exact.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channels/channels.h"
#include "cli/cli.h"
#include "templates/templates.h"

#define ROSTER_CHUNK 16384 /* bytes read from a roster at a time */

static const char preview_help[] =
	"usage: tocsin [-c FILE] preview --template NAME --group GROUP [--channel C ...]\n"
	"                        [--var k=v ...] [--severity S] [--incident I]\n"
	"                        [--job FILE] [--member NAME] [--json]\n"
	"\n"
	"Renders every part GROUP would receive from template NAME, on each channel\n"
	"its members use, exactly as tocsind would send it, for the group's first\n"
	"member (or --member), and the whole email (headers and MIME body) as it\n"
	"is handed to the SMTP library. Sends nothing and needs no Redis.\n"
	"  --template NAME  the template (a folder under templates/); with --job,\n"
	"                   the job's own when not given\n"
	"  --group GROUP    a stakeholder group from the configuration\n"
	"  --channel C      email, sms or webhook: only these (repeatable)\n"
	"  --var k=v        a template variable (repeatable; over the job's)\n"
	"  --severity S     critical, high, normal (default) or low\n"
	"  --incident I     the incident this is about\n"
	"  --job FILE       take vars, incident, severity and id from a job's JSON\n"
	"  --member NAME    render for this member of the group (inline or roster)\n"
	"  --json           {\"template\",\"group\",\"member\",\"parts\":[{\"part\",\n"
	"                   \"channel\",\"file\",\"text\",\"encoding\",\"segments\"}],\n"
	"                   \"message\": the whole email as sent, or null}\n"
	"Exit codes: 0 rendered, 1 a render error or an unknown template, group or\n"
	"member, 2 usage.\n";

struct preview_opts {
	const char *tpl, *group, *member, *job_file, *severity, *incident;
	json_t *channels; /* names, as given */
	json_t *vars;     /* --var */
	bool json;
};

/* The member shown and the channels the group's members use. */
struct audience {
	const struct tc_cfg *cfg;
	const struct tc_group *g;
	const char *want;        /* --member, or NULL: the first */
	unsigned job_channels;
	unsigned used;           /* channels some member gets */
	struct tc_member *chosen; /* new, or NULL */
};

/* Channels the configuration has: preview shows them all, also those
 * this tocsind cannot send on yet. */
static unsigned configured(const struct tc_cfg *cfg)
{
	return tc_chan_configured(cfg);
}

/* ---- options and the job ------------------------------------------------- */

/* Reads the options into o. Returns 0, or an exit code. */
static int parse_opts(struct preview_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "template", required_argument, NULL, 't' },
		{ "group", required_argument, NULL, 'g' },
		{ "channel", required_argument, NULL, 'C' },
		{ "var", required_argument, NULL, 'v' },
		{ "severity", required_argument, NULL, 's' },
		{ "incident", required_argument, NULL, 'i' },
		{ "job", required_argument, NULL, 'J' },
		{ "member", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			o->tpl = optarg;
			break;
		case 'g':
			if (o->group) {
				fprintf(stderr, "tocsin preview: one --group at a time\n");
				return TC_EXIT_USAGE;
			}
			o->group = optarg;
			break;
		case 'C':
			if (tc_channel_parse(optarg) < 0) {
				fprintf(stderr, "tocsin preview: --channel '%s': expected "
					"email, sms or webhook\n", optarg);
				return TC_EXIT_USAGE;
			}
			json_array_append_new(o->channels, json_string(optarg));
			break;
		case 'v':
			if (tc_cli_add_var(o->vars, "preview", optarg) < 0)
				return TC_EXIT_USAGE;
			break;
		case 's':
			if (tc_severity_parse(optarg) < 0) {
				fprintf(stderr, "tocsin preview: --severity '%s': expected "
					"critical, high, normal or low\n", optarg);
				return TC_EXIT_USAGE;
			}
			o->severity = optarg;
			break;
		case 'i':
			o->incident = optarg;
			break;
		case 'J':
			o->job_file = optarg;
			break;
		case 'm':
			o->member = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		default:
			fputs(preview_help, stderr);
			return TC_EXIT_USAGE;
		}
	}
	if (optind != argc || !o->group || (!o->tpl && !o->job_file)) {
		fprintf(stderr, "tocsin preview: needs --template (or --job) and --group\n");
		return TC_EXIT_USAGE;
	}
	return 0;
}

/* Reads the job file (at most TC_LIMIT_JOB_BYTES). Returns a new object, or
 * NULL with the reason printed. */
static json_t *read_job_file(const char *path)
{
	json_error_t err;
	struct stat st;
	char *text, eb[128];
	json_t *job;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "tocsin preview: --job %s: cannot read it: %s\n", path,
			strerror_r(errno, eb, sizeof(eb)));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "tocsin preview: --job %s: not a regular file\n", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > (off_t)TC_LIMIT_JOB_BYTES) {
		fprintf(stderr, "tocsin preview: --job %s: %lld bytes, more than the limit "
			"of %u\n", path, (long long)st.st_size, TC_LIMIT_JOB_BYTES);
		close(fd);
		return NULL;
	}
	text = malloc((size_t)st.st_size + 1);
	n = text ? read(fd, text, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		fprintf(stderr, "tocsin preview: --job %s: cannot read it\n", path);
		free(text);
		return NULL;
	}
	job = json_loadb(text, (size_t)n, JSON_REJECT_DUPLICATES, &err);
	free(text);
	if (!json_is_object(job)) {
		fprintf(stderr, "tocsin preview: --job %s:%d: %s\n", path, err.line,
			job ? "not a JSON object" : err.text);
		json_decref(job);
		return NULL;
	}
	return job;
}

/* Builds the job tocsind would get and parses it as tocsind does. Returns
 * 0, or an exit code with the reason printed. */
static int make_job(struct preview_opts *o, const char *region, struct tc_job *job)
{
	json_t *j = o->job_file ? read_job_file(o->job_file) : json_object();
	json_t *vars, *sev;
	struct tc_diag d;
	char line[1200], *text;
	int stream = TC_SEV_NORMAL, r;

	if (!j)
		return TC_EXIT_FAILED;
	if (o->tpl)
		json_object_set_new(j, "template", json_string(o->tpl));
	if (o->severity)
		json_object_set_new(j, "severity", json_string(o->severity));
	if (o->incident)
		json_object_set_new(j, "incident", json_string(o->incident));
	/* the audience is the group previewed, whatever the job named */
	json_object_set_new(j, "groups", json_pack("[s]", o->group));
	json_object_del(j, "recipients");
	if (json_array_size(o->channels))
		json_object_set(j, "channels", o->channels);
	vars = json_object_get(j, "vars");
	if (json_object_size(o->vars)) {
		if (!vars) {
			vars = json_object();
			json_object_set_new(j, "vars", vars);
		}
		/* vars that are not an object: tc_job_parse says so */
		if (json_is_object(vars))
			json_object_update(vars, o->vars);
	}
	sev = json_object_get(j, "severity");
	if (json_is_string(sev) && tc_severity_parse(json_string_value(sev)) >= 0)
		stream = tc_severity_parse(json_string_value(sev));
	text = json_dumps(j, JSON_COMPACT);
	if (!text) {
		json_decref(j);
		return TC_EXIT_FAILED;
	}
	r = tc_job_parse(text, strlen(text), (enum tc_severity)stream, "preview", region,
			 job, &d);
	if (r == 0 && !json_object_get(j, "id"))
		snprintf(job->id, sizeof(job->id), "preview"); /* no stream, no entry */
	json_decref(j);
	free(text);
	if (r < 0) {
		tc_diag_format(&d, line, sizeof(line));
		tc_cli_puts(stderr, "tocsin preview: invalid job: %s\n", line);
		return TC_EXIT_FAILED;
	}
	return 0;
}

/* ---- the audience --------------------------------------------------------- */

/* Counts m's channels into a, and keeps m if it is the one to show. A
 * channel counts when m has its address, or lists it: the configuration
 * checked that the address is there, but in the CLI's mode an address
 * made of an unset ${NAME} is left out. */
static int see_member(struct audience *a, const struct tc_member *m)
{
	unsigned mask = (m->channels ? m->channels : a->g->channels) & a->job_channels;
	int c;

	for (c = 0; c < TC_CH_COUNT; c++)
		if ((mask & TC_CH_BIT(c)) &&
		    (tc_member_address(m, c) || (m->channels & TC_CH_BIT(c))))
			a->used |= TC_CH_BIT(c);
	if (a->chosen || (a->want && (!m->name || strcmp(m->name, a->want) != 0)))
		return 0;
	a->chosen = tc_member_dup(m);
	return a->chosen ? 0 : -ENOMEM;
}

static int roster_row(void *data, const struct tc_member *m, unsigned line,
		      const struct tc_diag *d)
{
	return m ? see_member(data, m) : 0; /* a bad row: tocsind skips it too */
}

/* Reads the group's roster, every row. Returns 0, or an exit code with the
 * reason printed. */
static int read_roster(struct audience *a)
{
	struct tc_roster *r = tc_roster_new(a->g->roster, tc_cfg_phone_region(a->cfg), NULL, roster_row,
						a);
	char *buf = malloc(ROSTER_CHUNK), line[1200];
	struct tc_diag d;
	ssize_t n;
	int fd = -1, rc = -ENOMEM;

	if (!r || !buf)
		goto out;
	fd = open(a->g->roster, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "tocsin preview: cannot read the roster %s\n", a->g->roster);
		rc = TC_EXIT_FAILED;
		goto out;
	}
	rc = 0;
	while (rc == 0 && (n = read(fd, buf, ROSTER_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "tocsin preview: cannot read the roster %s\n",
				a->g->roster);
			rc = TC_EXIT_FAILED;
			goto out;
		}
		rc = tc_roster_feed(r, buf, (size_t)n, &d);
	}
	if (rc == 0)
		rc = tc_roster_finish(r, &d);
	if (rc == TC_EINVAL || rc == TC_ELIMIT) {
		tc_diag_format(&d, line, sizeof(line));
		fprintf(stderr, "tocsin preview: %s\n", line);
		rc = TC_EXIT_FAILED;
	}
out:
	if (rc == -ENOMEM)
		fprintf(stderr, "tocsin preview: out of memory\n");
	if (fd >= 0)
		close(fd);
	free(buf);
	tc_roster_free(r);
	return rc < 0 ? TC_EXIT_FAILED : rc;
}

/* Finds the member to show and the channels the group uses. Returns 0, or
 * an exit code with the reason printed. */
static int find_audience(struct audience *a)
{
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < a->g->n_members; i++)
		r = see_member(a, &a->g->members[i]);
	if (r == 0 && a->g->roster)
		r = read_roster(a);
	if (r != 0)
		return TC_EXIT_FAILED;
	if (!a->chosen) {
		tc_cli_puts(stderr, "tocsin preview: group '%s' has no member", a->g->name);
		if (a->want)
			tc_cli_puts(stderr, " '%s'\n", a->want);
		else
			fputs("s\n", stderr);
		return TC_EXIT_FAILED;
	}
	return 0;
}

/* ---- rendering ------------------------------------------------------------ */

/* One part as shown. */
struct shown {
	enum tc_part part;
	enum tc_channel ch;
	const char *file;   /* relative to the templates folder, or NULL */
	char *text;         /* new; NULL when there is none */
	const char *note;   /* why there is no text */
	bool error;         /* the note is an error */
	char why[1200];     /* the render error, when there was one */
	bool sms;
	struct tc_sms_info info;
};

/* The part's file, relative to the templates folder. */
static const char *relative(const struct tc_cfg *cfg, const char *path)
{
	size_t n = strlen(cfg->templates);

	if (path && strncmp(path, cfg->templates, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path;
}

/* Fills sh[*n...] with the parts of channel c as composed in msg: the
 * part a failed compose stopped at shows the error (why), a required part
 * the template lacks says tocsind refuses the job. */
static void show_parts(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		       const struct tc_job *job, const char *group, enum tc_channel c,
		       const struct tc_msg *msg, const char *why, struct shown *sh,
		       size_t *n)
{
	unsigned parts = tc_chan_parts(c), required = tc_chan_parts_required(c);
	int p;

	for (p = 0; p < TC_PART_COUNT; p++) {
		struct shown *x = &sh[*n];

		if (!(parts & (1u << p)))
			continue;
		(*n)++;
		x->part = p;
		x->ch = c;
		if (p == msg->failed) {
			x->file = relative(cfg, tc_tpl_store_part_path(store, job->template,
								       group, p));
			snprintf(x->why, sizeof(x->why), "%s", why);
			fprintf(stderr, "tocsin preview: %s: ", x->file);
			tc_cli_puts(stderr, "%s\n", x->why);
			x->note = x->why;
			x->error = true;
		} else if (msg->part[p].data) {
			x->file = msg->source[p] ? relative(cfg, msg->source[p]) : NULL;
			x->text = strdup(msg->part[p].data);
			x->note = msg->note[p];
			x->sms = msg->sms.segments > 0;
			x->info = msg->sms;
		} else if (required & (1u << p)) {
			x->note = "missing: tocsind refuses the job";
			x->error = true;
		} else {
			x->note = msg->note[p] ? msg->note[p] : "not composed";
		}
	}
}

/* ---- output --------------------------------------------------------------- */

/* The whole email as handed to libesmtp, its CRLF line ends shown as
 * newlines (--json keeps them). */
static void print_message(struct tc_buf *b, const char *wire)
{
	const char *p, *nl;

	printf("\n--- message (email: RFC 5322, exactly as handed to libesmtp; "
	       "lines end in CRLF)\n");
	tc_buf_reset(b);
	for (p = wire; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p) - 1;
		(void)tc_cli_safe_add(b, p, (size_t)(nl - p) -
				      (nl > p && nl[-1] == '\r' && *nl == '\n'), 0, 0);
		(void)tc_buf_addc(b, '\n');
	}
	fwrite(b->data ? b->data : "", 1, b->data ? b->len : 0, stdout);
}

static void print_text(const struct tc_member *m, const struct tc_job *job,
		       const char *group, const struct shown *sh, size_t n,
		       const char *message)
{
	struct tc_buf b;
	size_t i, len;

	tc_cli_puts(stdout, "template %s, ", job->template);
	tc_cli_puts(stdout, "group %s, ", group);
	tc_cli_puts(stdout, "member %s", m->name ? m->name : "?");
	if (m->role)
		tc_cli_puts(stdout, " (%s)", m->role);
	printf("\n");
	tc_buf_init(&b, TC_CLI_SHOW_MAX);
	for (i = 0; i < n; i++) {
		printf("\n--- %s (%s", tc_part_name(sh[i].part), tc_channel_name(sh[i].ch));
		if (sh[i].sms && sh[i].text)
			printf(": %s, %u %s, %u segment%s%s", sh[i].info.gsm7 ? "GSM-7" : "UCS-2",
			       sh[i].info.chars, sh[i].info.gsm7 ? "septets" : "UTF-16 units",
			       sh[i].info.segments, sh[i].info.segments == 1 ? "" : "s",
			       sh[i].info.truncated ? ", truncated" : "");
		if (sh[i].text && !sh[i].file && sh[i].note)
			tc_cli_puts(stdout, ": %s", sh[i].note);
		tc_cli_puts(stdout, sh[i].file ? ") from %s\n" : ")%s\n",
			    sh[i].file ? sh[i].file : "");
		if (!sh[i].text) {
			tc_cli_puts(stdout, "(%s)\n", sh[i].note);
			continue;
		}
		/* the operator's template, the job's vars: newlines and tabs
		 * are the message's, other controls are shown */
		tc_buf_reset(&b);
		(void)tc_cli_safe_add(&b, sh[i].text, strlen(sh[i].text), 0,
				      TC_SAFE_NL | TC_SAFE_TAB);
		len = b.data ? b.len : 0;
		fwrite(b.data ? b.data : "", 1, len, stdout);
		if (!len || b.data[len - 1] != '\n')
			printf("\n");
	}
	if (message)
		print_message(&b, message);
	tc_buf_release(&b);
}

static json_t *opt_string(const char *s)
{
	return s ? tc_cli_json_string(s, strlen(s)) : json_null();
}

static int print_json(const struct tc_member *m, const struct tc_job *job,
		      const char *group, const struct shown *sh, size_t n,
		      const char *message)
{
	json_t *o = json_object(), *parts = json_array(), *p, *text;
	size_t i;
	int r;

	json_object_set_new(o, "template", opt_string(job->template));
	json_object_set_new(o, "group", opt_string(group));
	json_object_set_new(o, "member", opt_string(m->name));
	json_object_set_new(o, "role", opt_string(m->role));
	for (i = 0; i < n; i++) {
		p = json_object();
		json_object_set_new(p, "part", json_string(tc_part_name(sh[i].part)));
		json_object_set_new(p, "channel", json_string(tc_channel_name(sh[i].ch)));
		json_object_set_new(p, "file", opt_string(sh[i].file));
		text = sh[i].text ? json_string(sh[i].text) : json_null();
		json_object_set_new(p, "text", text ? text : json_null());
		if (sh[i].text && !text)
			json_object_set_new(p, "note", json_string("not valid UTF-8"));
		else if (!sh[i].text || sh[i].note)
			json_object_set_new(p, "note", opt_string(sh[i].note));
		if (sh[i].error)
			json_object_set_new(p, "error", json_true());
		json_object_set_new(p, "encoding", sh[i].sms && sh[i].text ?
				    json_string(sh[i].info.gsm7 ? "GSM-7" : "UCS-2") :
				    json_null());
		json_object_set_new(p, "segments", sh[i].sms && sh[i].text ?
				    json_integer(sh[i].info.segments) : json_null());
		if (sh[i].sms && sh[i].text) {
			json_object_set_new(p, "chars", json_integer(sh[i].info.chars));
			json_object_set_new(p, "truncated", json_boolean(sh[i].info.truncated));
		}
		json_array_append_new(parts, p);
	}
	json_object_set_new(o, "parts", parts);
	json_object_set_new(o, "message", opt_string(message));
	r = tc_cli_json_print(stdout, o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	return r < 0 ? TC_EXIT_FAILED : 0;
}

/* ---- the command ---------------------------------------------------------- */

/* Loads the store and checks the template. Returns 0 or an exit code. */
static int load_store(const struct tc_cfg *cfg, const char *tpl,
		      struct tc_tpl_store **store)
{
	struct tc_diags *ds = calloc(1, sizeof(*ds));
	int r;

	if (!ds)
		return TC_EXIT_FAILED;
	r = tc_tpl_store_load(cfg->templates, store, ds);
	if (r < 0)
		tc_diags_print(ds, stderr);
	free(ds);
	if (r < 0)
		return TC_EXIT_FAILED;
	if (!tc_tpl_store_has(*store, tpl)) {
		fprintf(stderr, "tocsin preview: unknown template '%s'\n", tpl);
		return TC_EXIT_FAILED;
	}
	return 0;
}

/* Composes the message of each channel in mask for member m, with the
 * channel's own compose code, as tocsind does. Returns 0 or 1. */
static int render_all(const struct tc_cfg *cfg, const struct tc_tpl_store *store,
		      const struct tc_job *job, const char *group,
		      const struct tc_member *m, const json_t *data, unsigned mask,
		      struct shown *sh, size_t *n, char **message)
{
	char id[TC_DELIVERY_ID_LEN + 1], why[1200], line[1200];
	struct tc_chan_dlv v;
	struct tc_msg msg;
	char *vars = json_dumps(job->vars, JSON_COMPACT);
	struct tc_diag d;
	int c, failed = 0;

	if (!vars)
		return 1;
	for (c = 0; c < TC_CH_COUNT; c++) {
		if (!(mask & TC_CH_BIT(c)))
			continue;
		if (tc_chan_template_check(store, job->template, c, &d) < 0) {
			tc_diag_format(&d, line, sizeof(line));
			fprintf(stderr, "tocsin preview: %s: tocsind refuses the job\n", line);
			failed = 1;
		}
		memset(&v, 0, sizeof(v));
		v.job = job;
		v.group = group;
		v.member = m;
		v.address = tc_member_address(m, c) ? tc_member_address(m, c) : "";
		v.vars_json = vars;
		tc_delivery_id(job->id, c, v.address, id);
		v.id = id;
		tc_msg_init(&msg);
		if (tc_chan_compose(c, cfg, store, &v, data, &msg, why, sizeof(why)) < 0)
			failed = 1;
		show_parts(cfg, store, job, group, c, &msg, why, sh, n);
		if (c == TC_CH_EMAIL && msg.wire.data)
			*message = strdup(msg.wire.data);
		tc_msg_release(&msg);
	}
	free(vars);
	return failed;
}

int tc_cli_preview(const struct tc_cfg *cfg, int argc, char **argv)
{
	struct preview_opts o = { 0 };
	struct audience a = { 0 };
	struct tc_tpl_store *store = NULL;
	struct shown sh[TC_PART_COUNT];
	struct tc_job job;
	bool have_job = false;
	json_t *data = NULL;
	char *message = NULL;   /* the email as sent, when composed */
	unsigned mask;
	size_t n = 0, i;
	int r;

	if (!cfg) {
		fputs(preview_help, stdout);
		return TC_EXIT_OK;
	}
	memset(sh, 0, sizeof(sh));
	o.channels = json_array();
	o.vars = json_object();
	r = parse_opts(&o, argc, argv);
	if (r == 0)
		r = make_job(&o, tc_cfg_phone_region(cfg), &job);
	have_job = r == 0;
	a.cfg = cfg;
	a.g = r == 0 ? tc_cfg_group(cfg, o.group) : NULL;
	if (r == 0 && !a.g) {
		fprintf(stderr, "tocsin preview: unknown group '%s'\n", o.group);
		r = TC_EXIT_FAILED;
	}
	for (i = 0; r == 0 && i < TC_CH_COUNT; i++) {
		if (job.channels == TC_CH_ALL || !(job.channels & TC_CH_BIT(i)) ||
		    (configured(cfg) & TC_CH_BIT(i)))
			continue;
		fprintf(stderr, "tocsin preview: channel '%s' is not configured\n",
			tc_channel_name((enum tc_channel)i));
		r = TC_EXIT_FAILED;
	}
	if (r == 0)
		r = load_store(cfg, job.template, &store);
	if (r == 0) {
		a.want = o.member;
		a.job_channels = job.channels & configured(cfg);
		r = find_audience(&a);
	}
	if (r == 0) {
		data = tc_tpl_data_new(job.vars, job.id, job.incident,
				       tc_severity_name(job.severity));
		if (!data || tc_tpl_data_set_member(data, o.group, a.chosen) < 0 ||
		    (job.responses &&
		     json_object_set_nocheck(data, "responses", job.responses) < 0))
			r = TC_EXIT_FAILED;
	}
	/* the channels asked for, else those the members use */
	mask = r == 0 && job.channels != TC_CH_ALL ? a.job_channels : a.used;
	if (r == 0 && !mask) {
		fprintf(stderr, "tocsin preview: no member of group '%s' gets anything "
			"on a configured channel\n", o.group);
		r = TC_EXIT_FAILED;
	}
	if (r == 0) {
		r = render_all(cfg, store, &job, o.group, a.chosen, data, mask, sh, &n,
			       &message);
		if (o.json) {
			if (print_json(a.chosen, &job, o.group, sh, n, message) != 0)
				r = TC_EXIT_FAILED;
		} else {
			print_text(a.chosen, &job, o.group, sh, n, message);
		}
	}
	free(message);
	for (i = 0; i < n; i++)
		free(sh[i].text);
	json_decref(data);
	tc_tpl_store_free(store);
	if (a.chosen) {
		tc_member_release(a.chosen);
		free(a.chosen);
	}
	if (have_job)
		tc_job_release(&job);
	json_decref(o.channels);
	json_decref(o.vars);
	return r;
}
