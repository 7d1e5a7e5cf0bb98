/*
 * Unit tests of common/: buffers, time, addresses, delivery ids, and every
 * rejection of the job parser (cases as data in tests/job/).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "tc_test.h"

static void test_buf(void)
{
	struct tc_buf b;

	tc_test_begin("buf: appends up to its maximum and not past it");
	tc_buf_init(&b, 8);
	TC_CHECK_INT(tc_buf_adds(&b, "12345"), 0);
	TC_CHECK_INT(tc_buf_printf(&b, "%d", 678), 0);
	TC_CHECK_STR(b.data, "12345678");
	TC_CHECK_INT(tc_buf_addc(&b, '9'), TC_ELIMIT);
	TC_CHECK_STR(b.data, "12345678");
	TC_CHECK_INT(b.len, 8);
	tc_buf_reset(&b);
	TC_CHECK_INT(tc_buf_printf(&b, "%s", "123456789"), TC_ELIMIT);
	TC_CHECK_INT(b.len, 0);
	tc_buf_release(&b);
}

static void test_utoa(void)
{
	char out[TC_UTOA_MAX];
	struct tc_buf b;

	tc_test_begin("utoa: 0, one digit, and 2^64 - 1 in decimal");
	TC_CHECK_INT(tc_utoa(0, out), 1);
	TC_CHECK_STR(out, "0");
	TC_CHECK_INT(tc_utoa(7, out), 1);
	TC_CHECK_STR(out, "7");
	TC_CHECK_INT(tc_utoa(UINT64_MAX, out), 20);
	TC_CHECK_STR(out, "18446744073709551615");
	tc_buf_init(&b, 3);
	TC_CHECK_INT(tc_buf_add_uint(&b, 123), 0);
	TC_CHECK_INT(tc_buf_add_uint(&b, 4), TC_ELIMIT);
	TC_CHECK_STR(b.data, "123");
	tc_buf_release(&b);
}

static void test_join(void)
{
	char out[8];

	tc_test_begin("join: strings one after the other, cut as snprintf cuts");
	TC_CHECK_INT(tc_join(out, sizeof(out), "ab", "", "cd", NULL), 4);
	TC_CHECK_STR(out, "abcd");
	TC_CHECK_INT(tc_join(out, sizeof(out), "abcd", "efgh", NULL), 7);
	TC_CHECK_STR(out, "abcdefg");
	TC_CHECK_INT(tc_join(out, 1, "abc", NULL), 0);
	TC_CHECK_STR(out, "");
	TC_CHECK_INT(tc_join(out, sizeof(out), NULL), 0);
	TC_CHECK_STR(out, "");
}

static void test_time(void)
{
	int64_t ms;
	uint64_t d;
	char out[40];

	tc_test_begin("time: RFC 3339 in and out");
	TC_CHECK_INT(tc_time_parse("2026-11-25T10:00:00Z", &ms), 0);
	TC_CHECK_INT(ms, 1795600800000LL);
	TC_CHECK_INT(tc_time_parse("2026-11-25T11:00:00.250+01:00", &ms), 0);
	TC_CHECK_INT(ms, 1795600800250LL);
	tc_time_format(1795600800250LL, out, sizeof(out));
	TC_CHECK_STR(out, "2026-11-25T10:00:00.250Z");
	tc_time_format(0, out, sizeof(out));
	TC_CHECK_STR(out, "1970-01-01T00:00:00.000Z");
	tc_time_format(TC_MAX_MS, out, sizeof(out));
	TC_CHECK_STR(out, "9999-12-31T23:59:59.999Z");
	tc_time_format(951782400007LL, out, sizeof(out));
	TC_CHECK_STR(out, "2000-02-29T00:00:00.007Z");
	TC_CHECK_INT(tc_time_parse("2026-02-29T00:00:00Z", &ms), TC_EINVAL);
	TC_CHECK_INT(tc_time_parse("2028-02-29T00:00:00Z", &ms), 0);
	TC_CHECK_INT(tc_time_parse("2026-11-25 10:00", &ms), TC_EINVAL);
	TC_CHECK_INT(tc_time_parse("2026-11-25T10:00:00", &ms), TC_EINVAL);
	TC_CHECK_INT(tc_time_parse("2026-13-01T00:00:00Z", &ms), TC_EINVAL);

	tc_test_begin("time: durations");
	TC_CHECK_INT(tc_duration_parse("250ms", &d), 0);
	TC_CHECK_INT(d, 250);
	TC_CHECK_INT(tc_duration_parse("10s", &d), 0);
	TC_CHECK_INT(d, 10000);
	TC_CHECK_INT(tc_duration_parse("5m", &d), 0);
	TC_CHECK_INT(d, 300000);
	TC_CHECK_INT(tc_duration_parse("2h", &d), 0);
	TC_CHECK_INT(d, 7200000);
	TC_CHECK_INT(tc_duration_parse("30d", &d), 0);
	TC_CHECK_INT(d, 2592000000LL);
	TC_CHECK_INT(tc_duration_parse("0d", &d), 0);
	TC_CHECK_INT(d, 0);
	TC_CHECK_INT(tc_duration_parse("1D", &d), TC_EINVAL);
	TC_CHECK_INT(tc_duration_parse("1d2h", &d), TC_EINVAL);
	TC_CHECK_INT(tc_duration_parse("99999999999999d", &d), TC_EINVAL);
	TC_CHECK_INT(tc_duration_parse("10", &d), TC_EINVAL);
	TC_CHECK_INT(tc_duration_parse("-1s", &d), TC_EINVAL);
	TC_CHECK_INT(tc_duration_parse("1.5s", &d), TC_EINVAL);
	TC_CHECK_INT(tc_duration_parse("99999999999999999999s", &d), TC_EINVAL);
}

static void test_addr(void)
{
	char why[300], e164[TC_E164_MAX + 1];
	enum tc_phone_kind kind;

	tc_test_begin("addr: email addresses");
	TC_CHECK_INT(tc_addr_email_check("ada@example.org", why, sizeof(why)), 0);
	TC_CHECK_INT(tc_addr_email_check("a.b+tag@sub.example.co.uk", why, sizeof(why)), 0);
	TC_CHECK_INT(tc_addr_email_check("ada@", why, sizeof(why)), TC_EINVAL);
	TC_CHECK_STR(why, "not an email address 'ada@'");
	TC_CHECK_INT(tc_addr_email_check("ada@localhost", why, sizeof(why)), TC_EINVAL);
	TC_CHECK_INT(tc_addr_email_check("a da@example.org", why, sizeof(why)), TC_EINVAL);
	TC_CHECK_INT(tc_addr_email_check("ada@example.org\r\nBcc: x@y.z", why, sizeof(why)), TC_EINVAL);
	TC_CHECK_INT(tc_addr_email_check("a@b@example.org", why, sizeof(why)), TC_EINVAL);

	tc_test_begin("addr: phone numbers normalize to E.164 with libphonenumber");
	TC_CHECK_INT(tc_addr_phone_normalize("+44 7911 123456", NULL, e164, &kind, why,
					     sizeof(why)), 0);
	TC_CHECK_STR(e164, "+447911123456");
	TC_CHECK_INT(kind, TC_PHONE_OTHER);
	TC_CHECK_INT(tc_addr_phone_normalize("+44 20 7946 0000", "", e164, &kind, why,
					     sizeof(why)), 0);
	TC_CHECK_STR(e164, "+442079460000");
	TC_CHECK_INT(kind, TC_PHONE_FIXED_LINE);
	/* national spellings need the default region */
	TC_CHECK_INT(tc_addr_phone_normalize("(415) 555-0100", "US", e164, &kind, why,
					     sizeof(why)), 0);
	TC_CHECK_STR(e164, "+14155550100");
	TC_CHECK_INT(tc_addr_phone_normalize("07911 123456", "GB", e164, &kind, why,
					     sizeof(why)), 0);
	TC_CHECK_STR(e164, "+447911123456");
	TC_CHECK_INT(tc_addr_phone_normalize("415 555 0100", NULL, e164, &kind, why,
					     sizeof(why)), TC_EINVAL);
	TC_CHECK_STR(why, "not a possible phone number \"415 555 0100\": no country: "
		     "write it as +<country> <number>, or set channels.sms.default_region");
	TC_CHECK_INT(tc_addr_phone_normalize("+44 791", NULL, e164, &kind, why,
					     sizeof(why)), TC_EINVAL);
	TC_CHECK_STR(why, "not a possible phone number \"+44 791\": too short");
	TC_CHECK_INT(tc_addr_phone_normalize("+0123456789", NULL, e164, &kind, why,
					     sizeof(why)), TC_EINVAL);
	TC_CHECK_INT(tc_addr_phone_normalize("+1234567890123456", NULL, e164, &kind, why,
					     sizeof(why)), TC_EINVAL);
	TC_CHECK_INT(tc_addr_phone_normalize("+44 20 x", NULL, e164, &kind, why,
					     sizeof(why)), TC_EINVAL);
	TC_CHECK_INT(tc_addr_phone_normalize("+1 415 555 0100\n\x01", NULL, e164, &kind,
					     why, sizeof(why)), TC_EINVAL);

	tc_test_begin("addr: webhook URLs");
	TC_CHECK_INT(tc_addr_url_check("https://hooks.example.org/tocsin", why, sizeof(why)), 0);
	TC_CHECK_INT(tc_addr_url_check("http://127.0.0.1:8080/x?y=1", why, sizeof(why)), 0);
	TC_CHECK_INT(tc_addr_url_check("ftp://example.org/", why, sizeof(why)), TC_EINVAL);
	TC_CHECK_INT(tc_addr_url_check("hooks.example.org/x", why, sizeof(why)), TC_EINVAL);
	TC_CHECK_INT(tc_addr_url_check("http://", why, sizeof(why)), TC_EINVAL);
}

