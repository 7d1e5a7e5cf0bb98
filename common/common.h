/*
 * common: what tocsind and tocsin share. The limits on everything that comes
 * from outside, the growable buffer, diagnostics, logging, time, addresses,
 * the job model and the Redis key names.
 *
 * Nothing here touches the network or the event loop.
 */
#ifndef TC_COMMON_H
#define TC_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/phone.h"

/* The struct that embeds member at ptr (libuv handles, list links). */
#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

/* ---- limits: every quantity that comes from outside, in one place ------ */

#define TC_LIMIT_CONFIG_BYTES      (1u << 20)  /* the YAML configuration file */
#define TC_LIMIT_CONFIG_DEPTH      16          /* nesting of the YAML document */
#define TC_LIMIT_GROUPS            1024        /* groups in the configuration */
#define TC_LIMIT_INLINE_MEMBERS    10000       /* inline members of one group */
#define TC_LIMIT_ROSTER_ROW_BYTES  4096        /* one CSV roster record */
#define TC_LIMIT_ROSTER_ROWS       10000000u   /* records in one roster */
#define TC_LIMIT_ALLOW             256         /* entries of one allow list */
#define TC_LIMIT_PROVIDERS         16          /* SMS providers */
#define TC_LIMIT_SMS_HEADERS       32          /* headers of one SMS gateway */
#define TC_LIMIT_SMS_STATUSES      16          /* success statuses of one gateway */
#define TC_LIMIT_ESCALATIONS       64          /* escalation policies */
#define TC_LIMIT_JOB_BYTES         (64u << 10) /* one job's JSON */
#define TC_LIMIT_JOB_DEPTH         8           /* nesting of a job's JSON */
#define TC_LIMIT_JOB_ID            128         /* a job id's characters */
#define TC_LIMIT_JOB_GROUPS        64          /* groups named by one job */
#define TC_LIMIT_JOB_RECIPIENTS    1000        /* ad-hoc recipients in one job */
#define TC_LIMIT_JOB_VARS          256         /* members of a job's vars */
#define TC_LIMIT_JOB_RESPONSES     8           /* response options of one job */
#define TC_LIMIT_RESPONSE_LABEL    64          /* bytes of one response label */
#define TC_LIMIT_TEXT              1024        /* a name, role, incident, template name */
#define TC_LIMIT_ADDRESS           2048        /* an email, phone or webhook URL */
#define TC_LIMIT_BODY              (256u << 10) /* a rendered message body */
#define TC_LIMIT_EMAIL_MESSAGE     (1u << 20)  /* one email as sent: headers and
						* MIME body (text and HTML at
						* TC_LIMIT_BODY, base64) */
#define TC_LIMIT_SMTP_READ         (64u << 10) /* what one SMTP session may read
						* from its server, plus
						* TC_LIMIT_SMTP_READ_PER_MSG per
						* message it carries */
#define TC_LIMIT_SMTP_READ_PER_MSG 1024
#define TC_LIMIT_SMTP_REPLY        512         /* an SMTP server's reply text kept
						* for a record (then escaped and
						* cut to TC_LIMIT_OUTCOME) */
#define TC_LIMIT_RESPONSE_BODY     (16u << 10) /* kept of an HTTP response body */
#define TC_LIMIT_LOG_VALUE         200         /* an untrusted value in a log line */
#define TC_LIMIT_DIAGS             100         /* diagnostics kept per load */
#define TC_LIMIT_REASONS           2048        /* a dead letter's attempt reasons */
#define TC_RETRY_AFTER_MAX_MS      3600000     /* a peer's Retry-After is cut to an hour */
#define TC_LIMIT_HOSTS             65536       /* destination hosts whose rate and
						* Retry-After are tracked at once */
/* tocsind's HTTP listener (listener/): what one client may send and hold.
 * One request per connection; a request past a limit is answered with
 * the status named and the connection closed. */
#define TC_LIMIT_HTTP_CONNECTIONS  256         /* open connections; a new one past
						* it closes an older one (the oldest
						* still sending its request or done,
						* else the oldest) */
#define TC_LIMIT_HTTP_TARGET       2048        /* request target (path and query)
						* bytes: 414 past it */
#define TC_LIMIT_HTTP_HEADERS      64          /* header fields: 431 past it */
#define TC_LIMIT_HTTP_HEADER_BYTES (16u << 10) /* header names and values, summed:
						* 431 past it */
#define TC_LIMIT_RECEIPT_FIELDS    64          /* form fields of one provider
						* callback: 400 past it */
#define TC_LIMIT_HTTP_BODY         (64u << 10) /* request body bytes: 413 past it */
#define TC_LIMIT_HTTP_REQUEST_MS   10000       /* the whole request must arrive
						* within this of connecting: else
						* 408 and closed */
#define TC_LIMIT_HTTP_WRITE_MS     10000       /* the client must take the answer
						* within this: else closed */
#define TC_LIMIT_HTTP_RESPONSE     (4u << 20)  /* one response body (a scrape) */
/* What one Redis reply can make tocsind allocate, checked as hiredis reads
 * it, before each object is made (dispatcher/poison.c). A reply is counted
 * as TC_REDIS_OBJ_COST per object, plus a string's bytes and 8 bytes per
 * array element; a reply that crosses a limit drops the connection, and a
 * stream entry that did is dead-lettered without being read. */
