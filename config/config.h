/*
 * config: the YAML configuration of DESIGN.md, loaded with libfyaml and
 * validated completely, and the CSV roster reader.
 *
 * A loaded struct tc_cfg is immutable; reloading builds a new one.
 */
#ifndef TC_CONFIG_H
#define TC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

struct tc_retry_cfg {
	unsigned attempts;  /* 1..100, attempts in all (1: no retry) */
	uint64_t base_ms;
	uint64_t max_ms;
};

/* Both 0 when the configuration has no rate: no limit. */
struct tc_rate_cfg {
	double per_second;  /* > 0, at most 1000000 */
	unsigned burst;     /* >= 1; default: per_second rounded up */
};

struct tc_webhook_cfg {
	bool enabled;              /* channels.webhook is present */
	unsigned concurrency;      /* transfers at once, 1..100000 */
	unsigned per_host;         /* connections per host, 1..10000 */
	uint64_t connect_timeout_ms;
	uint64_t timeout_ms;
	unsigned char key[128];    /* the decoded whsec_ secret */
	size_t key_len;            /* 16..128 */
	struct tc_allow *allow;    /* where webhooks may go; see tc_allow_match */
	size_t n_allow;
	struct tc_rate_cfg rate;   /* per destination host; 0/0: no limit */
	char *proxy;               /* "http://host:port", or NULL: no proxy
				      (never one from the environment) */
	char *ca_file;             /* PEM CAs trusted instead of the system's,
				      or NULL: the system's */
	struct tc_retry_cfg retry;
};

enum tc_starttls { TC_STARTTLS_REQUIRED, TC_STARTTLS_OPPORTUNISTIC,
		   TC_STARTTLS_OFF };

struct tc_email_cfg {
	bool enabled;
	char *host;                /* from server "host:port" */
	unsigned port;             /* 587 when server names none */
	enum tc_starttls starttls;
	char *ca_file;             /* NULL: the system's */
	char *username;            /* NULL: no authentication */
	char *password;            /* only with starttls required */
	char *from;                /* "Name <addr>" or "addr", as written */
	char *from_name;           /* its name, unquoted; NULL when none */
	char *from_addr;           /* its address */
	char *reply_to;            /* NULL when absent */
	char *bounce_address;      /* the envelope sender; "{delivery}" in it
				      stands for the delivery id; NULL: from */
	unsigned sessions;         /* 1..64 */
	uint64_t timeout_ms;       /* each wait for the server (greeting, each
				      reply, the answer after the final dot) */
	struct tc_rate_cfg rate;
	struct tc_retry_cfg retry;
};

enum tc_sms_kind { TC_SMS_TWILIO, TC_SMS_VONAGE, TC_SMS_HTTP };
enum tc_overflow { TC_OVERFLOW_TRUNCATE, TC_OVERFLOW_REJECT };
enum tc_sms_method { TC_SMS_POST, TC_SMS_PUT };
/* How Vonage signs the webhooks of an account with signed webhooks (its
 * dashboard's choice; MD5 hash is its default): an MD5 of the parameters
 * and the secret, or an HMAC of the parameters keyed with it. */
enum tc_vonage_sig { TC_VSIG_MD5HASH, TC_VSIG_MD5, TC_VSIG_SHA1, TC_VSIG_SHA256,
		     TC_VSIG_SHA512 };
/* How a gateway's body template escapes {{x}}: as a JSON string, or as
 * application/x-www-form-urlencoded. */
enum tc_sms_content { TC_SMS_CONTENT_JSON, TC_SMS_CONTENT_FORM };

/* One header a generic gateway is sent. */
struct tc_sms_header {
	char *name;                /* an HTTP token, not one tocsind sets */
	char *value;               /* ${NAME}s expanded; no control character */
	bool secret;               /* Authorization, *token*, *key*, ...: came
				      from ${NAME}; never show or log it */
};

/* When a generic gateway's answer means it took the message. */
struct tc_sms_success {
	unsigned status[TC_LIMIT_SMS_STATUSES]; /* 100..599; n_status 0: any 2xx */
	size_t n_status;
	char *pointer;             /* JSON pointer ("/ok") into the answer, or NULL */
	json_t *equals;            /* what must be there (a scalar), or NULL: the
				      pointer must merely exist; owned */
};