static void test_sha256_hex(void)
{
	char out[65];

	tc_test_begin("sha256 hex: the FIPS 180-2 vector, cut to any length");
	tc_sha256_hex("abc", 3, 64, out);
	TC_CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	tc_sha256_hex("abc", 3, 7, out);
	TC_CHECK_STR(out, "ba7816b");
	tc_sha256_hex("abc", 3, 0, out);
	TC_CHECK_STR(out, "");
	tc_sha256_hex("abc", 3, 99, out);
	TC_CHECK_INT((int)strlen(out), 64);
}

static void test_phone_cache(void)
{
	struct tc_phone_cache *c = tc_phone_cache_new();
	char why[300], got[TC_E164_MAX + 1], want[TC_E164_MAX + 1], s[40];
	enum tc_phone_kind kind, want_kind;
	int i, pass, bad = 0;

	tc_test_begin("phone cache: the answer libphonenumber gives, asked again or not");
	TC_CHECK(c != NULL);
	if (!c)
		return;
	for (pass = 0; pass < 2; pass++) {
		TC_CHECK_INT(tc_phone_cache_normalize(c, "+44 20 7946 0000", "", got, &kind,
						      why, sizeof(why)), 0);
		TC_CHECK_STR(got, "+442079460000");
		TC_CHECK_INT(kind, TC_PHONE_FIXED_LINE);
		TC_CHECK_INT(tc_phone_cache_normalize(c, "(415) 555-0100", "US", got, &kind,
						      why, sizeof(why)), 0);
		TC_CHECK_STR(got, "+14155550100");
		TC_CHECK_INT(kind, TC_PHONE_OTHER);
	}

	tc_test_begin("phone cache: the region is part of the key; refusals are not kept");
	TC_CHECK_INT(tc_phone_cache_normalize(c, "07911 123456", "GB", got, &kind, why,
					      sizeof(why)), 0);
	TC_CHECK_STR(got, "+447911123456");
	TC_CHECK_INT(tc_phone_cache_normalize(c, "07911 123456", "", got, &kind, why,
					      sizeof(why)), TC_EINVAL);
	TC_CHECK_INT(tc_phone_cache_normalize(c, "(415) 555-0100", "", got, &kind, why,
					      sizeof(why)), TC_EINVAL);
	TC_CHECK_INT(tc_phone_cache_normalize(c, "+44 791", NULL, got, &kind, why,
					      sizeof(why)), TC_EINVAL);
	TC_CHECK_STR(why, "not a possible phone number \"+44 791\": too short");
	TC_CHECK_INT(tc_phone_cache_normalize(c, "+44 791", NULL, got, &kind, why,
					      sizeof(why)), TC_EINVAL);
	/* longer than TC_PHONE_CACHE_KEY: parsed each time, same answer */
	TC_CHECK_INT(tc_phone_cache_normalize(c, "+1 (415)     555     0100        ", "",
					      got, &kind, why, sizeof(why)), 0);
	TC_CHECK_STR(got, "+14155550100");

	tc_test_begin("phone cache: 5000 numbers twice, each answer the uncached one");
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < 5000; i++) {
			snprintf(s, sizeof(s), "+1 415 %03d %04d", 200 + i % 7, i);
			if (tc_phone_cache_normalize(c, s, "US", got, &kind, why, sizeof(why)) < 0 ||
			    tc_addr_phone_normalize(s, "US", want, &want_kind, why, sizeof(why)) < 0 ||
			    strcmp(got, want) != 0 || kind != want_kind)
				bad++;
		}
	TC_CHECK_INT(bad, 0);
	tc_phone_cache_free(c);
	tc_phone_cache_free(NULL);
}

