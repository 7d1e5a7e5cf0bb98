/*
 * cfg_email: the rules of channels.email: the SMTP server, STARTTLS and
 * credentials, the sender and reply addresses, sessions, rate and retries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* ---- channels.email --------------------------------------------------------- */

static const char *const email_keys[] = {
	"server", "starttls", "ca_file", "username", "password", "from",
	"reply_to", "sessions", "rate", "retry", NULL
};
static const char *const starttls_names[] = {
	"required", "opportunistic", "off", NULL
};

/* "addr" or "Name <addr>"; why says what is wrong. */
static bool from_ok(const char *s, char *why, size_t n)
{
	const char *lt = strchr(s, '<');
	size_t len = strlen(s);
	char addr[TC_LIMIT_ADDRESS + 1];

	if (!lt)
		return tc_addr_email_check(s, why, n) == 0;
	if (s[len - 1] != '>' || strchr(lt + 1, '<') || strchr(s, '>') != s + len - 1) {
		snprintf(why, n, "not an address or Name <address>");
		return false;
	}
	len = (size_t)(s + len - 1 - (lt + 1));
	memcpy(addr, lt + 1, len);
	addr[len] = '\0';
	return tc_addr_email_check(addr, why, n) == 0;
}

void tc_cfg_read_email(struct tc_load *ld, struct tc_ymap *ch)
{
	struct tc_email_cfg *e = &ld->cfg->email;
	char q[TC_SHOW_BYTES], why[600], *server = NULL, *ca = NULL;
	const char *port;
	int starttls = TC_STARTTLS_REQUIRED, ru, rp;
	struct tc_ymap m;

	if (!tc_yaml_field(ch, "email")->present)
		return;
	e->enabled = true;
	ld->enabled |= TC_CH_BIT(TC_CH_EMAIL);
	if (tc_yaml_sub_map(ld, ch, "email", 0, email_keys, &m) != TC_V_OK)
		return;
	if (tc_yaml_get_str(ld, &m, "server", TC_F_REQUIRED, &server) == TC_V_OK) {
		if (!tc_val_host_port_ok(server, true, &port)) {
			tc_yaml_bad_value(ld, &m, "server", "not host or host:port '%s'",
					  tc_yaml_shows(q, sizeof(q), server));
		} else {
			e->port = port ? (unsigned)strtoul(port, NULL, 10) : 587;
			if (server[0] == '[')
				e->host = strndup(server + 1, strcspn(server + 1, "]"));
			else
				e->host = strndup(server, port ? (size_t)(port - 1 - server)
						  : strlen(server));
			if (!e->host)
				ld->oom = true;
		}
	}
	if (tc_yaml_get_enum(ld, &m, "starttls", starttls_names,
			     "required, opportunistic or off", &starttls) == TC_V_OK)
		e->starttls = (enum tc_starttls)starttls;
	if (tc_yaml_get_str(ld, &m, "ca_file", 0, &ca) == TC_V_OK)
		e->ca_file = tc_val_existing_path(ld, &m, "ca_file", ca, false);
	free(ca);
	ru = tc_yaml_get_str(ld, &m, "username", 0, &e->username);
	rp = tc_yaml_get_str(ld, &m, "password", TC_F_SECRET, &e->password);
	if (rp == TC_V_OK && ru == TC_V_NONE)
		tc_yaml_bad_value(ld, &m, "password", "a password without a username");
	if (ru == TC_V_OK && rp == TC_V_NONE)
		tc_yaml_bad_value(ld, &m, "username", "a username without a password");
	if (ru == TC_V_OK && e->starttls == TC_STARTTLS_OFF)
		tc_yaml_bad_value(ld, &m, "starttls", "off, but a username is set: the "
				  "password would cross the network in clear");
	if (tc_yaml_get_str(ld, &m, "from", TC_F_REQUIRED, &e->from) == TC_V_OK &&
	    !from_ok(e->from, why, sizeof(why)))
		tc_yaml_bad_value(ld, &m, "from", "%s in '%s'", why,
				  tc_yaml_shows(q, sizeof(q), e->from));
	if (tc_yaml_get_str(ld, &m, "reply_to", 0, &e->reply_to) == TC_V_OK &&
	    tc_addr_email_check(e->reply_to, why, sizeof(why)) < 0)
		tc_yaml_bad_value(ld, &m, "reply_to", "%s", why);
	(void)tc_yaml_get_uint(ld, &m, "sessions", 1, 64, &e->sessions);
	tc_yaml_get_rate(ld, &m, &e->rate);
	tc_yaml_get_retry(ld, &m, &e->retry);
	free(server);
}

