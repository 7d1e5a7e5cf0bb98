/*
 * Unit tests of the channels' budgets over a job's audience
 * (tc_chan_budget_*, SMS: channels.sms.max_per_job): segments of each
 * member's own text, once per remembered number, roster rows counted each,
 * the count and the limit in the reason; and tc_chan_job_check's count of
 * the members a job names itself. A configuration and templates written to
 * a temporary folder, loaded as tocsind loads them.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "channels/channels.h"
#include "config/config.h"
#include "templates/templates.h"
#include "tc_test.h"

static char dir[] = "/tmp/tocsin-budget-XXXXXX";

static void put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct tc_cfg *cfg;
static struct tc_tpl_store *store;

/* max_per_job 7; the text is {{service}} {{member.name}}. */
static void load(void)
{
	char path[512];
	struct tc_diags *ds = calloc(1, sizeof(*ds));

	if (!ds || !mkdtemp(dir) ||
	    setenv("TOCSIN_TEST_BUDGET_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1) < 0)
		exit(2);
	snprintf(path, sizeof(path), "%s/templates", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/templates/outage", dir);
	mkdir(path, 0700);
	put("templates/outage/sms.txt", "{{service}} {{member.name}}");
	put("templates/outage/webhook.json", "{\"s\": \"{{service}}\"}");
	put("tocsin.yaml",
	    "redis:\n  url: redis://127.0.0.1:1/0\n"
	    "dispatcher:\n  consumer: unit\n"
	    "templates: templates/\n"
	    "channels:\n"
	    "  webhook:\n    allow: [127.0.0.0/8]\n"
	    "    secret: ${TOCSIN_TEST_BUDGET_SECRET}\n"
	    "  sms:\n    max_per_job: 7\n    max_segments: 3\n    default_region: US\n"
	    "    allow: [127.0.0.0/8]\n"
	    "    providers:\n"
	    "      - name: gw\n        kind: http\n        url: http://127.0.0.1:9/send\n"
	    "        content_type: json\n"
	    "        body: '{\"to\": \"{{to}}\", \"text\": \"{{text}}\"}'\n"
	    "groups:\n"
	    "  crew:\n    members:\n"
	    "      - {name: A, phone: \"+14155550100\", channels: [sms]}\n"
	    "      - {name: B, phone: \"+14155550101\", channels: [sms, webhook],\n"
	    "         webhook: \"http://127.0.0.1:9/b\"}\n"
	    "      - {name: C, webhook: \"http://127.0.0.1:9/c\", channels: [webhook]}\n");
	snprintf(path, sizeof(path), "%s/tocsin.yaml", dir);
	if (tc_cfg_load(path, TC_CFG_DAEMON, &cfg, ds) < 0) {
		tc_diags_print(ds, stderr);
		exit(2);
	}
	snprintf(path, sizeof(path), "%s/templates", dir);
	if (tc_tpl_store_load(path, &store, ds) < 0) {
		tc_diags_print(ds, stderr);
		exit(2);
	}
	free(ds);
}

static void parse(const char *json, struct tc_job *job)
{
	struct tc_diag d;

	if (tc_job_parse(json, strlen(json), TC_SEV_NORMAL, "1-0", "US", job, &d) < 0) {
		fprintf(stderr, "job: %s\n", d.msg);
		exit(2);
	}
}

static struct tc_member member(const char *name, const char *phone)
{
	struct tc_member m;

	memset(&m, 0, sizeof(m));
	m.name = (char *)name;
	m.phone = (char *)phone;
	m.channels = TC_CH_BIT(TC_CH_SMS);
	return m;
}

static void test_counts(void)
{
	/* 160 characters with the name: one segment; 161: two. */
	char json[512], svc[200];
	struct tc_member a = member("A", "+14155550100"), r = member("R", "+14155550200");
	struct tc_chan_budget *b = NULL;
	struct tc_diag d;
	struct tc_job job;

	memset(svc, 'x', 158);
	svc[158] = '\0';
	snprintf(json, sizeof(json), "{\"template\": \"outage\", \"groups\": [\"crew\"], "
		 "\"vars\": {\"service\": \"%s\"}}", svc);
	parse(json, &job);

	tc_test_begin("budget: each member's own text is counted (the name sets the length)");
	TC_CHECK_INT(tc_chan_budget_new(cfg, store, &job, &b), 0);
	TC_CHECK(b != NULL);
	memset(&d, 0, sizeof(d));
	TC_CHECK_INT(tc_chan_budget_add(b, "crew", TC_CH_ALL, &a, true, &d), 0);
	a.name = "AB";   /* 161 characters: two segments */
	a.phone = "+14155550102";
	TC_CHECK_INT(tc_chan_budget_add(b, "crew", TC_CH_ALL, &a, true, &d), 0);
	TC_CHECK_INT(tc_chan_budget_end(b, &d), 0);

	tc_test_begin("budget: a remembered number is counted once, roster rows each");
	/* A's first number again: not counted (3 so far). */
	a.name = "A";
	a.phone = "+14155550100";
	TC_CHECK_INT(tc_chan_budget_add(b, "crew", TC_CH_ALL, &a, false, &d), 0);
	/* A roster row twice: counted twice (one segment each): 5. */
	TC_CHECK_INT(tc_chan_budget_add(b, "crew", TC_CH_ALL, &r, false, &d), 0);
	TC_CHECK_INT(tc_chan_budget_add(b, "crew", TC_CH_ALL, &r, false, &d), 0);
	TC_CHECK_INT(tc_chan_budget_end(b, &d), 0);

	tc_test_begin("budget: a member without sms costs nothing");
	r.channels = TC_CH_BIT(TC_CH_WEBHOOK);
	TC_CHECK_INT(tc_chan_budget_add(b, "crew", TC_CH_ALL, &r, false, &d), 0);
	r.channels = 0; /* the group's: webhook only */
	TC_CHECK_INT(tc_chan_budget_add(b, "crew", TC_CH_BIT(TC_CH_WEBHOOK), &r, false, &d), 0);
	TC_CHECK_INT(tc_chan_budget_end(b, &d), 0);

	tc_test_begin("budget: exactly at max_per_job passes, one more is refused with the count");
	r.channels = TC_CH_BIT(TC_CH_SMS);
	r.phone = "+14155550201";
	TC_CHECK_INT(tc_chan_budget_add(b, "crew", TC_CH_ALL, &r, false, &d), 0);
	r.phone = "+14155550202";
	TC_CHECK_INT(tc_chan_budget_add(b, "crew", TC_CH_ALL, &r, false, &d), 0);
	TC_CHECK_INT(tc_chan_budget_end(b, &d), 0);  /* 7 */
	TC_CHECK_INT(tc_chan_budget_add(b, "crew", TC_CH_ALL, &r, false, &d), 0);
	memset(&d, 0, sizeof(d));
	TC_CHECK_INT(tc_chan_budget_end(b, &d), TC_EINVAL);
	TC_CHECK_STR(d.msg, "would send 8 SMS segments, more than channels.sms.max_per_job 7");
	tc_chan_budget_free(b);
	tc_job_release(&job);
}

static void test_jobs(void)
{
	struct tc_chan_budget *b = (struct tc_chan_budget *)&b;
	char json[1024], svc[400];
	struct tc_diag d;
	struct tc_job job;

	tc_test_begin("budget: none for a job that does not use sms");
	parse("{\"template\": \"outage\", \"groups\": [\"crew\"], \"channels\": [\"webhook\"]}",
	      &job);
	TC_CHECK_INT(tc_chan_budget_new(cfg, store, &job, &b), 0);
	TC_CHECK(b == NULL);
	memset(&d, 0, sizeof(d));
	TC_CHECK_INT(tc_chan_job_check(cfg, store, &job, &d), 0);
	tc_job_release(&job);

	tc_test_begin("job check: the inline members and recipients, a number once");
	/* 300 characters: two segments each; A, B and a recipient with B's
	 * number: 4 segments. */
	memset(svc, 'x', 300);
	svc[300] = '\0';
	snprintf(json, sizeof(json), "{\"template\": \"outage\", \"groups\": [\"crew\"], "
		 "\"recipients\": [{\"name\": \"Z\", \"phone\": \"+14155550101\"}], "
		 "\"vars\": {\"service\": \"%s\"}}", svc);
	parse(json, &job);
	memset(&d, 0, sizeof(d));
	TC_CHECK_INT(tc_chan_job_check(cfg, store, &job, &d), 0);
	tc_job_release(&job);

	tc_test_begin("job check: over max_per_job is refused, with the count");
	snprintf(json, sizeof(json), "{\"template\": \"outage\", \"groups\": [\"crew\"], "
		 "\"recipients\": [{\"name\": \"Y\", \"phone\": \"+14155550300\"}, "
		 "{\"name\": \"Z\", \"phone\": \"+14155550301\"}], "
		 "\"vars\": {\"service\": \"%s\"}}", svc);
	parse(json, &job);
	memset(&d, 0, sizeof(d));
	TC_CHECK_INT(tc_chan_job_check(cfg, store, &job, &d), TC_EINVAL);
	TC_CHECK_STR(d.msg, "would send 8 SMS segments, more than channels.sms.max_per_job 7");
	tc_job_release(&job);
}

int main(void)
{
	load();
	test_counts();
	test_jobs();
	tc_tpl_store_free(store);
	tc_cfg_free(cfg);
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tc_test_done();
}
