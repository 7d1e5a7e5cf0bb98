/*
 * SMS encoding: which alphabet a text needs (GSM 03.38 or UCS-2), how many
 * characters and segments it takes, and cutting it to fit the configured
 * number of segments.
 *
 * What it keeps true: a count here is what the network carries. An
 * extension character is an escape and a septet, a character outside the
 * BMP a surrogate pair, and neither pair is ever split across segments, so
 * a segment may hold one fewer than its nominal size. A cut falls between
 * characters, never inside one.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "templates/templates.h"

#define BAD_CP      0xffffffffu /* a byte that starts no valid sequence */
#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define MARKER_GSM  "..."
#define MARKER_UCS2 "\xe2\x80\xa6" /* U+2026, one UTF-16 unit */

/* The GSM 03.38 default alphabet beyond printable ASCII (LF and CR are
 * in it too). */
static const uint16_t gsm_basic_high[] = {
	0x00a3, 0x00a5, 0x00e8, 0x00e9, 0x00f9, 0x00ec, 0x00f2, 0x00c7, /* £¥èéùìòÇ */
	0x00d8, 0x00f8, 0x00c5, 0x00e5, 0x0394, 0x03a6, 0x0393, 0x039b, /* ØøÅåΔΦΓΛ */
	0x03a9, 0x03a0, 0x03a8, 0x03a3, 0x0398, 0x039e, 0x00c6, 0x00e6, /* ΩΠΨΣΘΞÆæ */
	0x00df, 0x00c9, 0x00a4, 0x00a1, 0x00c4, 0x00d6, 0x00d1, 0x00dc, /* ßÉ¤¡ÄÖÑÜ */
	0x00a7, 0x00bf, 0x00e4, 0x00f6, 0x00f1, 0x00fc, 0x00e0,         /* §¿äöñüà */
};

/* Printable ASCII that is in the extension table (an escape and a septet). */
static const char gsm_ext_ascii[] = "^{}\\[~]|";

/* The septets cp takes in GSM-7: 1, 2 (the extension table), or 0 when
 * GSM-7 cannot carry it. */
static unsigned gsm_septets(uint32_t cp)
{
	size_t i;

	if (cp == '\n' || cp == '\r')
		return 1;
	if (cp == '\f' || cp == 0x20ac) /* form feed, euro sign */
		return 2;
	if (cp >= 0x20 && cp < 0x7f) {
		if (cp == '`')
			return 0;
		return strchr(gsm_ext_ascii, (int)cp) ? 2 : 1;
	}
	for (i = 0; i < sizeof(gsm_basic_high) / sizeof(gsm_basic_high[0]); i++)
		if (gsm_basic_high[i] == cp)
			return 1;
	return 0;
}

/* Decodes the character at s (n > 0 bytes left). Returns its length in
 * bytes; *cp is the code point, or BAD_CP (length 1) for a byte that starts
 * no valid sequence: overlong forms, surrogates and values past U+10FFFF
 * included. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len = tc_utf8_decode(s, n, cp);

	if (len)
		return len;
	*cp = BAD_CP;
	return 1;
}

/* What cp takes in the encoding: septets, or UTF-16 units. */
static unsigned width(bool gsm, uint32_t cp)
{
	if (gsm)
		return gsm_septets(cp);
	return cp != BAD_CP && cp > 0xffff ? 2 : 1;
}

static bool all_gsm(const unsigned char *s, size_t n)
{
	size_t off = 0;
	uint32_t cp;

	while (off < n) {
		off += utf8_decode(s + off, n - off, &cp);
		if (cp == BAD_CP || !gsm_septets(cp))
			return false;
	}
	return true;
}

/* Segments in use while characters are added one at a time. */
struct packing {
	unsigned seg;  /* segments begun (1 from the start) */
	unsigned used; /* septets or units in the last */
};

/* Adds a character of width w: it starts a new segment rather than be
 * split across two. */
static void pack(struct packing *pk, unsigned w, unsigned per)
{
	if (pk->used + w > per) {
		pk->seg++;
		pk->used = 0;
	}
	pk->used += w;
}

int tc_sms_measure(const char *utf8, size_t len, struct tc_sms_info *info)
{
	const unsigned char *s = (const unsigned char *)utf8;
	bool gsm = all_gsm(s, len);
	unsigned single = gsm ? TC_SMS_GSM_SINGLE : TC_SMS_UCS2_SINGLE;
	unsigned per = gsm ? TC_SMS_GSM_MULTI : TC_SMS_UCS2_MULTI;
	struct packing pk = { 1, 0 };
	size_t off = 0;
	unsigned chars = 0, w;
	uint32_t cp;

	if (len > UINT_MAX / 2)
		return TC_ELIMIT; /* past what a count can hold */
	while (off < len) {
		off += utf8_decode(s + off, len - off, &cp);
		w = width(gsm, cp);
		chars += w;
		pack(&pk, w, per);
	}
	info->gsm7 = gsm;
	info->chars = chars;
	info->segments = chars <= single ? 1 : pk.seg;
	info->truncated = false;
	return 0;
}

