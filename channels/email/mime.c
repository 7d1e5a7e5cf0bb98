/*
 * The email message: RFC 5322 headers and a MIME body built with GMime 3,
 * written once into the delivery's tc_msg (msg->wire) with CRLF line ends.
 * libesmtp sends those bytes as they are (it only dot-stuffs, and adds
 * no header the message already has), and `tocsin preview --channel
 * email` prints them, so a preview is the message sent.
 *
 * Keeps true: every header tocsin sets is one line of ASCII after GMime's
 * RFC 2047 encoding and folding; text from outside (names, the subject,
 * the incident) has its control characters replaced by spaces first, so
 * nothing from a template or a job can start a header of its own. The
 * Message-ID is the delivery id, so a retried message is the same message
 * to a mail client; messages about one incident to one recipient point
 * at one thread root that is computed, never looked up.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <gmime/gmime.h>

#include "channels/email/email.h"

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_start(void)
{
	g_mime_init();
}

/* s with every control character (and DEL) a space, and without spaces
 * at either end (a subject's final newline), as a new string. */
static char *one_line(const char *s)
{
	char *t = g_strdup(s ? s : "");
	unsigned char *p;

	for (p = (unsigned char *)t; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return g_strstrip(t);
}

/* 16 hex characters of SHA-256(tag NUL s), s lowercased when lower. */
static void hash16(const char *tag, const char *s, bool lower, char out[17])
{
	size_t tl = strlen(tag) + 1, sl = strlen(s), i;
	unsigned char *in = g_malloc(tl + sl);

	memcpy(in, tag, tl);
	for (i = 0; i < sl; i++)
		in[tl + i] = (unsigned char)(lower ? g_ascii_tolower(s[i]) : s[i]);
	tc_sha256_hex(in, tl + sl, 16, out);
	g_free(in);
}

void tc_email_thread_root(const char *incident, const char *address,
			  const char *domain, char *out, size_t n)
{
	char ih[17], rh[17];

	hash16("tocsin-thread-incident", incident, false, ih);
	hash16("tocsin-thread-recipient", address, true, rh);
	snprintf(out, n, "thread.%s.%s@%s", ih, rh, domain);
}

/* A text/SUBTYPE part of UTF-8 text, in the encoding GMime finds best for
 * a 7-bit path: 7bit when it may go as it is, else quoted-printable or
 * base64 (which also keeps every line within RFC 5322's 998). */
static GMimeObject *text_part(const char *subtype, const struct tc_buf *b)
{
	GMimePart *part = g_mime_part_new_with_type("text", subtype);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(b->data ? b->data : "",
							   b->data ? b->len : 0);
	GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(
		s, GMIME_CONTENT_ENCODING_DEFAULT);

	g_mime_part_set_content(part, w);
	g_object_unref(w);
	g_object_unref(s);
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
	g_mime_part_set_content_encoding(part, g_mime_part_get_best_content_encoding(
		part, GMIME_ENCODING_CONSTRAINT_7BIT));
	return GMIME_OBJECT(part);
}

static GMimeObject *body(const struct tc_msg *msg)
{
	GMimeMultipart *alt;
	GMimeObject *t = text_part("plain", &msg->part[TC_PART_EMAIL_TXT]), *h;

	if (!msg->part[TC_PART_EMAIL_HTML].data)
		return t;
	h = text_part("html", &msg->part[TC_PART_EMAIL_HTML]);
	alt = g_mime_multipart_new_with_subtype("alternative");
	g_mime_multipart_add(alt, t);
	g_mime_multipart_add(alt, h);
	g_object_unref(t);
	g_object_unref(h);
	return GMIME_OBJECT(alt);
}

/* The headers, in the order a reader expects them. */
static void headers(GMimeMessage *m, const struct tc_email_cfg *cfg,
		    const struct tc_chan_dlv *v, const char *subject)
{
	GMimeObject *o = GMIME_OBJECT(m);
	const char *domain = strrchr(cfg->from_addr, '@') + 1;
	char id[TC_DELIVERY_ID_LEN + 2 * TC_LIMIT_ADDRESS + 96];
	char root[64 + TC_LIMIT_ADDRESS];
	char *name, *text;
	GDateTime *now;

	name = one_line(cfg->from_name);
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, name, cfg->from_addr);
	g_free(name);
	name = one_line(v->member->name);
	g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, name, v->address);
	g_free(name);
	if (cfg->reply_to)
		g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_REPLY_TO, NULL,
					   cfg->reply_to);
	text = one_line(subject);
	g_mime_message_set_subject(m, text, "utf-8");
	g_free(text);
	now = g_date_time_new_now_utc();
	g_mime_message_set_date(m, now);
	g_date_time_unref(now);
	snprintf(id, sizeof(id), "%s@%s", v->id, domain);
	g_mime_message_set_message_id(m, id);
	if (v->job->incident) {
		tc_email_thread_root(v->job->incident, v->address, domain, root,
				     sizeof(root));
		snprintf(id, sizeof(id), "<%s>", root);
		g_mime_object_append_header(o, "In-Reply-To", id, NULL);
		g_mime_object_append_header(o, "References", id, NULL);
	}
	g_mime_object_append_header(o, "MIME-Version", "1.0", NULL);
	/* RFC 3834: vacation responders and autoresponders stay quiet. */
	g_mime_object_append_header(o, "Auto-Submitted", "auto-generated", NULL);
	g_mime_object_append_header(o, "X-Tocsin-Job", v->job->id, NULL);
	if (v->job->incident) {
		text = one_line(v->job->incident);
		g_mime_object_append_header(o, "X-Tocsin-Incident", text, "utf-8");
		g_free(text);
	}
	g_mime_object_append_header(o, "X-Tocsin-Delivery", v->id, NULL);
}

int tc_email_mime(const struct tc_email_cfg *cfg, const struct tc_chan_dlv *v,
		  struct tc_msg *msg, char *why, size_t n)
{
	GMimeFormatOptions *fo;
	GMimeMessage *m;
	GMimeObject *b;
	GMimeStream *out;
	GByteArray *bytes;
	int r = 0;

	pthread_once(&gmime_once, gmime_start);
	m = g_mime_message_new(FALSE);
	headers(m, cfg, v, msg->part[TC_PART_EMAIL_SUBJECT].data);
	b = body(msg);
	g_mime_message_set_mime_part(m, b);
	g_object_unref(b);
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	out = g_mime_stream_mem_new();
	g_mime_object_write_to_stream(GMIME_OBJECT(m), fo, out);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	tc_buf_reset(&msg->wire);
	if (tc_buf_add(&msg->wire, bytes->data, bytes->len) < 0) {
		snprintf(why, n, "message of %u bytes larger than the limit of %u "
			 "(TC_LIMIT_EMAIL_MESSAGE)", bytes->len, TC_LIMIT_EMAIL_MESSAGE);
		r = TC_ELIMIT;
	}
	g_object_unref(out);
	g_mime_format_options_free(fo);
	g_object_unref(m);
	return r;
}
