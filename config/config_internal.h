/*
 * config's internal header: shared between config/'s own files, never
 * included from another module.
 *
 * The loader is in layers: yaml.c reads the file and walks its nodes
 * (lines, key paths, ${NAME} expansion, diagnostics); values.c turns
 * scalars into typed values and checks their shapes; each cfg_*.c file
 * holds the rules of one section; config.c ties them together.
 */
#ifndef TC_CONFIG_INTERNAL_H
#define TC_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libfyaml.h>

#include "config/config.h"

#define TC_PATH         sizeof(((struct tc_diag *)0)->path)
#define TC_MSG          sizeof(((struct tc_diag *)0)->msg)
#define TC_YMAP_FIELDS  24          /* the most keys one mapping knows */
#define TC_SHOW_CHARS   80          /* of a user value quoted in a message */
#define TC_SHOW_BYTES   (TC_SHOW_CHARS * 4 + 8)
#define TC_NAME_CHARS   64          /* a group, provider or policy name */
#define TC_DAY_MS       (24ull * 3600 * 1000)
#define TC_DURATION_MAX TC_DAY_MS          /* any duration but retention */
#define TC_RETENTION_MAX (400 * TC_DAY_MS) /* dispatcher.retention */

/* What a value getter found. */
enum {
	TC_V_BAD = -1,  /* wrong; reported */
	TC_V_NONE = 0,  /* the key is absent */
	TC_V_OK = 1,    /* *out was written */
	TC_V_UNSET = 2, /* a ${NAME} is unset and may be (TC_CFG_CLIENT) */
};

/* Flags of a value. */
#define TC_F_REQUIRED 1u /* missing is an error */
#define TC_F_SECRET   2u /* never shown; must come from ${NAME} */

/* One known key of a mapping, and what the file has for it. */
struct tc_yfield {
	const char *name;
	struct fy_node *val;     /* when present; may be NULL for no value */
	unsigned line;           /* the key's line */
	bool present;
};

/* One load in progress. */
struct tc_load {
	struct tc_cfg *cfg;
	struct tc_diags *ds;
	struct tc_diags *local;  /* tc_member_check's, before lines are fixed */
	const char *src;         /* the path as given: diagnostics name it */
	char *shown_dir;         /* src's folder as given: "" or ending in '/' */
	enum tc_cfg_mode mode;
	bool in_redis;           /* unset references are errors in any mode */
	bool oom;
	unsigned enabled;        /* TC_CH_BIT of each channel configured */
	struct tc_yfield by_severity; /* dispatcher.escalation, read once the
					 policies are known */
};

/* A mapping read against the keys it may have. */
struct tc_ymap {
	char path[TC_PATH];
	unsigned line;           /* where it is introduced */
	struct tc_yfield f[TC_YMAP_FIELDS];
	size_t n;
};

/* ---- yaml.c: diagnostics ---------------------------------------------------- */
/* Adds "src:line: path: message" to the load's diagnostics (src: the
 * configuration file). */
