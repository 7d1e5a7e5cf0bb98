/*
 * SMTP replies to outcomes, per recipient: 2xx sent, 4xx and no reply at
 * all transient, 5xx permanent, and which answers ask the sender to slow
 * down. A pure function of the reply, so it is unit-tested with every
 * class of answer and fuzzed; the server's text is untrusted: it is
 * escaped and cut before it reaches a record.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "channels/email/email.h"

/* Whether the n bytes at s hold word, ignoring case. */
static bool has_word(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word), i;

	for (i = 0; i + w <= n; i++)
		if (strncasecmp(s + i, word, w) == 0)
			return true;
	return false;
}

/* The queue id of a 2xx reply: the token after "queued as " (Postfix,
 * Exim "id=" is not read), into out; "" when there is none. Only
 * A-Z a-z 0-9 and . _ - @ are kept, so it needs no escaping. */
static void queue_id(const char *text, size_t n, char *out, size_t size)
{
	static const char mark[] = "queued as ";
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i + sizeof(mark) - 1 <= n; i++)
		if (strncasecmp(text + i, mark, sizeof(mark) - 1) == 0)
			break;
	if (i + sizeof(mark) - 1 > n)
		return;
	for (i += sizeof(mark) - 1; i < n && o + 1 < size; i++) {
		char c = text[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
		      c == '@'))
			break;
		out[o++] = c;
	}
	out[o] = '\0';
}

/* A server that does not announce ENHANCEDSTATUSCODES may still start its
 * text with one ("5.1.1 <bob@...>: ..."): moves it from text (n bytes,
 * updated) into enh as " 5.1.1". */
static void enh_from_text(char *text, size_t *n, char *enh, size_t size)
{
	size_t i = 0, part, start;

	if (*n < 6 || (text[0] != '2' && text[0] != '4' && text[0] != '5') ||
	    text[1] != '.')
		return;
	for (i = 2, part = 0; part < 2; part++) {
		start = i;
		while (i < *n && i - start < 3 && text[i] >= '0' && text[i] <= '9')
			i++;
		if (i == start || i >= *n || text[i] != (part == 0 ? '.' : ' '))
			return;
		i++;
	}
	snprintf(enh, size, " %.*s", (int)(i - 1), text);
	memmove(text, text + i, *n - i + 1);
	*n -= i;
}

static const char *stage_name(enum tc_smtp_stage stage)
{
	switch (stage) {
	case TC_SMTP_SESSION:
		return "session";
	case TC_SMTP_ENVELOPE:
		return "envelope";
	case TC_SMTP_DATA:
		return "data";
	case TC_SMTP_AFTER_DOT:
		return "after the final dot";
	}
	return "?";
}

bool tc_smtp_classify(const struct tc_smtp_reply *r, enum tc_smtp_stage stage,
		      struct tc_outcome *o)
{
	char text[TC_LIMIT_SMTP_REPLY + 1], q[TC_LIMIT_LOG_VALUE + 16], enh[48] = "";
	size_t n = 0;
	bool throttle = false;

	if (r->text) {
		n = strnlen(r->text, TC_LIMIT_SMTP_REPLY);
		memcpy(text, r->text, n);
		while (n > 0 && (text[n - 1] == '\r' || text[n - 1] == '\n' ||
				 text[n - 1] == ' '))
			n--;
	}
	text[n] = '\0';
	o->status = r->code;
	o->retry_after_ms = -1;
	o->provider_id[0] = '\0';
	if (r->code == 0) {
		o->kind = TC_OUT_TRANSIENT;
		if (stage == TC_SMTP_AFTER_DOT)
			snprintf(o->detail, sizeof(o->detail), "ambiguous: no answer after the "
				 "final dot (the server may have taken it; the Message-ID "
				 "stays the same on the retry)");
		else
			snprintf(o->detail, sizeof(o->detail), "no answer from the server "
				 "(%s)", stage_name(stage));
		return false;
	}
	if (r->enh_class > 0)
		snprintf(enh, sizeof(enh), " %d.%d.%d", r->enh_class % 10,
			 r->enh_subject % 1000, r->enh_detail % 1000);
	else
		enh_from_text(text, &n, enh, sizeof(enh));
	(void)tc_log_quote(q, sizeof(q), text);
	if (r->code >= 200 && r->code < 300) {
		snprintf(o->detail, sizeof(o->detail), "smtp %d%s: %s", r->code, enh, q);
		o->kind = TC_OUT_SENT;
		queue_id(text, n, o->provider_id, sizeof(o->provider_id));
		return false;
	}
	snprintf(o->detail, sizeof(o->detail), "smtp %d%s (%s): %s", r->code % 1000, enh,
		 stage_name(stage), q);
	if (r->code >= 500 && r->code < 600) {
		o->kind = TC_OUT_PERMANENT;
		return false;
	}
	/* 4xx, and anything that is not SMTP (1xx, 3xx where a final answer
	 * belongs, 600+): worth another attempt. */
	o->kind = TC_OUT_TRANSIENT;
	if (r->code == 421 || r->code == 454 || (r->code == 451 && r->enh_class == 4 &&
						 r->enh_subject == 7))
		throttle = true;
	if (r->code >= 400 && r->code < 500 &&
	    (has_word(text, n, "throttl") || has_word(text, n, "rate limit") ||
	     has_word(text, n, "too many")))
		throttle = true;
	return throttle;
}