struct tc_sms_provider {
	char *name;                /* 1..64 of A-Z a-z 0-9 _ - . (in URLs) */
	enum tc_sms_kind kind;
	char *base_url;            /* twilio, vonage: the API's root, the
				      default filled in; NULL for http */
	char *account_sid;         /* twilio */
	char *auth_token;          /* twilio; http: optional bearer token */
	char *messaging_service_sid; /* twilio: MG..., or NULL (then from) */
	char *api_key;             /* vonage */
	char *api_secret;          /* vonage */
	char *signature_secret;    /* vonage: verifies its signed inbound
				      messages; NULL: none taken */
	enum tc_vonage_sig signature_method; /* vonage, md5hash by default */
	char *from;                /* twilio (or messaging_service_sid),
				      vonage: E.164 or a sender name; NULL
				      for http */
	/* kind http: a generic gateway */
	char *url;                 /* where the request goes */
	enum tc_sms_method method; /* POST by default */
	struct tc_sms_header *headers;
	size_t n_headers;
	enum tc_sms_content content_type; /* json by default */
	char *body;                /* the request body, a Mustache template
				      rendered with {{to}} and {{text}} */
	struct tc_sms_success success;
	char *message_id;          /* JSON pointer to the message id, or NULL */
	struct tc_rate_cfg rate;   /* in segments; burst >= max_segments */
};

/* A provider's circuit breaker: after failures in a row, the provider is
 * skipped for cooldown. */
struct tc_breaker_cfg {
	unsigned failures;         /* 1..1000, default 5 */
	uint64_t cooldown_ms;      /* default 30s */
};

struct tc_sms_cfg {
	bool enabled;
	unsigned max_segments;     /* 1..10 */
	enum tc_overflow overflow;
	char default_region[3];    /* ISO 3166 code ("US") for numbers written
				      without +country; "" when absent */
	unsigned max_per_job;      /* segments of one job: 1..10000000,
				      default 100000 */
	struct tc_allow *allow;    /* where generic gateways may be reached;
				      default: public */
	size_t n_allow;
	struct tc_breaker_cfg breaker;
	uint64_t connect_timeout_ms; /* of each provider request, default 3s */
	uint64_t timeout_ms;       /* ... in all, default 10s */
	char *ca_file;             /* PEM CAs the providers' TLS certificates
				      must chain to instead of the system's,
				      or NULL */
	struct tc_sms_provider *providers; /* in failover order */
	size_t n_providers;
	struct tc_retry_cfg retry;
};

struct tc_group {
	char *name;
	struct tc_member *members; /* inline members */
	size_t n_members;
	char *roster;              /* absolute path of the CSV roster, or NULL */
	unsigned channels;         /* TC_CH_BIT mask; TC_CH_ALL when absent */
};

/* A named escalation policy (escalations: NAME: {...}): when nothing was
 * acknowledged after after_ms, re-send to each member's next channel of
 * channels, or to the next of groups, for up to rounds rounds. */
struct tc_escalation {
	char *name;                /* 1..64 of A-Z a-z 0-9 _ - . */
	uint64_t after_ms;         /* without acknowledgement this long */
	unsigned rounds;           /* 1..10, default 1 */
	enum tc_channel channels[TC_CH_COUNT]; /* configured ones, in order */
	size_t n_channels;
	char **groups;             /* configured group names, in order */
	size_t n_groups;
	unsigned stop_at;          /* percent of members confirmed at which
				      escalating stops: 1..100, default 100 */
};