static void test_delivery_id(void)
{
	char a[TC_DELIVERY_ID_LEN + 1], b[TC_DELIVERY_ID_LEN + 1];

	tc_test_begin("delivery id: SHA-256 of job, channel and address");
	/* Vectors computed independently with Python's hashlib. */
	tc_delivery_id("INC-42-initial", TC_CH_WEBHOOK, "https://hooks.example.org/tocsin", a);
	TC_CHECK_STR(a, "6aa03072350eeef92451420d595e5a4a");
	tc_delivery_id("INC-42-initial", TC_CH_EMAIL, "ada@example.org", a);
	TC_CHECK_STR(a, "65ac2989b21048a827e431142ee8cf92");

	tc_test_begin("delivery id: deterministic, and differs by each part");
	tc_delivery_id("J", TC_CH_EMAIL, "ada@example.org", a);
	tc_delivery_id("J", TC_CH_EMAIL, "ada@example.org", b);
	TC_CHECK_STR(a, b);
	tc_delivery_id("K", TC_CH_EMAIL, "ada@example.org", b);
	TC_CHECK(strcmp(a, b) != 0);
	tc_delivery_id("J", TC_CH_SMS, "ada@example.org", b);
	TC_CHECK(strcmp(a, b) != 0);
	tc_delivery_id("J", TC_CH_EMAIL, "bob@example.org", b);
	TC_CHECK(strcmp(a, b) != 0);
	/* The separators keep ("ab", "c") and ("a", "bc") apart. */
	tc_delivery_id("J", TC_CH_EMAIL, "x", a);
	tc_delivery_id("J\001", TC_CH_EMAIL, "x", b);
	TC_CHECK(strcmp(a, b) != 0);
}

static void test_log_quote(void)
{
	char out[TC_LIMIT_LOG_VALUE + 16], *longv;

	tc_test_begin("log: untrusted values are escaped and cut");
	TC_CHECK_STR(tc_log_quote(out, sizeof(out), "a\"b\\c\nd\x1b"), "\"a\\\"b\\\\c\\x0ad\\x1b\"");
	/* C1 and bidi controls as characters, bytes that are not UTF-8 */
	TC_CHECK_STR(tc_log_quote(out, sizeof(out), "\xc2\x9b" "2J\xe2\x80\xae" "e\x9b\xff\xc3\xa9"),
		     "\"\\u009b2J\\u202ee\\x9b\\xff\xc3\xa9\"");
	longv = malloc(1000);
	memset(longv, 'x', 999);
	longv[999] = '\0';
	tc_log_quote(out, sizeof(out), longv);
	TC_CHECK(strlen(out) <= TC_LIMIT_LOG_VALUE + 5);
	TC_CHECK(strstr(out, "...\"") != NULL);
	free(longv);
}

static char *case_names[256];
static int n_case_names;

