/*
 * The job check of `tocsin send` and `tocsin dead retry`: the one that
 * tocsind's intake makes (tc_job_parse, then tc_chan_job_check), with the
 * configuration and templates as they load here, so the commander hears
 * of a typo before anything is queued.
 */
#include <stdio.h>
#include <stdlib.h>

#include "channels/channels.h"
#include "cli/cli.h"
#include "templates/templates.h"

int tc_cli_job_check(const struct tc_cfg *cfg, const char *cmd, const char *text,
		     size_t len, enum tc_severity sev, char *why, size_t n)
{
	struct tc_tpl_store *store = NULL;
	struct tc_diags *ds = calloc(1, sizeof(*ds));
	struct tc_diag d;
	struct tc_job job;
	int r;

	if (!ds) {
		snprintf(why, n, "out of memory");
		return TC_EINVAL;
	}
	r = tc_job_parse(text, len, sev, "0-1", tc_cfg_phone_region(cfg), &job, &d);
	if (r == 0 && tc_tpl_store_load(cfg->templates, &store, ds) < 0) {
		/* tocsind decides with the templates it loaded; say why the
		 * template could not be checked here. */
		fprintf(stderr, "tocsin %s: warning: the templates do not load here, "
			"the template is not checked:\n", cmd);
		tc_diags_print(ds, stderr);
	}
	if (r == 0) {
		r = tc_chan_job_check(cfg, store, &job, &d);
		tc_job_release(&job);
	}
	if (r < 0)
		tc_diag_format(&d, why, n);
	tc_tpl_store_free(store);
	free(ds);
	return r < 0 ? TC_EINVAL : 0;
}
