/*
 * The job validator as intake runs it (dispatcher/intake.c): a stream
 * entry's `job` field parsed (common/job.c) and checked against a loaded
 * configuration and template store (tc_chan_job_check), and for a job that
 * would be accepted, every message composed for its recipients and its
 * groups' members (tc_chan_compose), its vars rendered through templates
 * that use them. The stream is picked by the input's length. Whatever is
 * refused must say why without a control character from the job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/channels.h"
#include "tests/fuzz/fuzz.h"

static struct tc_cfg *cfg;
static struct tc_tpl_store *store;

static const char config[] =
	"redis: {url: redis://127.0.0.1:6379/0, prefix: fuzz}\n"
	"templates: templates/\n"
	"channels:\n"
	"  webhook:\n"
	"    secret: ${TOCSIN_FUZZ_WEBHOOK_SECRET}\n"
	"    allow: [public, 127.0.0.0/8]\n"
	"groups:\n"
	"  oncall:\n"
	"    members:\n"
	"      - {name: Ada, role: CTO, webhook: \"http://127.0.0.1:8799/hooks/ada\"}\n"
	"      - {name: Grace, webhook: \"https://hooks.example.org/grace\"}\n"
	"  status-page:\n"
	"    members:\n"
	"      - {name: Status, webhook: \"https://status.example.org/hook\"}\n";

static const char *const templates[][2] = {
	{ "templates/outage/webhook.json",
	  "{\"text\": \"{{service}} is {{status}}: {{summary}}\", "
	  "\"items\": [{{#items}}\"{{.}}\",{{/items}}\"end\"], "
	  "\"member\": \"{{member.name}}\", \"raw\": {{{raw}}}, "
	  "\"job\": \"{{job.id}}\", \"incident\": \"{{incident}}\"}\n" },
	{ "templates/outage/sms.txt", "{{severity}}: {{service}} {{status}} {{>footer}}\n" },
	{ "templates/outage/email.subject", "[{{severity}}] {{service}} {{status}}\n" },
	{ "templates/outage/email.txt",
	  "Hello {{member.name}},\n{{#facts}}- {{name}}: {{value}}\n{{/facts}}"
	  "{{^facts}}No facts.{{/facts}}\n{{>footer}}\n" },
	{ "templates/outage/status-page/webhook.json",
	  "{\"status\": \"{{status}}\", \"group\": \"{{group}}\", \"vars\": {{{vars}}}}\n" },
	{ "templates/plain/webhook.json", "{\"summary\": \"{{summary}}\"}\n" },
	{ "templates/partials/footer.mustache", "-- {{incident}} {{&ack_url}}" },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tc_diags ds;
	char path[512];
	size_t i;

	(void)argc;
	(void)argv;
	tc_log_set_level(TC_LOG_ERROR);
	setenv("TOCSIN_FUZZ_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
	for (i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
		fz_writes(templates[i][0], templates[i][1]);
	snprintf(path, sizeof(path), "%s", fz_writes("tocsin.yaml", config));
	memset(&ds, 0, sizeof(ds));
	if (tc_cfg_load(path, TC_CFG_DAEMON, &cfg, &ds) < 0 ||
	    tc_tpl_store_load(cfg->templates, &store, &ds) < 0) {
		tc_diags_print(&ds, stderr);
		abort();
	}
	return 0;
}

static void compose(const struct tc_job *job, json_t *data, const char *group,
		    const struct tc_member *m, const char *vars_json)
{
	char id[TC_DELIVERY_ID_LEN + 1], why[512];
	const char *address;
	struct tc_chan_dlv v;
	struct tc_msg msg;
	int c;

	if (tc_tpl_data_set_member(data, group, m) < 0)
		abort();
	for (c = 0; c < TC_CH_COUNT; c++) {
		address = tc_member_address(m, (enum tc_channel)c);
		if (!address || !(job->channels & TC_CH_BIT(c)) ||
		    !(tc_chan_available(cfg) & TC_CH_BIT(c)))
			continue;
		tc_delivery_id(job->id, (enum tc_channel)c, address, id);
		v = (struct tc_chan_dlv){ .id = id, .job = job, .group = group,
					  .member = m, .address = address,
					  .vars_json = vars_json };
		tc_msg_init(&msg);
		why[0] = '\0';
		if (tc_chan_compose((enum tc_channel)c, cfg, store, &v, data, &msg, why,
				    sizeof(why)) < 0)
			fz_shown(why, "why a message could not be composed");
		tc_msg_release(&msg);
	}
}

static void compose_all(const struct tc_job *job)
{
	const struct tc_group *g;
	json_t *data;
	char *vars_json;
	size_t i, k;

	vars_json = json_dumps(job->vars, JSON_COMPACT | JSON_ENCODE_ANY);
	data = tc_tpl_data_new(job->vars, job->id, job->incident,
			       tc_severity_name(job->severity));
	if (!vars_json || !data)
		abort();
	for (i = 0; i < job->n_recipients; i++)
		compose(job, data, "", &job->recipients[i], vars_json);
	for (i = 0; i < job->n_groups; i++) {
		g = tc_cfg_group(cfg, job->groups[i]);
		for (k = 0; g && k < g->n_members; k++)
			compose(job, data, g->name, &g->members[k], vars_json);
	}
	json_decref(data);
	free(vars_json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[1200];
	struct tc_diag d;
	struct tc_job job;

	/* What intake reads of an entry: TC_LIMIT_REDIS_ENTRY holds the
	 * field; past TC_LIMIT_JOB_BYTES the parser refuses it. */
	if (size > TC_LIMIT_JOB_BYTES + 1)
		return 0;
	memset(&d, 0, sizeof(d));
	if (tc_job_parse((const char *)data, size, (enum tc_severity)(size % TC_SEV_COUNT),
			 "1764496800000-0", cfg->sms.default_region, &job, &d) < 0) {
		tc_diag_format(&d, reason, sizeof(reason));
		fz_shown(reason, "why a job was refused");
		return 0;
	}
	fz_assert(tc_job_id_valid(job.id), "an accepted job has a valid id");
	if (tc_chan_job_check(cfg, store, &job, &d) < 0) {
		tc_diag_format(&d, reason, sizeof(reason));
		fz_shown(reason, "why a job was refused");
	} else {
		compose_all(&job);
	}
	tc_job_release(&job);
	return 0;
}