/* Each tests/job/invalid/NAME.json is rejected with NAME.expected. */
static void test_job_invalid(const char *dir)
{
	char path[4096], line[1200];
	struct dirent **list;
	struct tc_diag d;
	struct tc_job job;
	int n, i;

	n = scandir(dir, &list, NULL, alphasort);
	TC_CHECK(n > 0);
	for (i = 0; i < n; i++) {
		char *dot = strrchr(list[i]->d_name, '.');
		char *json, *want;
		size_t len, wlen;

		if (!dot || strcmp(dot, ".json") != 0) {
			free(list[i]);
			continue;
		}
		snprintf(line, sizeof(line), "job rejects %.*s", (int)(dot - list[i]->d_name),
			 list[i]->d_name);
		case_names[n_case_names] = strdup(line);
		tc_test_begin(case_names[n_case_names++]);
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		json = tc_test_read_file(path, &len);
		snprintf(path, sizeof(path), "%s/%.*s.expected", dir,
			 (int)(dot - list[i]->d_name), list[i]->d_name);
		want = tc_test_read_file(path, &wlen);
		TC_CHECK(json && want);
		if (json && want) {
			if (wlen && want[wlen - 1] == '\n')
				want[wlen - 1] = '\0';
			TC_CHECK(tc_job_parse(json, len, TC_SEV_NORMAL, "1700000000000-0", NULL, &job, &d) < 0);
			tc_diag_format(&d, line, sizeof(line));
			TC_CHECK_STR(line, want);
		}
		free(json);
		free(want);
		free(list[i]);
	}
	free(list);
}

static void test_job_limits(void)
{
	struct tc_buf b;
	struct tc_diag d;
	struct tc_job job;
	char line[1200];
	int i;

	tc_test_begin("job rejects more than 64 KiB");
	tc_buf_init(&b, 1 << 20);
	(void)tc_buf_adds(&b, "{\"template\":\"t\",\"groups\":[\"g\"],\"vars\":{\"x\":\"");
	while (b.len <= TC_LIMIT_JOB_BYTES)
		(void)tc_buf_adds(&b, "xxxxxxxxxxxxxxxx");
	(void)tc_buf_adds(&b, "\"}}");
	TC_CHECK_INT(tc_job_parse(b.data, b.len, TC_SEV_NORMAL, "1-0", NULL, &job, &d), TC_ELIMIT);
	TC_CHECK(strstr(d.msg, "more than the limit of 65536") != NULL);

	tc_test_begin("job rejects more than 1000 recipients");
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "{\"template\":\"t\",\"recipients\":[");
	for (i = 0; i <= TC_LIMIT_JOB_RECIPIENTS; i++)
		(void)tc_buf_printf(&b, "%s{\"email\":\"u%d@e.org\"}", i ? "," : "", i);
	(void)tc_buf_adds(&b, "]}");
	TC_CHECK_INT(tc_job_parse(b.data, b.len, TC_SEV_NORMAL, "1-0", NULL, &job, &d), TC_ELIMIT);
	tc_diag_format(&d, line, sizeof(line));
	TC_CHECK_STR(line, "job: recipients: more than 1000 recipients");

	tc_test_begin("job rejects more than 256 vars");
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "{\"template\":\"t\",\"groups\":[\"g\"],\"vars\":{");
	for (i = 0; i <= TC_LIMIT_JOB_VARS; i++)
		(void)tc_buf_printf(&b, "%s\"v%d\":1", i ? "," : "", i);
	(void)tc_buf_adds(&b, "}}");
	TC_CHECK_INT(tc_job_parse(b.data, b.len, TC_SEV_NORMAL, "1-0", NULL, &job, &d), TC_ELIMIT);
	tc_diag_format(&d, line, sizeof(line));
	TC_CHECK_STR(line, "job: vars: more than 256 variables");

	tc_test_begin("job rejects a name over 1024 bytes");
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "{\"template\":\"t\",\"recipients\":[{\"email\":\"a@e.org\",\"name\":\"");
	for (i = 0; i <= TC_LIMIT_TEXT; i++)
		(void)tc_buf_addc(&b, 'n');
	(void)tc_buf_adds(&b, "\"}]}");
	TC_CHECK_INT(tc_job_parse(b.data, b.len, TC_SEV_NORMAL, "1-0", NULL, &job, &d), TC_ELIMIT);
	tc_diag_format(&d, line, sizeof(line));
	TC_CHECK_STR(line, "job: recipients[0].name: longer than 1024 bytes");

	tc_test_begin("job rejects a var name over 1024 bytes");
	tc_buf_reset(&b);
	(void)tc_buf_adds(&b, "{\"template\":\"t\",\"groups\":[\"g\"],\"vars\":{\"");
	for (i = 0; i <= TC_LIMIT_TEXT; i++)
		(void)tc_buf_addc(&b, 'v');
	(void)tc_buf_adds(&b, "\":1}}");
	TC_CHECK_INT(tc_job_parse(b.data, b.len, TC_SEV_NORMAL, "1-0", NULL, &job, &d), TC_ELIMIT);
	tc_diag_format(&d, line, sizeof(line));
	TC_CHECK_STR(line, "job: vars: a variable name of 1025 bytes, more than the limit of 1024");
	tc_buf_release(&b);
}

/* Fills n bytes of s with a hostile mix: control characters, quotes,
 * backslashes, a 4-byte character and bytes that are not UTF-8. */
static void hostile(char *s, size_t n)
{
	static const char mix[] = "\x01\x1f\"\\\x7f\xf0\x9f\x98\x80\xff\xc3(\xe2\x82";
	size_t i;

	for (i = 0; i < n; i++)
		s[i] = mix[i % (sizeof(mix) - 1)];
	s[n] = '\0';
}

