/*
 * Showing what others wrote. Everything the tool prints that came from a
 * producer, a roster, a peer or Redis (an incident, a name, a group, an
 * address, an outcome, a reason, a rendered message) goes through here, so
 * that no byte of it can drive the commander's terminal: a job's incident
 * holding "ESC ] 0 ; title BEL" would otherwise retitle the window, "ESC [
 * 2 J" clear it, a C1 CSI (U+009B) do the same on terminals that take
 * 8-bit controls, and a bidi override (U+202E) show a reason backwards.
 *
 * Keeps true: text output holds no C0 control but the newline and tab a
 * format asks for, no DEL, no C1 control, no bidi control and no byte that
 * is not UTF-8; --json output is exact JSON (the strings parse back to what
 * was stored), and ASCII only, so it is safe on a terminal too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Whether the one-byte character c is shown as \xNN under flags. */
static bool byte_unsafe(unsigned char c, unsigned flags)
{
	if (c == '\n')
		return !(flags & TC_SAFE_NL);
	if (c == '\t')
		return !(flags & TC_SAFE_TAB);
	return tc_utf8_unsafe(c);
}

int tc_cli_safe_add(struct tc_buf *b, const char *s, size_t len, size_t max,
		    unsigned flags)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, k;
	uint32_t cp = 0;
	char e[8];
	int r = 0;

	if (!b->data)
		r = tc_buf_adds(b, ""); /* "" for an empty s, as a string */
	while (r == 0 && i < len && (!max || i < max)) {
		n = tc_utf8_decode(p + i, len - i, &cp);
		if (n == 0 || (n == 1 && byte_unsafe(p[i], flags))) {
			/* one byte: a control, or not UTF-8 */
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex[p[i] >> 4];
			e[3] = hex[p[i] & 15];
			k = 4;
			n = 1;
		} else if (n > 1 && tc_utf8_unsafe(cp)) {
			/* a C1 or bidi control */
			snprintf(e, sizeof(e), "\\u%04x", (unsigned)cp);
			k = 6;
		} else {
			k = 0;
		}
		if ((max && i + n > max) || b->len + (k ? k : n) + 3 > b->max)
			break;
		r = k ? tc_buf_add(b, e, k) : tc_buf_add(b, p + i, n);
		i += n;
	}
	if (r == 0 && i < len)
		r = tc_buf_adds(b, "...");
	return r;
}

const char *tc_cli_safe(struct tc_buf *b, const char *s, size_t len)
{
	tc_buf_reset(b);
	(void)tc_cli_safe_add(b, s ? s : "", s ? len : 0, 0, 0);
	return b->data ? b->data : "";
}

const char *tc_cli_safes(struct tc_buf *b, const char *s)
{
	return tc_cli_safe(b, s, s ? strlen(s) : 0);
}

void tc_cli_put(FILE *f, const char *fmt, const char *s, size_t len, size_t max)
{
	struct tc_buf b;

	tc_buf_init(&b, TC_CLI_SHOW_MAX);
	(void)tc_cli_safe_add(&b, s ? s : "", s ? len : 0, max, 0);
	fprintf(f, fmt, b.data ? b.data : "");
	tc_buf_release(&b);
}

void tc_cli_puts(FILE *f, const char *fmt, const char *s)
{
	tc_cli_put(f, fmt, s, s ? strlen(s) : 0, 0);
}

json_t *tc_cli_json_string(const char *s, size_t len)
{
	json_t *j = json_stringn(s ? s : "", s ? len : 0);
	struct tc_buf b;
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n;
	uint32_t cp;

	if (j || !s)
		return j;
	/* Not UTF-8: the characters that are stay exact, each byte that is
	 * not becomes the text \xNN (jansson takes UTF-8 only). */
	tc_buf_init(&b, 4 * len + 8);
	(void)tc_buf_adds(&b, "");
	for (i = 0; i < len; i += n) {
		n = tc_utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			(void)tc_buf_printf(&b, "\\x%02x", p[i]);
			n = 1;
		} else {
			(void)tc_buf_add(&b, p + i, n);
		}
	}
	j = b.data ? json_stringn(b.data, b.len) : NULL;
	tc_buf_release(&b);
	return j;
}

int tc_cli_json_print(FILE *f, const json_t *o, size_t flags)
{
	char *text = json_dumps(o, flags | JSON_ENSURE_ASCII);
	const char *p, *del;

	if (!text)
		return -1;
	/* DEL is ASCII, and jansson leaves it: inside JSON it can only be in a
	 * string, where \u007f says the same. */
	for (p = text; (del = strchr(p, 0x7f)); p = del + 1) {
		fwrite(p, 1, (size_t)(del - p), f);
		fputs("\\u007f", f);
	}
	fprintf(f, "%s\n", p);
	free(text);
	return 0;
}