void tc_yaml_report(struct tc_load *ld, unsigned line, const char *path,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void tc_yaml_report_at(struct tc_load *ld, const char *src, unsigned line,
		       const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Writes v (len bytes) as it may appear inside '...' in a message: control
 * characters and quotes as \xNN, cut at TC_SHOW_CHARS with "...". out has
 * TC_SHOW_BYTES. Returns out. */
const char *tc_yaml_show(char *out, size_t n, const char *v, size_t len);
const char *tc_yaml_shows(char *out, size_t n, const char *v);
/* Key paths, cut to fit a tc_diag's path. */
void tc_yaml_path_fmt(char *out, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tc_yaml_path_key(char *out, size_t n, const char *parent, const char *key);
void tc_yaml_path_index(char *out, size_t n, const char *parent, size_t i);
/* strdup that marks the load out of memory on failure. */
char *tc_yaml_strdup(struct tc_load *ld, const char *s);
/* Reports a bad value of key name of m, on its value's line. */
void tc_yaml_bad_value(struct tc_load *ld, struct tc_ymap *m, const char *name,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* strerror_r into buf. */
const char *tc_yaml_errtext(int e, char *buf, size_t n);

/* ---- yaml.c: the file and its nodes ------------------------------------------ */
/* Reads path (at most TC_LIMIT_CONFIG_BYTES) into a new buffer. Returns 0,
 * TC_EINVAL (reported) or -ENOMEM. */
int tc_yaml_read_file(struct tc_load *ld, const char *path, char **out, size_t *len);
/* The one YAML document in buf, and the parser and diagnostics that own it
 * (destroy the document with fy_parse_document_destroy, then the parser
 * and diag). NULL, reported, when it is not exactly one valid document. */
struct fy_document *tc_yaml_parse(struct tc_load *ld, const char *buf, size_t len,
				  struct fy_parser **fypp, struct fy_diag **diagp);
/* The 1-based line node starts on, else fallback. */
unsigned tc_yaml_line(struct fy_node *n, unsigned fallback);
/* Whether n is YAML's null. */
bool tc_yaml_is_null(struct fy_node *n);
/* Whether n is of type want; reports "expected <what>, got ..." if not. */
bool tc_yaml_is_kind(struct tc_load *ld, struct fy_node *n, enum fy_node_type want,
		     unsigned line, const char *path, const char *what);
/* Reports where the document nests deeper than TC_LIMIT_CONFIG_DEPTH. */
bool tc_yaml_depth_ok(struct tc_load *ld, struct fy_node *n, unsigned depth);
/* The text of a mapping key, or NULL (with *len 0) when it is not a plain
 * string key. */
const char *tc_yaml_key(struct fy_node *k, size_t *len);

/* ---- yaml.c: mappings and scalars -------------------------------------------- */
/* Reads mapping v (at path, introduced on line) into m against names
 * (NULL-ended, at most TC_YMAP_FIELDS). Reports unknown keys. False,
 * reported, when v is not a mapping. */
bool tc_yaml_map_read(struct tc_load *ld, struct fy_node *v, const char *path,
		      unsigned line, const char *const *names, struct tc_ymap *m);
/* The field called name (one m was read with; anything else aborts). */
struct tc_yfield *tc_yaml_field(struct tc_ymap *m, const char *name);
/* The line of f's value, else of its key. */
unsigned tc_yaml_val_line(struct tc_yfield *f);
/* Reads the mapping under key name of m into sub. Returns TC_V_OK,
 * TC_V_NONE (absent; reported when TC_F_REQUIRED) or TC_V_BAD. */
int tc_yaml_sub_map(struct tc_load *ld, struct tc_ymap *m, const char *name,
		    unsigned flags, const char *const *names, struct tc_ymap *sub);
/* The text of scalar v with its ${NAME}s expanded, as a new string in
 * *out. Returns TC_V_OK, TC_V_UNSET or TC_V_BAD (reported). */
int tc_yaml_scalar(struct tc_load *ld, struct fy_node *v, unsigned line,
		   const char *path, unsigned flags, const char *what, char **out);
/* The value of key name of m as a new string in *out (left alone unless
 * TC_V_OK). Returns TC_V_OK, TC_V_NONE (reported if TC_F_REQUIRED),
 * TC_V_UNSET or TC_V_BAD. */
int tc_yaml_get_value(struct tc_load *ld, struct tc_ymap *m, const char *name,
		      unsigned flags, const char *what, char **out);
int tc_yaml_get_str(struct tc_load *ld, struct tc_ymap *m, const char *name,
		    unsigned flags, char **out);

/* ---- values.c: typed values ------------------------------------------------ */
/* Digits only, into *v. */
bool tc_yaml_parse_u64(const char *s, uint64_t *v);
/* An integer in min..max. Same returns as tc_yaml_get_value. */
int tc_yaml_get_uint(struct tc_load *ld, struct tc_ymap *m, const char *name,
		     unsigned min, unsigned max, unsigned *out);
/* A duration of min..max ms (max: TC_DURATION_MAX but for retention). */
int tc_yaml_get_duration(struct tc_load *ld, struct tc_ymap *m, const char *name,
			 uint64_t min, uint64_t max, uint64_t *out);
/* One of names[] (NULL-ended): its index into *out. */
int tc_yaml_get_enum(struct tc_load *ld, struct tc_ymap *m, const char *name,
		     const char *const *names, const char *expect, int *out);
/* retry: {attempts, base, max} under m; defaults stay for what is absent. */
void tc_yaml_get_retry(struct tc_load *ld, struct tc_ymap *m, struct tc_retry_cfg *rc);
/* rate: {per_second, burst} under m; absent: 0/0. A burst written below
 * min_burst (named min_name in the message) is an error; a default one is
 * raised to it. */
void tc_yaml_get_rate(struct tc_load *ld, struct tc_ymap *m, unsigned min_burst,
		      const char *min_name, struct tc_rate_cfg *rc);

/* An allow list (see tc_allow_parse) under key name of m, into a new array
 * *out of *n entries (the bad ones left out, reported). Returns TC_V_OK,
 * TC_V_NONE (absent; reported when TC_F_REQUIRED) or TC_V_BAD. */
int tc_yaml_get_allow(struct tc_load *ld, struct tc_ymap *m, const char *name,
		      unsigned flags, struct tc_allow **out, size_t *n);

/* An http:// or https:// URL under key name of m into *out; one with
 * credentials (user:password@) is refused and not shown. Same returns as
 * tc_yaml_get_value. */
int tc_val_get_url(struct tc_load *ld, struct tc_ymap *m, const char *name,
		   unsigned flags, char **out);
/* A JSON pointer (RFC 6901) that is not the whole document: "/a/b~1c". */
bool tc_val_json_pointer_ok(const char *s);

/* ---- values.c: shapes ------------------------------------------------------- */
/* A group, provider or policy name: 1..TC_NAME_CHARS of A-Z a-z 0-9 _ - .,
 * not starting with '.' or '-'. */
bool tc_val_name_ok(const char *s, size_t len);
/* Fills one item of a mapping of named items: name is new and taken (the
 * item keeps it), v its value, line its key's, path "<key>.<name>". */
typedef void (*tc_val_named_fn)(struct tc_load *ld, void *item, char *name,
				struct fy_node *v, unsigned line, const char *path);
/* Reads top's `key` as a mapping of at most limit named items (groups,
 * escalation policies): *items becomes a zeroed array of size-byte items,
 * each name is checked (noun/nouns and limit_name word the errors), and fn
 * fills the item of each good one, in order. Returns how many it filled. */
size_t tc_val_named_map(struct tc_load *ld, struct tc_ymap *top, const char *key,
			const char *noun, const char *nouns, int limit,
			const char *limit_name, size_t size, void **items,
			tc_val_named_fn fn);
/* A name, an IPv4 address or a bracketed IPv6 address. */
bool tc_val_host_ok(const char *s, size_t len);
/* "host:port", or "host" alone when port_optional; *port: where the port
 * starts, or NULL. */
bool tc_val_host_port_ok(const char *s, bool port_optional, const char **port);
/* redis://host[:port][/db] or unix:///path. */
bool tc_val_redis_url_ok(const char *s);
/* 1..max of A-Z a-z 0-9 _ . : - */
bool tc_val_token_ok(const char *s, size_t max);

/* ---- values.c: paths ------------------------------------------------------- */
/* rel against the configuration's folder: a new string. */
char *tc_val_resolve(struct tc_load *ld, const char *rel);
/* rel as diagnostics name it: beside the configuration as given. */
char *tc_val_shown_path(struct tc_load *ld, const char *rel);
/* The canonical path of rel, which must be a folder (want_dir) or a
 * regular file; reported as key name of m if not. */
char *tc_val_existing_path(struct tc_load *ld, struct tc_ymap *m, const char *name,
			   const char *rel, bool want_dir);
/* Key name of m, if present: a readable file holding at least one PEM
 * certificate (CAs to trust instead of the system's). Returns its
 * canonical path (new), or NULL when absent or reported. */
char *tc_val_ca_file(struct tc_load *ld, struct tc_ymap *m, const char *name);

/* ---- the sections ------------------------------------------------------------ */
void tc_cfg_read_redis(struct tc_load *ld, struct tc_ymap *top);       /* cfg_service.c */
void tc_cfg_read_dispatcher(struct tc_load *ld, struct tc_ymap *top);
void tc_cfg_read_service(struct tc_load *ld, struct tc_ymap *top);
void tc_cfg_read_webhook(struct tc_load *ld, struct tc_ymap *ch);      /* cfg_webhook.c */
void tc_cfg_read_email(struct tc_load *ld, struct tc_ymap *ch);        /* cfg_email.c */
void tc_cfg_read_sms(struct tc_load *ld, struct tc_ymap *ch);          /* cfg_sms.c */
/* The keys of a generic gateway (kind http) of provider map m into p;
 * which keys the kind needs is cfg_sms.c's to check. */
void tc_cfg_read_sms_http(struct tc_load *ld, struct tc_ymap *m,
			  struct tc_sms_provider *p);                    /* cfg_sms_http.c */
void tc_cfg_read_groups(struct tc_load *ld, struct tc_ymap *top);      /* cfg_groups.c */
/* A list of channel names into a TC_CH_BIT mask, and unless order is
 * NULL, in the order written into order[*n_order] (TC_CH_COUNT room). */
int tc_cfg_read_channels(struct tc_load *ld, struct fy_node *v, unsigned line,
			 const char *path, unsigned *mask, enum tc_channel *order,
			 size_t *n_order);
void tc_cfg_read_escalations(struct tc_load *ld, struct tc_ymap *top); /* cfg_escalations.c */
/* Reports each channel of mask that the configuration does not have. */
void tc_cfg_check_enabled(struct tc_load *ld, const char *src, unsigned line,
			  const char *path, unsigned mask);

#endif
