/*
 * cfg_email: the rules of channels.email: the SMTP server, STARTTLS and
 * credentials (which never travel in clear: a password needs starttls:
 * required), the CA file, the sender, reply and bounce addresses,
 * sessions, rate and retries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* ---- channels.email --------------------------------------------------------- */

#define LOCAL_PART_MAX 64          /* bytes of an address before the @ */
#define DELIVERY_MARK  "{delivery}"

static const char *const email_keys[] = {
	"server", "starttls", "ca_file", "username", "password", "from",
	"reply_to", "bounce_address", "sessions", "timeout", "rate", "retry", NULL
};
static const char *const starttls_names[] = {
	"required", "opportunistic", "off", NULL
};

/* server: "host" or "host:port" (587 when it names none). */
static void load_server(struct tc_load *ld, struct tc_ymap *m,
			struct tc_email_cfg *e)
{
	char q[TC_SHOW_BYTES], *server = NULL;
	const char *port;

	if (tc_yaml_get_str(ld, m, "server", TC_F_REQUIRED, &server) != TC_V_OK)
		return;
	if (!tc_val_host_port_ok(server, true, &port)) {
		tc_yaml_bad_value(ld, m, "server", "not host or host:port '%s'",
				  tc_yaml_shows(q, sizeof(q), server));
	} else {
		uint64_t p = 587;

		/* 1..65535: tc_val_host_port_ok said so */
		if (port)
			(void)tc_parse_uints(port, 65535, &p);
		e->port = (unsigned)p;
		if (server[0] == '[')
			e->host = strndup(server + 1, strcspn(server + 1, "]"));
		else
			e->host = strndup(server, port ? (size_t)(port - 1 - server)
						       : strlen(server));
		if (!e->host)
			ld->oom = true;
	}
	free(server);
}

/* username and password, which travel only over TLS. */
static void load_credentials(struct tc_load *ld, struct tc_ymap *m,
			     struct tc_email_cfg *e)
{
	bool user = tc_yaml_field(m, "username")->present;
	bool pass = tc_yaml_field(m, "password")->present;
	int ru, rp;

	ru = tc_yaml_get_str(ld, m, "username", 0, &e->username);
	rp = tc_yaml_get_str(ld, m, "password", TC_F_SECRET, &e->password);
	if (rp == TC_V_OK && ru == TC_V_NONE)
		tc_yaml_bad_value(ld, m, "password", "a password without a username");
	if (ru == TC_V_OK && rp == TC_V_NONE)
		tc_yaml_bad_value(ld, m, "username", "a username without a password");
	if (e->starttls == TC_STARTTLS_OFF && user)
		tc_yaml_bad_value(ld, m, "starttls", "off, but a username is set: "
				  "the password would cross the network in clear");
	else if (e->starttls != TC_STARTTLS_REQUIRED && pass)
		tc_yaml_bad_value(ld, m, "starttls", "%s, but a password is set: "
				  "credentials never travel in clear; use required",
				  starttls_names[e->starttls]);
}

/* from: "addr" or "Name <addr>" (the name maybe in double quotes) into
 * e->from_name and e->from_addr. False with why when it is neither. */
static bool from_parse(struct tc_load *ld, struct tc_email_cfg *e, char *why,
		       size_t n)
{
	const char *s = e->from, *lt = strchr(s, '<'), *name;
	size_t len = strlen(s), nlen;

	if (!lt) {
		if (tc_addr_email_check(s, why, n) < 0)
			return false;
		e->from_addr = tc_yaml_strdup(ld, s);
		return true;
	}
	if (s[len - 1] != '>' || strchr(lt + 1, '<') ||
	    strchr(s, '>') != s + len - 1) {
		snprintf(why, n, "not an address or Name <address>");
		return false;
	}
	e->from_addr = strndup(lt + 1, (size_t)(s + len - 1 - (lt + 1)));
	if (!e->from_addr) {
		ld->oom = true;
		return true;
	}
	if (tc_addr_email_check(e->from_addr, why, n) < 0)
		return false;
	/* The name: what comes before '<', trimmed, unquoted. */
	for (name = s; *name == ' '; name++)
		;
	for (nlen = (size_t)(lt - name); nlen > 0 && name[nlen - 1] == ' '; nlen--)
		;
	if (nlen >= 2 && name[0] == '"' && name[nlen - 1] == '"') {
		name++;
		nlen -= 2;
	}
	if (memchr(name, '"', nlen) || memchr(name, '\\', nlen)) {
		snprintf(why, n, "a quote or backslash inside the name");
		return false;
	}
	if (nlen > 0) {
		e->from_name = strndup(name, nlen);
		if (!e->from_name)
			ld->oom = true;
	}
	return true;
}