/* Replaces each invalid byte of text by U+FFFD. */
static int fix_utf8(struct tc_buf *text)
{
	const unsigned char *s = (const unsigned char *)text->data;
	struct tc_buf fixed;
	size_t off = 0, k;
	uint32_t cp;
	int r = 0;

	while (off < text->len) {
		k = utf8_decode(s + off, text->len - off, &cp);
		if (cp == BAD_CP)
			break;
		off += k;
	}
	if (off >= text->len)
		return 0; /* valid throughout (or empty) */
	tc_buf_init(&fixed, text->max);
	for (off = 0; r == 0 && off < text->len; off += k) {
		k = utf8_decode(s + off, text->len - off, &cp);
		r = cp == BAD_CP ? tc_buf_adds(&fixed, REPLACEMENT) :
				   tc_buf_add(&fixed, s + off, k);
	}
	if (r < 0) {
		tc_buf_release(&fixed);
		return r;
	}
	tc_buf_release(text);
	*text = fixed;
	return 0;
}

/* Whether marker characters (each of width 1) still fit after pk. */
static bool marker_fits(struct packing pk, unsigned per, unsigned max_segments,
			unsigned marker_chars)
{
	while (marker_chars--)
		pack(&pk, 1, per);
	return pk.seg <= max_segments;
}

/* The longest prefix of s (n bytes), cut between characters, that fits
 * max_segments with the marker after it, in at most max_bytes. */
static size_t cut_point(const char *text, size_t n, bool gsm,
			unsigned max_segments, size_t max_bytes)
{
	const unsigned char *s = (const unsigned char *)text;
	unsigned per = max_segments == 1 ?
		       (gsm ? TC_SMS_GSM_SINGLE : TC_SMS_UCS2_SINGLE) :
		       (gsm ? TC_SMS_GSM_MULTI : TC_SMS_UCS2_MULTI);
	unsigned marker_chars = gsm ? strlen(MARKER_GSM) : 1;
	size_t marker_bytes = gsm ? strlen(MARKER_GSM) : strlen(MARKER_UCS2);
	struct packing pk = { 1, 0 };
	size_t off = 0, best = 0;
	uint32_t cp;

	while (off < n) {
		if (off + marker_bytes <= max_bytes &&
		    marker_fits(pk, per, max_segments, marker_chars))
			best = off;
		off += utf8_decode(s + off, n - off, &cp);
		pack(&pk, width(gsm, cp), per);
		if (pk.seg > max_segments)
			break;
	}
	return best;
}

static bool is_trailing_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

int tc_sms_fit(struct tc_buf *text, unsigned max_segments,
	       enum tc_overflow overflow, struct tc_sms_info *info,
	       struct tc_diag *d)
{
	struct tc_sms_info in;
	size_t cut;
	int r;

	if (max_segments == 0)
		max_segments = 1;
	/* a template file's final newline is not worth a character */
	while (text->len > 0 && is_trailing_space(text->data[text->len - 1]))
		text->data[--text->len] = '\0';
	r = fix_utf8(text);
	if (r == 0)
		r = tc_sms_measure(text->data ? text->data : "", text->len, &in);
	if (r < 0)
		return r;
	if (in.segments <= max_segments) {
		if (info)
			*info = in;
		return 0;
	}
	if (overflow == TC_OVERFLOW_REJECT) {
		if (d)
			tc_diag_set(d, NULL, 0, NULL, "sms.txt renders to %u segments, "
				    "more than channels.sms.max_segments %u",
				    in.segments, max_segments);
		return TC_EINVAL;
	}
	cut = cut_point(text->data, text->len, in.gsm7, max_segments, text->max);
	while (cut > 0 && is_trailing_space(text->data[cut - 1]))
		cut--;
	text->len = cut;
	text->data[cut] = '\0';
	/* room was kept for the marker: this cannot pass text->max */
	r = tc_buf_adds(text, in.gsm7 ? MARKER_GSM : MARKER_UCS2);
	if (r == 0)
		r = tc_sms_measure(text->data, text->len, &in);
	if (r < 0)
		return r;
	in.truncated = true;
	if (info)
		*info = in;
	return 0;
}