#define TC_REDIS_OBJ_COST          64          /* one reply object, as counted */
#define TC_LIMIT_REDIS_ARRAY       1024        /* elements of one array: an entry's
						* field list is 2 per field; the
						* largest of tocsind's own is PLAN's
						* TC_PLAN_BATCH (128) */
#define TC_LIMIT_REDIS_BULK        (1u << 20)  /* one string, also while it arrives:
						* Redis' smallest proto-max-bulk-len */
#define TC_LIMIT_REDIS_ENTRY       (2 * TC_LIMIT_JOB_BYTES) /* one stream entry's
						* fields, as counted: a job at its
						* limit, and as much again */
#define TC_LIMIT_REDIS_REPLY       (16u << 20) /* one reply, as counted: holds intake's
						* largest read, 4 streams x 16 entries
						* at TC_LIMIT_REDIS_ENTRY (8 MiB), and
						* PLAN's 128 records at TC_LIMIT_RECORD */

/* ---- error codes ------------------------------------------------------ */
/* Functions that can fail return 0 (or a count) or a negative errno or one
 * of these. */
enum {
	TC_EINVAL = -1000, /* input rejected; a diagnostic says why */
	TC_ELIMIT = -1001, /* a named limit was crossed */
	TC_EREDIS = -1002, /* Redis failed or is unreachable */
};

/* ---- tc_buf: growable bytes with a maximum ----------------------------- */
/* Always NUL-terminated once anything was appended; data is NULL before. */
struct tc_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* len never exceeds max */
};

/* Prepares an empty buffer (caller's storage) that may grow to max bytes. */
void tc_buf_init(struct tc_buf *b, size_t max);
/* Frees what the buffer holds; it may be used again after tc_buf_init. */
void tc_buf_release(struct tc_buf *b);
/* Empties the buffer, keeping its memory. */
void tc_buf_reset(struct tc_buf *b);
/* Appends n bytes. Returns 0, -ENOMEM, or TC_ELIMIT past max (the buffer
 * is then unchanged). */
int tc_buf_add(struct tc_buf *b, const void *p, size_t n);
int tc_buf_adds(struct tc_buf *b, const char *s);
int tc_buf_addc(struct tc_buf *b, char c);
/* Writes v in decimal and a NUL at out (TC_UTOA_MAX bytes), without printf
 * (records and Redis commands are built per delivery); returns the digits'
 * length. */
#define TC_UTOA_MAX 21
size_t tc_utoa(uint64_t v, char *out);
/* Appends v in decimal; same returns as tc_buf_add. */
int tc_buf_add_uint(struct tc_buf *b, uint64_t v);
/* Writes the strings given, up to a NULL, one after the other into out
 * (n > 0 bytes), cut to fit and NUL-terminated, as snprintf's "%s%s..."
 * would, without printf: header lines and outcomes are written per
 * delivery. Returns the length written. */
size_t tc_join(char *out, size_t n, ...) __attribute__((sentinel));
/* Appends the n bytes at s escaped for HTML text and attribute values
 * (& < > " ' as entities): the one HTML escaping of templates and pages.
 * Same returns as tc_buf_add, but a failed call may have appended part. */