/* A delivery record is valid JSON whatever its fields hold, cut at a
 * character boundary to each field's limit, and never over
 * TC_LIMIT_RECORD: the largest one every limit allows. */
static void test_record_json(void)
{
	char *addr = malloc(TC_LIMIT_ADDRESS * 2 + 1), *name = malloc(TC_LIMIT_TEXT * 4 + 1);
	char *outcome = malloc(TC_LIMIT_OUTCOME * 4 + 1), *prov = malloc(1000), *pid = malloc(1000);
	struct tc_record rec;
	struct tc_buf b;
	json_error_t err;
	json_t *o;
	const char *k;
	json_t *v;

	tc_test_begin("record: the largest record is valid JSON, each field cut at a character");
	hostile(addr, TC_LIMIT_ADDRESS * 2);
	hostile(name, TC_LIMIT_TEXT * 4);
	hostile(outcome, TC_LIMIT_OUTCOME * 4);
	hostile(prov, 999);
	hostile(pid, 999);
	memset(&rec, 0, sizeof(rec));
	rec.channel = TC_CH_WEBHOOK;
	rec.address = addr;
	rec.group = name;
	rec.member = name;
	rec.role = name;
	rec.email = addr;
	rec.phone = addr;
	rec.reasons = addr;
	rec.state = TC_DS_RETRYING;
	rec.attempts = 4294967295u;
	rec.last_outcome = outcome;
	rec.provider = prov;
	rec.provider_message_id = pid;
	rec.updated_at = "2026-11-30T08:00:00.000Z";
	rec.pass = 4294967295u;
	rec.plan = INT64_MAX; /* a count of PLAN calls: far below */
	rec.next_attempt_ms = INT64_MAX;
	tc_buf_init(&b, TC_LIMIT_RECORD);
	TC_CHECK_INT(tc_record_json(&b, &rec), 0);
	TC_CHECK(b.len <= TC_LIMIT_RECORD);
	o = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &err);
	TC_CHECK(o != NULL);
	json_object_foreach(o, k, v)
		if (json_is_string(v))
			/* jansson refuses invalid UTF-8: parsed means whole characters */
			TC_CHECK(json_string_length(v) <= (size_t)TC_LIMIT_ADDRESS * 3);
	TC_CHECK(json_string_length(json_object_get(o, "member")) <= TC_LIMIT_TEXT);
	TC_CHECK(json_string_length(json_object_get(o, "last_outcome")) <= TC_LIMIT_OUTCOME);
	TC_CHECK(json_string_length(json_object_get(o, "provider")) <= TC_LIMIT_PROVIDER);
	TC_CHECK(json_string_length(json_object_get(o, "provider_message_id")) <=
		 TC_LIMIT_PROVIDER_ID);
	TC_CHECK(json_string_length(json_object_get(o, "address")) <= TC_LIMIT_ADDRESS);
	TC_CHECK_STR(json_string_value(json_object_get(o, "state")), "retrying");
	TC_CHECK(json_integer_value(json_object_get(o, "next_attempt_ms")) == INT64_MAX);
	json_decref(o);

	tc_test_begin("record: every field at its limit, each byte a control character");
	memset(addr, 1, TC_LIMIT_ADDRESS * 2);
	memset(name, 1, TC_LIMIT_TEXT * 4);
	memset(outcome, 1, TC_LIMIT_OUTCOME * 4);
	memset(prov, 1, 999);
	memset(pid, 1, 999);
	tc_buf_reset(&b);
	TC_CHECK_INT(tc_record_json(&b, &rec), 0);
	o = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &err);
	TC_CHECK(o != NULL);
	json_decref(o);

	tc_test_begin("record: a member_key kept by the caller is the one computed");
	{
		char key[TC_MEMBER_KEY_LEN + 1];
		struct tc_buf c;

		rec.member = "Ada";
		rec.email = "";
		rec.phone = NULL;
		rec.address = "https://hooks.example.org/ada";
		tc_buf_reset(&b);
		TC_CHECK_INT(tc_record_json(&b, &rec), 0);
		tc_member_key(rec.member, rec.email, rec.phone, rec.address, key);
		rec.member_key = key;
		tc_buf_init(&c, TC_LIMIT_RECORD);
		TC_CHECK_INT(tc_record_json(&c, &rec), 0);
		TC_CHECK(b.data && c.data && strcmp(b.data, c.data) == 0);
		TC_CHECK(c.data && strstr(c.data, key) != NULL);
		tc_buf_release(&c);
		rec.member_key = NULL;
	}

	tc_test_begin("json: a quoted string is cut whole characters at a time");
	tc_buf_reset(&b);
	TC_CHECK_INT(tc_json_quote_cut(&b, "ab\xf0\x9f\x98\x80" "c", 5), 0);
	TC_CHECK_STR(b.data, "\"ab\"");
	tc_buf_reset(&b);
	TC_CHECK_INT(tc_json_quote_cut(&b, "ab\xf0\x9f\x98\x80" "c", 6), 0);
	TC_CHECK_STR(b.data, "\"ab\xf0\x9f\x98\x80\"");
	tc_buf_reset(&b);
	TC_CHECK_INT(tc_json_quote(&b, "a\xff" "\"\n"), 0);
	TC_CHECK_STR(b.data, "\"a\xef\xbf\xbd\\\"\\u000a\"");
	tc_buf_release(&b);
	free(addr);
	free(name);
	free(outcome);
	free(prov);
	free(pid);
}