struct tc_cfg {
	char *path;                /* the file it was loaded from (absolute) */
	char *dir;                 /* its folder (absolute): relative paths start here */
	char *redis_url;           /* redis://host:port/db or unix:///path */
	char *redis_username;      /* AUTH as this user, or NULL (the default user) */
	char *redis_password;      /* AUTH with this (from the environment), or NULL */
	char *prefix;              /* 1..64 of [A-Za-z0-9_.:-] */
	char *consumer;
	unsigned in_flight;        /* 1..1000000 */
	uint64_t claim_idle_ms;
	uint64_t shutdown_grace_ms;
	uint64_t retention_ms;     /* a finished job's keys expire this long
				      after done: 1s..400d, default 30d */
	char *listen;              /* "host:port", NULL when absent (tocsind
				    * then listens on 127.0.0.1:8725) */
	char *public_url;          /* NULL when absent */
	char *ack_secret;          /* NULL when absent */
	char *templates;           /* absolute folder */
	struct tc_webhook_cfg webhook;
	struct tc_email_cfg email;
	struct tc_sms_cfg sms;
	struct tc_group *groups;
	size_t n_groups;
	struct tc_escalation *escalations;
	size_t n_escalations;
	char *escalation[TC_SEV_COUNT]; /* dispatcher.escalation: the policy
					   of each severity, or NULL */
};

/* How strictly ${NAME} references are taken. */
enum tc_cfg_mode {
	TC_CFG_DAEMON, /* every reference must be set */
	TC_CFG_CLIENT, /* for the CLI: only redis.* must be set; others may be
			  unset and are left NULL (secrets are not needed);
			  rosters must exist but their rows are not read */
};

/* Loads and validates path completely (rosters included: every row is read
 * and checked). Returns 0 and a new configuration in *out (free with
 * tc_cfg_free), or TC_EINVAL with every error in ds (each as
 * "file:line: key.path: what is wrong"). Unset ${NAME} references are
 * errors naming NAME. Reads files: call it at start, from the CLI, or off
 * the loop thread. */
int tc_cfg_load(const char *path, enum tc_cfg_mode mode, struct tc_cfg **out,
		struct tc_diags *ds);
/* Accepts NULL and half-built configurations. */
void tc_cfg_free(struct tc_cfg *cfg);
/* The group named name, or NULL. */
const struct tc_group *tc_cfg_group(const struct tc_cfg *cfg, const char *name);
/* The region phone numbers written nationally are read in
 * (channels.sms.default_region), "" for none. */
const char *tc_cfg_phone_region(const struct tc_cfg *cfg);
/* The escalation policy named name, or NULL. */
const struct tc_escalation *tc_cfg_escalation(const struct tc_cfg *cfg,
					      const char *name);

/* ---- CSV rosters --------------------------------------------------------- */
/* A push parser for roster files (RFC 4180, header
 * name,role,email,phone,webhook,channels in any order, channels
 * space-separated). Feed it bytes as they are read; it calls back once per
 * record with a validated member, or with a diagnostic for a bad record.
 * It never reads files itself, so the daemon can feed it from uv_fs_read. */
struct tc_roster;

/* Called per data record. m is borrowed for the call (copy what you keep)
 * and NULL when the record is invalid; then d says why (source, line, the
 * column as path). Return 0 to go on, non-zero to stop: tc_roster_feed then
 * returns that value. */
typedef int (*tc_roster_cb)(void *data, const struct tc_member *m,
			    unsigned line, const struct tc_diag *d);

/* A new parser; source names the file in diagnostics; region is the
 * default region of phone numbers (channels.sms.default_region, "" for
 * none); phones (NULL: none; borrowed for the parser's life) remembers the
 * numbers normalised (see tc_member_check). NULL if out of memory. */
struct tc_roster *tc_roster_new(const char *source, const char *region,
				struct tc_phone_cache *phones, tc_roster_cb cb, void *data);
/* Parses n more bytes. Returns 0, the callback's non-zero value, or
 * TC_EINVAL / TC_ELIMIT for a fault that stops the file (bad header, record
 * over TC_LIMIT_ROSTER_ROW_BYTES, too many rows) with *d filled. */
int tc_roster_feed(struct tc_roster *r, const char *buf, size_t n,
		   struct tc_diag *d);
/* Ends the input (a last record without a newline). Same returns. */
int tc_roster_finish(struct tc_roster *r, struct tc_diag *d);
void tc_roster_free(struct tc_roster *r);

#endif