int tc_buf_add_html(struct tc_buf *b, const char *s, size_t n);
/* Appends formatted text; same returns as tc_buf_add. */
int tc_buf_printf(struct tc_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Returns the data and forgets it: the caller frees it with free(). Returns
 * an allocated empty string for an empty buffer, NULL if out of memory. */
char *tc_buf_take(struct tc_buf *b);

/* ---- metrics (metrics.c): a Prometheus text registry ------------------- */
/* A registry holds collectors; a scrape calls each, in the order added,
 * to write its families with the tc_mout_* functions. Collectors write
 * what they already hold in memory: a scrape never waits on Redis or the
 * network. Label values must come from bounded sets (channel, state,
 * severity and provider names, limit names), never from jobs or
 * addresses; they are escaped anyway. Channels add their own collector
 * (per-provider circuit state, tokens) with tc_metrics_add. */
struct tc_metrics;
struct tc_mout {
	struct tc_buf *b;
	int err;                  /* the first append that failed, or 0 */
};
typedef void (*tc_metrics_fn)(struct tc_mout *o, void *data);

/* A new empty registry; NULL when out of memory. Free with tc_metrics_free. */
struct tc_metrics *tc_metrics_new(void);
void tc_metrics_free(struct tc_metrics *m);
/* Adds collector fn with data (borrowed until removed or the registry is
 * freed). Returns 0 or -ENOMEM. */
int tc_metrics_add(struct tc_metrics *m, tc_metrics_fn fn, void *data);
/* Removes the collector added with fn and data, if any. */
void tc_metrics_remove(struct tc_metrics *m, tc_metrics_fn fn, void *data);
/* Writes every collector's families to b. Returns 0, or TC_ELIMIT /
 * -ENOMEM when b could not hold them (b then holds a cut exposition). */
int tc_metrics_write(const struct tc_metrics *m, struct tc_buf *b);

/* Starts a family: "# HELP name help" and "# TYPE name type" (counter,
 * gauge or histogram). */
void tc_mout_family(struct tc_mout *o, const char *name, const char *type,
		    const char *help);
/* One sample: name{labels} value. labels is NULL (none) or a NULL-ended
 * list of name, value, name, value ...; values are escaped. */
void tc_mout_sample(struct tc_mout *o, const char *name, const char *const *labels,
		    double value);

/* Decodes s[0..n), a name or value of an application/x-www-form-urlencoded
 * body ('+' is a space, %XX a byte), into out (max bytes, and a NUL).
 * Returns the length, TC_EINVAL for a bad escape or a NUL byte, or
 * TC_ELIMIT past max. */
long tc_form_decode(const char *s, size_t n, char *out, size_t max);

/* A family with one label: for each i < n, name{label="names[i]"}
 * values[i] (the counters kept by outcome, reason, ...). */
void tc_mout_by(struct tc_mout *o, const char *name, const char *type, const char *help,
		const char *label, const char *const *names, const uint64_t *values,
		unsigned n);

/* A latency histogram with fixed buckets (TC_HIST_BOUNDS, seconds). */
#define TC_HIST_BUCKETS 12
struct tc_hist {
	uint64_t bucket[TC_HIST_BUCKETS]; /* observations <= each bound */
	uint64_t count;
	double sum;
};
extern const double tc_hist_bounds[TC_HIST_BUCKETS];
void tc_hist_observe(struct tc_hist *h, double seconds);
/* Writes h's name_bucket (cumulative, with le="+Inf"), name_sum and
 * name_count samples with labels (as tc_mout_sample takes them). */
void tc_mout_hist(struct tc_mout *o, const char *name, const char *const *labels,
		  const struct tc_hist *h);

/* ---- diagnostics ------------------------------------------------------- */
/* One error that points at where it is: fixed storage, no allocation. */
struct tc_diag {
	char source[256]; /* file name, or "job", "roster.csv", ... */
	unsigned line;    /* 1-based; 0 when there is none */
	char path[256];   /* dotted key path: groups.oncall.members[2].phone */
	char msg[512];    /* lowercase, problem first, user values quoted */
};

/* Fills d. Any argument may be NULL or 0. Never fails (text is cut). */
void tc_diag_set(struct tc_diag *d, const char *source, unsigned line,
		 const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Formats d as "source:line: path: msg" (the parts present) into out. */
void tc_diag_format(const struct tc_diag *d, char *out, size_t n);

/* Writes len bytes of v into out (n bytes) as a diagnostic shows a value
 * inside '...': each byte of a character a terminal acts on
 * (tc_utf8_unsafe), of a quote, a backslash, or of what is not UTF-8 as
 * \xNN; cut after max bytes of v, between characters, with "...".
 * Returns out. */
const char *tc_diag_show(char *out, size_t n, const char *v, size_t len,
			 size_t max);
/* The same for text that quotes values itself (a library's error message):
 * quotes and backslashes stay as they are; cut only to fit n. */
const char *tc_diag_clean(char *out, size_t n, const char *v);

/* Many diagnostics, for loaders that report every error. */
struct tc_diags {
	struct tc_diag item[TC_LIMIT_DIAGS];
	size_t n;       /* kept */
	size_t dropped; /* past TC_LIMIT_DIAGS */
};
/* Adds one; past the limit only counts it. */
void tc_diags_add(struct tc_diags *ds, const char *source, unsigned line,
		  const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Writes each as one line to f (a FILE *), then "... and N more" if any
 * were dropped. */
void tc_diags_print(const struct tc_diags *ds, void *f);

/* ---- logging ------------------------------------------------------------ */
/* One line per event on stderr: "ts level=... module=... <text>". The text
 * is key=value pairs with stable keys. Untrusted values go through
 * tc_log_quote first. The logger is the one mutable global. */
enum tc_log_level { TC_LOG_DEBUG, TC_LOG_INFO, TC_LOG_WARN, TC_LOG_ERROR };
void tc_log_set_level(enum tc_log_level level);
void tc_log(enum tc_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Writes v into out (n bytes, at least 8) quoted and escaped, control
 * characters as \xNN, cut at TC_LIMIT_LOG_VALUE with "...". Returns out. */
const char *tc_log_quote(char *out, size_t n, const char *v);

/* ---- time --------------------------------------------------------------- */
/* The last millisecond RFC 3339 can write, 9999-12-31T23:59:59.999Z: the
 * most a time read from outside may say. */
#define TC_MAX_MS 253402300799999LL
/* Wall clock, milliseconds since the Unix epoch. */
int64_t tc_time_now_ms(void);
/* Formats ms as RFC 3339 UTC with milliseconds into out (at least 32). */
void tc_time_format(int64_t ms, char *out, size_t n);
/* Parses RFC 3339 ("2026-11-25T10:00:00Z", "...:00.5+01:00"). Returns 0 and
 * writes *ms, or TC_EINVAL. */
int tc_time_parse(const char *s, int64_t *ms);
/* Parses a duration "250ms", "10s", "5m", "2h", "30d": digits and one unit,
 * a day being 24 hours. Returns 0 and writes *ms, or TC_EINVAL. */
int tc_duration_parse(const char *s, uint64_t *ms);
/* Parses an HTTP date (RFC 9110: "Sun, 06 Nov 1994 08:49:37 GMT", and the
 * obsolete "Sunday, 06-Nov-94 08:49:37 GMT" and "Sun Nov  6 08:49:37
 * 1994" that recipients must accept), exactly n bytes of s. Returns 0 and
 * writes *ms (since the epoch), or TC_EINVAL. */
int tc_http_date_parse(const char *s, size_t n, int64_t *ms);
/* Reads a Retry-After value (n bytes at v; spaces and tabs around it
 * ignored): delay-seconds, or an HTTP date compared with now_ms. Returns 0
 * and writes *ms, a wait of 0 to TC_RETRY_AFTER_MAX_MS: a longer one
 * (however many digits) is cut to it, a date past is 0. TC_EINVAL when it
 * is neither (a sign, a fraction, a bad date): the header is then ignored. */
int tc_http_retry_after(const char *v, size_t n, int64_t now_ms, int64_t *ms);

/* ---- numbers from outside (parse.c) ------------------------------------------ */
/* Every integer that comes from outside (HTTP headers, Redis replies,
 * configuration, entry ids) is read with these: decimal digits only (no
 * sign, no spaces, no "0x"; leading zeros are fine), exactly n bytes of s.
 * Returns 0 and writes *out; TC_EINVAL when s is empty or holds anything
 * but digits; TC_ELIMIT when the digits say more than max (however many
 * there are: 2^64 and beyond included). *out is written only on success. */
int tc_parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out);
/* The same for a NUL-terminated s. */
int tc_parse_uints(const char *s, uint64_t max, uint64_t *out);
/* A decimal integer with an optional leading '-', in min..max: the same
 * returns, TC_ELIMIT for a value outside min..max. */
int tc_parse_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out);

/* ---- token buckets (bucket.c) ------------------------------------------- */
/* At most burst + per_second * t units in any window of length t. A rate
 * of 0 is no limit. Times are ms on any one clock. */
struct tc_bucket {
	double per_ms;     /* units added per ms; 0: unlimited */
	double burst;      /* the most it holds */
	double tokens;     /* held at last_ms */
	int64_t last_ms;   /* may be ahead of now: reserved up to there */
};

/* A full bucket (burst 0: per_second rounded up). */
void tc_bucket_init(struct tc_bucket *b, double per_second, unsigned burst,
		    int64_t now);
/* Takes a new rate (reload), keeping what was taken: the tokens held, cut
 * to the new burst, and time reserved ahead. */
void tc_bucket_set(struct tc_bucket *b, double per_second, unsigned burst,
		   int64_t now);
/* The tokens held at now (INFINITY when unlimited). */
double tc_bucket_tokens(const struct tc_bucket *b, int64_t now);
/* The units reserved for times after now that b has not gained by now:
 * what the sends held for its rate wait for (0 when nothing is reserved
 * ahead, or unlimited). */
double tc_bucket_owed(const struct tc_bucket *b, int64_t now);
/* Reserves units: returns the first time >= now at which the bucket holds
 * them (now when it does already) and takes them as of that time. More
 * units than burst take a full bucket, and the bucket then stays empty
 * while the units past burst refill: the rate holds for them too. A wait
 * is cut at about 139 years (a rate of almost 0). */
int64_t tc_bucket_reserve(struct tc_bucket *b, unsigned units, int64_t now);

/* ---- channels and severities -------------------------------------------- */
enum tc_channel { TC_CH_EMAIL, TC_CH_SMS, TC_CH_WEBHOOK, TC_CH_COUNT };
#define TC_CH_BIT(c) (1u << (c))
#define TC_CH_ALL    ((1u << TC_CH_COUNT) - 1)

/* "email", "sms", "webhook". */
const char *tc_channel_name(enum tc_channel c);
/* Returns the channel, or -1 for an unknown name. */
int tc_channel_parse(const char *s);

/* In the order of work: critical first. */
enum tc_severity { TC_SEV_CRITICAL, TC_SEV_HIGH, TC_SEV_NORMAL, TC_SEV_LOW,
		   TC_SEV_COUNT };
const char *tc_severity_name(enum tc_severity s);
int tc_severity_parse(const char *s); /* -1 when unknown */

/* ---- UTF-8 ------------------------------------------------------------------ */
/* Decodes the character at s (n bytes left). Returns its length (1 to 4)
 * and writes *cp, or 0 when the bytes there are not valid UTF-8 (overlong
 * forms, surrogates, past U+10FFFF, cut short). */
size_t tc_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Whether character cp must not reach a terminal as it is: a C0 control,
 * DEL, a C1 control (U+0080..U+009F), or a bidi control (embeddings and
 * overrides U+202A..U+202E, isolates U+2066..U+2069, marks U+200E, U+200F,
 * U+061C), which would make text show other than it reads. */
bool tc_utf8_unsafe(uint32_t cp);

/* ---- JSON strings (json.c) --------------------------------------------------- */
/* Appends s as a JSON string literal (quoted; quotes, backslashes and
 * control characters escaped; invalid UTF-8 as U+FFFD), so the result is
 * valid JSON whatever s holds. Returns 0, or TC_ELIMIT / -ENOMEM with b as
 * it was. */
int tc_json_quote(struct tc_buf *b, const char *s);
/* The same, keeping at most max bytes of content as written, before
 * escaping (a replaced byte counts as the 3 of U+FFFD), cut at a
 * character boundary. */
int tc_json_quote_cut(struct tc_buf *b, const char *s, size_t max);

/* The integer member key of object o, brought into min..max; min when it
 * is absent or not an integer (for records read back: never trusted). */
int64_t tc_json_int(const json_t *o, const char *key, int64_t min, int64_t max);

/* ---- addresses ---------------------------------------------------------- */
/* Each returns 0, or TC_EINVAL with a message in why (n bytes) such as
 * "not an email address 'ada@'". */
int tc_addr_email_check(const char *s, char *why, size_t n);
#define TC_E164_MAX        16   /* "+" and at most 15 digits */
#define TC_PHONE_MAX_INPUT 64   /* bytes of a phone number as written (a
				 * longer one is refused before parsing) */

/* Normalizes a phone number to E.164 with libphonenumber (common/phone.cc):
 * "+44 7911 123456" -> "+447911123456", or a national spelling
 * "(415) 555-0100" in region (ISO 3166, "US"; NULL or "": none, then the
 * number needs its +country). Accepted when libphonenumber finds it
 * possible for its country. Returns 0 with out (at least TC_E164_MAX + 1
 * bytes) and *kind; TC_EINVAL with why such as "not a possible phone
 * number \"12\": too short"; -ENOMEM. */
int tc_addr_phone_normalize(const char *s, const char *region, char *out,
			    enum tc_phone_kind *kind, char *why, size_t n);
/* An absolute http:// or https:// URL with a host. */
int tc_addr_url_check(const char *s, char *why, size_t n);

/* ---- normalised phone numbers, remembered (phone_cache.c) ----------------- */
#define TC_PHONE_CACHE_ENTRIES 65536 /* answers kept (64 bytes each: 4 MiB) */
#define TC_PHONE_CACHE_KEY     32    /* bytes of a number as written, at most,
				      * for it to be kept */
/* A bounded memo of tc_addr_phone_normalize (one owner, one thread). */
struct tc_phone_cache;

/* NULL when out of memory. */
struct tc_phone_cache *tc_phone_cache_new(void);
/* Accepts NULL. */
void tc_phone_cache_free(struct tc_phone_cache *c);
/* tc_addr_phone_normalize, answered from c when it was asked the same
 * (s, region) before and succeeded; c NULL: no cache. Same returns. */
int tc_phone_cache_normalize(struct tc_phone_cache *c, const char *s, const char *region,
			     char *out, enum tc_phone_kind *kind, char *why, size_t n);

/* ---- allow lists (allow.c) -------------------------------------------------- */
/* One entry of an allow list (channels.webhook.allow, channels.sms.allow):
 * the word public, a host name, or an address range; any of them limited
 * to one port or not. */
struct tc_allow {
	char *host;                /* a lowercase name, or "*.name" for any name
				      below name; NULL for the other kinds */
	bool public;               /* the word public: any globally routable
				      address (tc_allow_addr_public) */
	int family;                /* AF_INET or AF_INET6, for a range */
	unsigned char addr[16];    /* network byte order */
	unsigned prefix;           /* prefix length in bits */
	unsigned port;             /* 1..65535, or 0 for any port */
};
struct sockaddr;

/* Reads one entry: "public", "10.0.0.0/8", "192.0.2.7", "2001:db8::/32",
 * "::1", "hooks.example.org", "*.example.org", each optionally followed by
 * ":PORT"; an IPv6 address or range takes a port only in brackets
 * ("[::1]:9000", "[fd00::/8]:443"). An IPv4-mapped range
 * (::ffff:a.b.c.d/96 and longer) is stored as the IPv4 range it is. An
 * IPv4 address written other than as four decimal numbers ("127.1",
 * "0x7f000001", "2130706433", "0177.0.0.1") is refused, never taken for a
 * name. Returns 0 and fills *a (a->host is new: the caller frees it),
 * -ENOMEM, or TC_EINVAL with why (n >= 1 bytes) saying more, or empty when
 * s is simply none of these. why never contains s. */
int tc_allow_parse(const char *s, struct tc_allow *a, char *why, size_t n);
/* Whether sa (AF_INET or AF_INET6) is globally routable: not loopback,
 * private (RFC 1918), shared (100.64/10), unique-local (fc00::/7),
 * link-local (169.254/16, fe80::/10), multicast, reserved, documentation,
 * benchmarking or unspecified, nor outside IPv6's global unicast 2000::/3.
 * IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
 * addresses are judged by the IPv4 address they carry. */
bool tc_allow_addr_public(const struct sockaddr *sa);
/* Whether a connection to sa (with its port) is allowed by the n entries
 * of a: an address or range holding it, public and a globally routable sa,
 * or a name covering host (the URL's host name; NULL when the URL named an
 * address) while sa is neither link-local nor unspecified. An entry with a
 * port matches that port only. An IPv4-mapped sa counts as IPv4. */
/* A DNS name: labels of letters, digits and '-', at most 253 bytes, not
 * all-numeric at the end (so "10.0.0.300" is not taken for a name). */
bool tc_host_name_ok(const char *s, size_t len);
bool tc_allow_match(const struct tc_allow *a, size_t n, const char *host,
		    const struct sockaddr *sa);
/* Whether a name entry of a covers host (case-insensitive, a trailing dot
 * ignored) for port (0: any port). */
bool tc_allow_host_listed(const struct tc_allow *a, size_t n, const char *host,
			  unsigned port);

/* ---- members ------------------------------------------------------------ */
/* A stakeholder: a group member, a roster row or a job's recipient. All
 * strings are owned (NULL when absent); phone is normalized E.164. */
struct tc_member {
	char *name;
	char *role;
	char *email;
	char *phone;
	char *webhook;
	unsigned channels; /* TC_CH_BIT mask; 0: the group's (or the job's) */
	bool landline;     /* phone is a fixed line (libphonenumber): no SMS
			    * goes to it (tc_member_address) */
};

/* Validates one member from any source and normalizes its phone to
 * E.164 (a national spelling in region, channels.sms.default_region; NULL
 * or "": none). Adds one diagnostic per problem (with path prefix `path`,
 * e.g. "groups.oncall.members[2]") to ds; returns 0 or TC_EINVAL. Checks:
 * name present, every address valid, each listed channel has its address,
 * at least one address, and no fixed-line phone for a member whose own
 * channels list sms (one without channels of its own keeps the number,
 * marked landline: it is never texted). phones (NULL: none) remembers the
 * numbers normalised, for a caller that reads the same ones again. */
int tc_member_check(struct tc_member *m, const char *region,
		    struct tc_phone_cache *phones, const char *source, unsigned line,
		    const char *path, struct tc_diags *ds);
/* The address m has for channel c, or NULL (a fixed-line phone is none
 * for sms). */
const char *tc_member_address(const struct tc_member *m, enum tc_channel c);
/* The TC_CH_BIT mask of channels m gets a message on: its own channels
 * (else group_ch, the group's or TC_CH_ALL), of those the job's job_ch,
 * and of those the ones m has an address for. The planner's rule, and the
 * one acceptance and the SMS budget count with. */
unsigned tc_member_channels(const struct tc_member *m, unsigned group_ch,
			    unsigned job_ch);
/* Deep copy; NULL when out of memory. */
struct tc_member *tc_member_dup(const struct tc_member *m);
/* Frees the strings (caller's storage). */
void tc_member_release(struct tc_member *m);
/* Fills a member from a JSON object (a job recipient). Unknown members,
 * wrong types and over-long values are errors naming path.field. The result
 * still needs tc_member_check. */
int tc_member_from_json(json_t *o, struct tc_member *m, const char *path,
			struct tc_diag *d);

/* ---- the job ------------------------------------------------------------- */
struct tc_job {
	char id[TC_LIMIT_JOB_ID + 1];
	char entry[64];             /* the stream entry id it came in */
	enum tc_severity severity;  /* the stream it came in */
	char *template;
	char **groups;
	size_t n_groups;
	struct tc_member *recipients;
	size_t n_recipients;
	unsigned channels;          /* TC_CH_BIT mask; TC_CH_ALL when absent */
	char *incident;             /* NULL when absent */
	json_t *vars;               /* owned reference; an empty object when absent */
	json_t *responses;          /* owned: an array of 1 to TC_LIMIT_JOB_RESPONSES
				     * distinct labels; NULL when absent */
	int64_t send_at_ms;         /* 0 when absent */
	int64_t expires_at_ms;      /* 0 when absent */
	char *escalation;           /* the policy named, NULL when absent */
};

/* The round of an escalation round's id "<root>.esc.<n>" (n from 1 to 99,
 * no leading zero), with root copied to root (n bytes); 0 (root untouched)
 * for any other id. */
int tc_job_round(const char *id, char *root, size_t n);
/* The most rounds a policy has (escalations.NAME.rounds). */
#define TC_ESC_ROUNDS_MAX 10

/* Parses and validates one job as DESIGN.md defines it (the structure, not
 * whether its groups and template exist: that needs the configuration).
 * json/len is the stream entry's `job` field, stream the severity of the
 * stream it came from, entry the stream entry id (the job id is
 * "<severity>-<entry>" when the job has none), region the default region
 * of its recipients' phone numbers (channels.sms.default_region, "" or NULL:
 * none). Returns 0 and fills *job (release with tc_job_release), or
 * TC_EINVAL / TC_ELIMIT with d naming the field. */
int tc_job_parse(const char *json, size_t len, enum tc_severity stream,
		 const char *entry, const char *region, struct tc_job *job,
		 struct tc_diag *d);
void tc_job_release(struct tc_job *job);
/* The id of a job written without one: "<severity>-<entry id>" (entry
 * ids are unique per stream only). Writes it into out (n bytes) and
 * returns 0, or TC_EINVAL when entry is empty or the id would not be valid. */
int tc_job_default_id(enum tc_severity stream, const char *entry, char *out,
		      size_t n);
/* Whether s is a valid job id (1..128 of A-Z a-z 0-9 . _ : -). */
bool tc_job_id_valid(const char *s);

/* ---- deliveries ------------------------------------------------------------ */
/* Writes the first hex_len (at most 64) lowercase hex characters of
 * SHA-256 of the n bytes at p, and a NUL, into out: the one hash behind
 * delivery ids, member keys and e-mail thread roots. */
void tc_sha256_hex(const void *p, size_t n, size_t hex_len, char *out);

#define TC_DELIVERY_ID_LEN 32
/* The delivery id of (job, channel, address): 32 lowercase hex characters of
 * SHA-256("tocsin-delivery" NUL job NUL channel NUL address). Deterministic, so
 * a member listed twice gets one delivery per channel, and a restart knows
 * what it planned. out has TC_DELIVERY_ID_LEN + 1 bytes. */
void tc_delivery_id(const char *job_id, enum tc_channel c, const char *address,
		    char *out);

/* ---- acknowledgement and receipt tokens (token.c) ------------------------ */
/* The longest token: base64url of the longest job id, NUL and a delivery
 * id (215 characters), ".", base64url of a SHA-256 HMAC (43). A longer
 * one is refused unread. */
#define TC_TOKEN_MAX 259
/* Writes the token of (job_id, delivery_id) signed with secret into out
 * (n >= TC_TOKEN_MAX + 1 bytes). Returns its length, TC_EINVAL for an
 * invalid job id or delivery id, TC_ELIMIT when out is too small, or
 * -ENOMEM. */
int tc_token_make(const char *secret, const char *job_id, const char *delivery_id,
		  char *out, size_t n);
/* Verifies the len bytes of token against secret (the HMAC compared in
 * constant time) before anything else is read from it. Returns 0 with
 * job_id (TC_LIMIT_JOB_ID + 1 bytes) and delivery_id (TC_DELIVERY_ID_LEN
 * + 1) filled, or TC_EINVAL: too long, not two base64url parts, a wrong
 * signature, or not naming a valid job id and delivery id. */
int tc_token_verify(const char *secret, const char *token, size_t len,
		    char *job_id, char *delivery_id);

/* Who a delivery is for, across channels: 32 lowercase hex characters of
 * SHA-256("tocsin-member" NUL name NUL email NUL phone NUL x), x being the
 * delivery's address for a member with neither email nor phone (a webhook
 * member) and empty otherwise. A member acknowledges once per job
 * whatever the channel: the acknowledgement is kept under this key. The
 * group is not part of it: a person listed in two groups is one member.
 * out has TC_MEMBER_KEY_LEN + 1 bytes. */
#define TC_MEMBER_KEY_LEN 32
void tc_member_key(const char *name, const char *email, const char *phone,
		   const char *address, char *out);

/* Delivery states, as written in Redis. */
enum tc_dstate {
	TC_DS_QUEUED, TC_DS_SENDING, TC_DS_SENT, TC_DS_RETRYING, TC_DS_DELIVERED,
	TC_DS_UNDELIVERED, TC_DS_ACKNOWLEDGED, TC_DS_FAILED, TC_DS_EXPIRED,
	TC_DS_CANCELLED, TC_DS_COUNT
};
const char *tc_dstate_name(enum tc_dstate s);
int tc_dstate_parse(const char *s); /* -1 when unknown */
/* Whether nothing more will be attempted in this state. */
bool tc_dstate_final(enum tc_dstate s);

/* ---- Redis key names ------------------------------------------------------- */
/* Each writes the key into out (n bytes) and returns 0, or TC_ELIMIT when it
 * does not fit. prefix at most 64 bytes (the configuration checks). */
int tc_key_jobs(char *out, size_t n, const char *prefix, enum tc_severity s);
int tc_key_job(char *out, size_t n, const char *prefix, const char *job_id);
int tc_key_deliveries(char *out, size_t n, const char *prefix, const char *job_id);
int tc_key_job_events(char *out, size_t n, const char *prefix, const char *job_id);
/* <prefix>:job:{<id>}:acks: one field per member who acknowledged (by
 * member_key), the value JSON {delivery, channel, response, at}: a member
 * acknowledges once per job whatever the channel. Expires with the job's
 * other keys. */
int tc_key_acks(char *out, size_t n, const char *prefix, const char *job_id);
/* <prefix>:tombstone:{<id>}: what is left of a job once its keys expired
 * (dispatcher.retention after it finished): state, done_at, expired_at and
 * planned, kept as long again, so that `tocsin status` can say so and the
 * job id is not accepted again meanwhile. */
int tc_key_tombstone(char *out, size_t n, const char *prefix, const char *job_id);
/* <prefix>:phone:{<E.164>}: "<job id>/<delivery id>" of the latest SMS
 * sent to that number, so that a reply acknowledges it; expires
 * dispatcher.retention after that send. */
int tc_key_phone(char *out, size_t n, const char *prefix, const char *e164);
int tc_key_retry(char *out, size_t n, const char *prefix);
int tc_key_scheduled(char *out, size_t n, const char *prefix);
int tc_key_dead(char *out, size_t n, const char *prefix);
int tc_key_events(char *out, size_t n, const char *prefix);
#define TC_KEY_MAX 256

/* ---- the Redis record contract (scripts.c, record.c) ---------------------- */
/* The Lua scripts that write job records, delivery records and audit
 * trails (each documents its KEYS and ARGV): tocsind's ACCEPT, PLAN, MOVE,
 * FINISH, DEAD, REFUSE (a job over a budget) and SWEEP (entries too large
 * to read); the tool's CANCEL
 * and REQUEUE (dead retry). */
extern const char tc_lua_accept[], tc_lua_plan[], tc_lua_move[],
	tc_lua_finish[], tc_lua_dead[], tc_lua_cancel[], tc_lua_requeue[],
	tc_lua_wake[], tc_lua_settle[], tc_lua_sweep[], tc_lua_ack[],
	tc_lua_ack_view[], tc_lua_receipt[], tc_lua_reply[], tc_lua_phone[], tc_lua_refuse[];

/* FINISH's and CANCEL's last three arguments, for a job finished at now_ms
 * whose keys are kept retention_ms: the keys' time to live, the
 * tombstone's (twice that) and when the keys expire (RFC 3339). */
struct tc_retain {
	char ttl[24], tomb_ttl[24], expired_at[40];
};
void tc_retain_args(struct tc_retain *out, uint64_t retention_ms, int64_t now_ms);

#define TC_LIMIT_OUTCOME   256         /* a delivery's last outcome in its record */
#define TC_LIMIT_PROVIDER  64          /* a provider's name in a record */
#define TC_LIMIT_PROVIDER_ID 128       /* a provider's message id in a record */
#define TC_LIMIT_TRIED     4096        /* a record's `tried` list, in bytes */
#define TC_LIMIT_RECORD    (96u << 10) /* one delivery record's JSON: holds
					* every field at its limit, escaped */

/* A delivery record, as stored in <prefix>:job:{<id>}:deliveries. Strings
 * are borrowed; NULL counts as "". */
struct tc_record {
	enum tc_channel channel;
	const char *address, *group, *member;
	const char *role, *email, *phone; /* the member's, for its templates;
					   * written when not empty */
	enum tc_dstate state;
	unsigned attempts;
	const char *last_outcome, *provider, *provider_message_id;
	const char *updated_at;     /* RFC 3339 */
	unsigned pass;              /* the job's pass that wrote it */
	uint64_t plan;              /* the PLAN call that planned it */
	int64_t next_attempt_ms;    /* when retrying; written only then */
	const char *reasons;        /* every failed attempt's outcome, while
				     * retrying: a parked delivery leaves memory
				     * and comes back from its record */
	const char *tried;          /* each attempt's {"provider","outcome"},
				     * as JSON array items, at most
				     * TC_LIMIT_TRIED bytes; written when not
				     * empty */
	unsigned segments;          /* an SMS text's segments; written when > 0 */
	const char *encoding;       /* ... and its encoding, with segments */
	const char *member_key;     /* tc_member_key of the above, when the
				     * caller keeps it; NULL: computed */
};

/* Appends rec to b as one JSON object, valid whatever the strings hold:
 * each string is escaped, invalid UTF-8 replaced, and cut at a character
 * boundary to its limit (address, email and phone TC_LIMIT_ADDRESS; group,
 * member and role TC_LIMIT_TEXT; reasons TC_LIMIT_REASONS; outcome TC_LIMIT_OUTCOME, provider TC_LIMIT_PROVIDER, its
 * message id TC_LIMIT_PROVIDER_ID), so a record never passes
 * TC_LIMIT_RECORD. The record also gets member_key (rec->member_key, or
 * tc_member_key of the member, email, phone and address). Returns 0, or -ENOMEM / TC_ELIMIT
 * with b as it was. */
int tc_record_json(struct tc_buf *b, const struct tc_record *rec);

/* A delivery moved on by its id alone, outside any running job (a
 * receipt, an acknowledgement): the SETTLE script's call. */
struct tc_settle {
	const char *prefix, *job_id, *delivery_id;
	enum tc_dstate to;
	unsigned from;              /* TC_DS bits (1u << state) it may come from;
				     * only states tocsind no longer holds */
	const char *outcome;
	const char *provider, *provider_message_id; /* NULL: keep the record's */
	const char *now;            /* RFC 3339 */
};
/* Fills argv/lens (at least TC_SETTLE_ARGS each, with the key and state
 * strings in keys, at least 3 * TC_KEY_MAX + 128 bytes) for the call.
 * Returns the argument count, or TC_ELIMIT when a key does not fit. */
#define TC_SETTLE_ARGS 13
int tc_settle_args(const struct tc_settle *s, char *keys, size_t n,
		   const char **argv, size_t *lens);
#define TC_GROUP_NAME "tocsind"   /* the consumer group */

/* ---- reaching Redis (redis.c) ---------------------------------------------- */
/* What redis.url names: redis://host[:port][/db] (host a name, an IPv4
 * address or a [bracketed] IPv6 one) or unix:///path. */
struct tc_redis_where {
	char host[256];   /* the host (IPv6 without brackets), or the socket's path
			   * (at most 107 bytes, as sun_path holds) */
	unsigned port;    /* 0 for a unix socket */
	unsigned db;      /* 0..65535 */
};
/* Reads url into w. Returns 0, or TC_EINVAL when it is not such a URL
 * (credentials in it included). */
int tc_redis_url_parse(const char *url, struct tc_redis_where *w);
struct redisContext;
/* A blocking connection to url (timeout_s for connecting and for each
 * reply), logged in with AUTH when password is set (as username when that
 * is set too) and on the URL's database. NULL with why filled (never with
 * the password) when that fails. */
struct redisContext *tc_redis_connect(const char *url, const char *username,
				      const char *password, unsigned timeout_s,
				      char *why, size_t n);

#endif