/* Entry ids are unique per stream only: a job without id is named by its
 * stream too, so two streams' same entry id make two jobs. */
static void test_job_default_id(void)
{
	const char *text = "{\"template\":\"t\",\"groups\":[\"g\"],\"severity\":\"critical\"}";
	struct tc_diag d;
	struct tc_job a, b;

	tc_test_begin("job without id is <severity>-<entry id>");
	TC_CHECK_INT(tc_job_parse(text, strlen(text), TC_SEV_CRITICAL, "1796021844832-0",
				  NULL, &a, &d), 0);
	TC_CHECK_STR(a.id, "critical-1796021844832-0");
	text = "{\"template\":\"t\",\"groups\":[\"g\"]}";
	TC_CHECK_INT(tc_job_parse(text, strlen(text), TC_SEV_NORMAL, "1796021844832-0",
				  NULL, &b, &d), 0);
	TC_CHECK_STR(b.id, "normal-1796021844832-0");
	TC_CHECK(strcmp(a.id, b.id) != 0);
	tc_job_release(&a);
	tc_job_release(&b);
}

static void test_job_round(void)
{
	char root[TC_LIMIT_JOB_ID + 1] = "untouched";

	tc_test_begin("an escalation round's id names its round and root job");
	TC_CHECK_INT(tc_job_round("INC-42.esc.1", root, sizeof(root)), 1);
	TC_CHECK_STR(root, "INC-42");
	TC_CHECK_INT(tc_job_round("a.esc.b.esc.10", root, sizeof(root)), 10);
	TC_CHECK_STR(root, "a.esc.b");
	strcpy(root, "untouched");
	TC_CHECK_INT(tc_job_round("INC-42", root, sizeof(root)), 0);
	TC_CHECK_INT(tc_job_round("INC.esc.0", root, sizeof(root)), 0);
	TC_CHECK_INT(tc_job_round("INC.esc.01", root, sizeof(root)), 0);
	TC_CHECK_INT(tc_job_round("INC.esc.100", root, sizeof(root)), 0);
	TC_CHECK_INT(tc_job_round("INC.esc.", root, sizeof(root)), 0);
	TC_CHECK_INT(tc_job_round(".esc.1", root, sizeof(root)), 0);
	TC_CHECK_INT(tc_job_round("INC.esc.1x", root, sizeof(root)), 0);
	TC_CHECK_INT(tc_job_round("INC.esc.1", root, 3), 0);
	TC_CHECK_STR(root, "untouched");
}

static void test_job_valid(const char *dir)
{
	char path[4096];
	struct tc_diag d;
	struct tc_job job;
	char *json;
	size_t len;

	tc_test_begin("job accepts DESIGN.md's example");
	snprintf(path, sizeof(path), "%s/design-example.json", dir);
	json = tc_test_read_file(path, &len);
	TC_CHECK(json != NULL);
	TC_CHECK_INT(tc_job_parse(json, len, TC_SEV_NORMAL, "1-0", NULL, &job, &d), 0);
	TC_CHECK_STR(job.id, "INC-42-initial");
	TC_CHECK_STR(job.template, "outage");
	TC_CHECK_INT(job.n_groups, 2);
	TC_CHECK_STR(job.groups[1], "oncall");
	TC_CHECK_INT(job.n_recipients, 1);
	TC_CHECK_STR(job.recipients[0].phone, "+15550100123");
	TC_CHECK_INT(job.channels, TC_CH_ALL);
	TC_CHECK_STR(job.incident, "INC-42");
	TC_CHECK_INT(job.send_at_ms, 1795600800000LL);
	TC_CHECK_INT(job.expires_at_ms, 1795608000000LL);
	TC_CHECK_STR(json_string_value(json_object_get(job.vars, "service")), "payments");
	tc_job_release(&job);
	free(json);

	tc_test_begin("job without id takes <severity>-<stream entry id>");
	snprintf(path, sizeof(path), "%s/minimal.json", dir);
	json = tc_test_read_file(path, &len);
	TC_CHECK(json != NULL);
	TC_CHECK_INT(tc_job_parse(json, len, TC_SEV_HIGH, "1764064800000-3", NULL, &job, &d), 0);
	TC_CHECK_STR(job.id, "high-1764064800000-3");
	TC_CHECK_INT(job.severity, TC_SEV_HIGH);
	TC_CHECK_INT(job.n_recipients, 0);
	TC_CHECK(job.vars && json_object_size(job.vars) == 0);
	tc_job_release(&job);
	free(json);

	tc_test_begin("job with recipients only and nested vars");
	snprintf(path, sizeof(path), "%s/recipients-only.json", dir);
	json = tc_test_read_file(path, &len);
	TC_CHECK(json != NULL);
	TC_CHECK_INT(tc_job_parse(json, len, TC_SEV_NORMAL, "2-0", NULL, &job, &d), 0);
	TC_CHECK_INT(job.recipients[0].channels, TC_CH_BIT(TC_CH_WEBHOOK));
	tc_job_release(&job);
	free(json);
}