/* bounce_address: an address whose part before the @ may hold
 * "{delivery}" once, replaced by each message's delivery id (32
 * characters) so a bounce names the delivery it is about. */
static void load_bounce(struct tc_load *ld, struct tc_ymap *m,
			struct tc_email_cfg *e)
{
	char q[TC_SHOW_BYTES], why[600];
	const char *mark, *at;
	struct tc_buf b;
	size_t local;

	if (tc_yaml_get_str(ld, m, "bounce_address", 0,
			    &e->bounce_address) != TC_V_OK)
		return;
	mark = strstr(e->bounce_address, DELIVERY_MARK);
	at = strrchr(e->bounce_address, '@');
	tc_buf_init(&b, TC_LIMIT_ADDRESS + TC_DELIVERY_ID_LEN);
	if (mark) {
		(void)tc_buf_add(&b, e->bounce_address,
				 (size_t)(mark - e->bounce_address));
		(void)tc_buf_adds(&b, "0123456789abcdef0123456789abcdef");
		(void)tc_buf_adds(&b, mark + strlen(DELIVERY_MARK));
	} else {
		(void)tc_buf_adds(&b, e->bounce_address);
	}
	if (!b.data) {
		ld->oom = true;
	} else if (strpbrk(b.data, "{}")) {
		tc_yaml_bad_value(ld, m, "bounce_address", "braces only in one "
				  DELIVERY_MARK " in '%s'",
				  tc_yaml_shows(q, sizeof(q), e->bounce_address));
	} else if (tc_addr_email_check(b.data, why, sizeof(why)) < 0) {
		tc_yaml_bad_value(ld, m, "bounce_address", "not an email address "
				  "'%s'", tc_yaml_shows(q, sizeof(q),
							e->bounce_address));
	} else if (mark && mark > at) {
		tc_yaml_bad_value(ld, m, "bounce_address", DELIVERY_MARK " only "
				  "before the @ in '%s'",
				  tc_yaml_shows(q, sizeof(q), e->bounce_address));
	} else if ((local = (size_t)(strrchr(b.data, '@') - b.data)) >
		   LOCAL_PART_MAX) {
		tc_yaml_bad_value(ld, m, "bounce_address", "%zu bytes before the "
				  "@ once " DELIVERY_MARK " is a delivery id: at most "
				  "%d in '%s'", local, LOCAL_PART_MAX,
				  tc_yaml_shows(q, sizeof(q), e->bounce_address));
	}
	tc_buf_release(&b);
}

void tc_cfg_read_email(struct tc_load *ld, struct tc_ymap *ch)
{
	struct tc_email_cfg *e = &ld->cfg->email;
	char q[TC_SHOW_BYTES], why[600];
	int starttls = TC_STARTTLS_REQUIRED;
	struct tc_ymap m;

	if (!tc_yaml_field(ch, "email")->present)
		return;
	e->enabled = true;
	ld->enabled |= TC_CH_BIT(TC_CH_EMAIL);
	if (tc_yaml_sub_map(ld, ch, "email", 0, email_keys, &m) != TC_V_OK)
		return;
	load_server(ld, &m, e);
	if (tc_yaml_get_enum(ld, &m, "starttls", starttls_names,
			     "required, opportunistic or off", &starttls) == TC_V_OK)
		e->starttls = (enum tc_starttls)starttls;
	e->ca_file = tc_val_ca_file(ld, &m, "ca_file");
	load_credentials(ld, &m, e);
	if (tc_yaml_get_str(ld, &m, "from", TC_F_REQUIRED, &e->from) == TC_V_OK &&
	    !from_parse(ld, e, why, sizeof(why)))
		tc_yaml_bad_value(ld, &m, "from", "%s in '%s'", why,
				  tc_yaml_shows(q, sizeof(q), e->from));
	if (tc_yaml_get_str(ld, &m, "reply_to", 0, &e->reply_to) == TC_V_OK &&
	    tc_addr_email_check(e->reply_to, why, sizeof(why)) < 0)
		tc_yaml_bad_value(ld, &m, "reply_to", "%s", why);
	load_bounce(ld, &m, e);
	(void)tc_yaml_get_uint(ld, &m, "sessions", 1, 64, &e->sessions);
	(void)tc_yaml_get_duration(ld, &m, "timeout", 1, TC_DURATION_MAX,
				   &e->timeout_ms);
	tc_yaml_get_rate(ld, &m, 1, NULL, &e->rate);
	tc_yaml_get_retry(ld, &m, &e->retry);
}