static void test_redis_url(void)
{
	static const char *const bad[] = {
		"http://127.0.0.1:6379", "redis://", "redis://:6379", "redis://h:0",
		"redis://h:65536", "redis://h:6379/65536", "redis://h:6379/x",
		"redis://h:port", "redis://[::1", "redis://[localhost]", "redis://user:pw@h:6379",
		"unix://run/redis.sock", "unix:///tmp/r.sock?db=1",
	};
	struct tc_redis_where w;
	char url[200];
	size_t i;

	TC_CHECK_INT(tc_redis_url_parse("redis://127.0.0.1:6380/3", &w), 0);
	TC_CHECK_STR(w.host, "127.0.0.1");
	TC_CHECK_INT(w.port, 6380);
	TC_CHECK_INT(w.db, 3);
	TC_CHECK_INT(tc_redis_url_parse("redis://redis.example.org", &w), 0);
	TC_CHECK_STR(w.host, "redis.example.org");
	TC_CHECK_INT(w.port, 6379);
	TC_CHECK_INT(w.db, 0);
	TC_CHECK_INT(tc_redis_url_parse("redis://[::1]:6381/65535", &w), 0);
	TC_CHECK_STR(w.host, "::1");
	TC_CHECK_INT(w.port, 6381);
	TC_CHECK_INT(w.db, 65535);
	TC_CHECK_INT(tc_redis_url_parse("redis://h/", &w), 0);
	TC_CHECK_INT(w.db, 0);
	TC_CHECK_INT(tc_redis_url_parse("unix:///run/tocsin/redis.sock", &w), 0);
	TC_CHECK_STR(w.host, "/run/tocsin/redis.sock");
	TC_CHECK_INT(w.port, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		TC_CHECK_INT(tc_redis_url_parse(bad[i], &w), TC_EINVAL);
	/* sun_path holds 107 bytes and a NUL. */
	snprintf(url, sizeof(url), "unix:///%0106d", 0);
	TC_CHECK_INT(tc_redis_url_parse(url, &w), 0);
	snprintf(url, sizeof(url), "unix:///%0107d", 0);
	TC_CHECK_INT(tc_redis_url_parse(url, &w), TC_EINVAL);
}

/* tc_parse_uint on s (NUL-terminated) with max: the return, and *out. */
static int puint(const char *s, uint64_t max, uint64_t *out)
{
	*out = 4242; /* written only on success */
	return tc_parse_uint(s, strlen(s), max, out);
}

static void test_parse_uint(void)
{
	uint64_t v;
	int64_t i;

	tc_test_begin("parse: unsigned integers at their edges");
	TC_CHECK_INT(puint("0", 10, &v), 0);
	TC_CHECK_INT(v, 0);
	TC_CHECK_INT(puint("10", 10, &v), 0);
	TC_CHECK_INT(v, 10);
	TC_CHECK_INT(puint("11", 10, &v), TC_ELIMIT);
	TC_CHECK_INT(v, 4242);
	TC_CHECK_INT(puint("0007", 7, &v), 0);
	TC_CHECK_INT(v, 7);
	TC_CHECK_INT(puint("5", 0, &v), TC_ELIMIT);
	TC_CHECK_INT(puint("0", 0, &v), 0);
	TC_CHECK_INT(puint("18446744073709551615", UINT64_MAX, &v), 0);
	TC_CHECK(v == UINT64_MAX);
	TC_CHECK_INT(puint("18446744073709551614", UINT64_MAX - 1, &v), 0);
	TC_CHECK(v == UINT64_MAX - 1);
	TC_CHECK_INT(puint("18446744073709551615", UINT64_MAX - 1, &v), TC_ELIMIT);
	/* 2^64, and far beyond: too large, not wrapped around */
	TC_CHECK_INT(puint("18446744073709551616", UINT64_MAX, &v), TC_ELIMIT);
	TC_CHECK_INT(puint("99999999999999999999999", UINT64_MAX, &v), TC_ELIMIT);
	TC_CHECK_INT(puint("9223372036854775807", INT64_MAX, &v), 0);
	TC_CHECK_INT(v, INT64_MAX);
	TC_CHECK_INT(puint("9223372036854775808", INT64_MAX, &v), TC_ELIMIT);
	TC_CHECK_INT(puint("9223372036854775807", 3600, &v), TC_ELIMIT);
	TC_CHECK_INT(v, 4242);

	tc_test_begin("parse: anything but digits is refused");
	TC_CHECK_INT(puint("", 10, &v), TC_EINVAL);
	TC_CHECK_INT(puint("+1", 10, &v), TC_EINVAL);
	TC_CHECK_INT(puint("-1", 10, &v), TC_EINVAL);
	TC_CHECK_INT(puint("-0", 10, &v), TC_EINVAL);
	TC_CHECK_INT(puint(" 1", 10, &v), TC_EINVAL);
	TC_CHECK_INT(puint("1 ", 10, &v), TC_EINVAL);
	TC_CHECK_INT(puint("\t1", 10, &v), TC_EINVAL);
	TC_CHECK_INT(puint("1a", 10, &v), TC_EINVAL);
	TC_CHECK_INT(puint("0x10", 100, &v), TC_EINVAL);
	TC_CHECK_INT(puint("1.5", 10, &v), TC_EINVAL);
	TC_CHECK_INT(puint("1e3", 10000, &v), TC_EINVAL);
	/* garbage after a huge number is garbage, not "too large" */
	TC_CHECK_INT(puint("99999999999999999999999x", UINT64_MAX, &v), TC_EINVAL);
	TC_CHECK_INT(v, 4242);
	/* exactly n bytes: what follows does not count, a NUL inside does */
	TC_CHECK_INT(tc_parse_uint("123abc", 3, 1000, &v), 0);
	TC_CHECK_INT(v, 123);
	TC_CHECK_INT(tc_parse_uint("1\0" "2", 3, 1000, &v), TC_EINVAL);
	TC_CHECK_INT(tc_parse_uint(NULL, 0, 10, &v), TC_EINVAL);
	TC_CHECK_INT(tc_parse_uints("42", 42, &v), 0);
	TC_CHECK_INT(v, 42);

	tc_test_begin("parse: signed integers at their edges");
	TC_CHECK_INT(tc_parse_int("-9223372036854775808", 20, INT64_MIN, INT64_MAX, &i), 0);
	TC_CHECK(i == INT64_MIN);
	TC_CHECK_INT(tc_parse_int("-9223372036854775809", 20, INT64_MIN, INT64_MAX, &i),
		     TC_ELIMIT);
	TC_CHECK_INT(tc_parse_int("9223372036854775807", 19, INT64_MIN, INT64_MAX, &i), 0);
	TC_CHECK(i == INT64_MAX);
	TC_CHECK_INT(tc_parse_int("9223372036854775808", 19, INT64_MIN, INT64_MAX, &i),
		     TC_ELIMIT);
	TC_CHECK_INT(tc_parse_int("-5", 2, -5, 5, &i), 0);
	TC_CHECK_INT(i, -5);
	TC_CHECK_INT(tc_parse_int("-6", 2, -5, 5, &i), TC_ELIMIT);
	TC_CHECK_INT(tc_parse_int("6", 1, -5, 5, &i), TC_ELIMIT);
	TC_CHECK_INT(tc_parse_int("-1", 2, 0, 5, &i), TC_ELIMIT);
	TC_CHECK_INT(tc_parse_int("1", 1, 2, 5, &i), TC_ELIMIT);
	TC_CHECK_INT(tc_parse_int("3", 1, -9, -2, &i), TC_ELIMIT);
	TC_CHECK_INT(tc_parse_int("-0", 2, 0, 5, &i), 0);
	TC_CHECK_INT(i, 0);
	TC_CHECK_INT(tc_parse_int("-", 1, -5, 5, &i), TC_EINVAL);
	TC_CHECK_INT(tc_parse_int("--1", 3, -5, 5, &i), TC_EINVAL);
	TC_CHECK_INT(tc_parse_int("+1", 2, -5, 5, &i), TC_EINVAL);
	TC_CHECK_INT(tc_parse_int(" -1", 3, -5, 5, &i), TC_EINVAL);
	TC_CHECK_INT(tc_parse_int("", 0, -5, 5, &i), TC_EINVAL);
}

static void test_http_date(void)
{
	int64_t ms;

	tc_test_begin("time: HTTP dates in the three forms RFC 9110 accepts");
	/* 784111777 s: Sun, 06 Nov 1994 08:49:37 GMT */
	TC_CHECK_INT(tc_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 29, &ms), 0);
	TC_CHECK_INT(ms, 784111777000LL);
	TC_CHECK_INT(tc_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &ms), 0);
	TC_CHECK_INT(ms, 784111777000LL);
	TC_CHECK_INT(tc_http_date_parse("Sun Nov  6 08:49:37 1994", 24, &ms), 0);
	TC_CHECK_INT(ms, 784111777000LL);
	TC_CHECK_INT(tc_http_date_parse("Wed, 25 Nov 2026 10:00:00 GMT", 29, &ms), 0);
	TC_CHECK_INT(ms, 1795600800000LL);
	TC_CHECK_INT(tc_http_date_parse("Wed, 25-Nov-26 10:00:00 GMT", 27, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Wednesday, 25-Nov-26 10:00:00 GMT", 33, &ms), 0);
	TC_CHECK_INT(ms, 1795600800000LL);
	TC_CHECK_INT(tc_http_date_parse("Thu, 29 Feb 2024 00:00:00 GMT", 29, &ms), 0);
	TC_CHECK_INT(tc_http_date_parse("Fri, 31 Dec 9999 23:59:59 GMT", 29, &ms), 0);
	TC_CHECK_INT(ms, 253402300799000LL);

	tc_test_begin("time: what is not an HTTP date");
	ms = 4242;
	TC_CHECK_INT(tc_http_date_parse("", 0, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("120", 3, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun, 99 Foo 2026 99:99:99 GMT", 29, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun, 32 Jan 2026 00:00:00 GMT", 29, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun, 29 Feb 2026 00:00:00 GMT", 29, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun, 06 Nov 1994 24:00:00 GMT", 29, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC", 29, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT ", 30, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun, 6 Nov 1994 08:49:37 GMT", 28, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 28, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun, 06 Nov +994 08:49:37 GMT", 29, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun, 06 Nov 99999 08:49:37 GMT", 30, &ms), TC_EINVAL);
	TC_CHECK_INT(tc_http_date_parse("Sun Nov 6 08:49:37 1994", 23, &ms), TC_EINVAL);
	TC_CHECK_INT(ms, 4242);
}

int main(int argc, char **argv)
{
	char dir[1024];
	int i, r;

	if (argc != 2) {
		fprintf(stderr, "usage: test_common DATA_DIR\n");
		return 2;
	}
	test_buf();
	test_utoa();
	test_join();
	test_time();
	test_http_date();
	test_parse_uint();
	test_addr();
	test_sha256_hex();
	test_phone_cache();
	test_delivery_id();
	test_log_quote();
	test_redis_url();
	snprintf(dir, sizeof(dir), "%s/job/invalid", argv[1]);
	test_job_invalid(dir);
	test_job_limits();
	test_job_default_id();
	test_job_round();
	test_record_json();
	snprintf(dir, sizeof(dir), "%s/job/valid", argv[1]);
	test_job_valid(dir);
	r = tc_test_done();
	for (i = 0; i < n_case_names; i++)
		free(case_names[i]);
	return r;
}
