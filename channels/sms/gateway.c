/*
 * A generic SMS gateway (kind http), configured without code: the body is
 * a Mustache template rendered with {{to}} (E.164) and {{text}}, escaped
 * as a JSON string (content_type json) or form-encoded (form: the values
 * are encoded before rendering, and rendered as they are). The answer is
 * taken when its status is one of success.status (any 2xx without the
 * list) and, with success.pointer, the answer is JSON with a value there
 * (equal to success.equals, when given); message_id points at its id.
 *
 * A gateway that answers its success status but not the body that says
 * so has not taken the message as far as tocsind can tell: that is
 * transient, so another provider carries it (at least once).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/sms/provider.h"

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
	char *line;
	struct curl_slist *l;

	if (asprintf(&line, "%s: %s", name, value) < 0)
		return -ENOMEM;
	l = curl_slist_append(*list, line);
	memset(line, 0, strlen(line)); /* may hold a secret */
	free(line);
	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

/* The render data: to and text, form-encoded first for a form body. */
static json_t *body_data(const struct tc_sms_provider *p, const struct tc_sms_out *m)
{
	struct tc_buf to, text;
	json_t *data = NULL;

	if (p->content_type == TC_SMS_CONTENT_JSON)
		return json_pack("{s:s, s:s%}", "to", m->to, "text", m->text, m->text_len);
	tc_buf_init(&to, TC_LIMIT_ADDRESS * 3);
	tc_buf_init(&text, TC_LIMIT_BODY);
	if (tc_sms_form_escape(&to, m->to, strlen(m->to)) == 0 &&
	    tc_sms_form_escape(&text, m->text, m->text_len) == 0)
		data = json_pack("{s:s, s:s}", "to", to.data ? to.data : "",
				 "text", text.data ? text.data : "");
	tc_buf_release(&to);
	tc_buf_release(&text);
	return data;
}

int tc_sms_http_body(const struct tc_sms_provider *p, struct tc_tpl **out,
		     char *why, size_t n)
{
	char source[TC_LIMIT_PROVIDER + 32];
	struct tc_diag d;
	int r;

	memset(&d, 0, sizeof(d));
	snprintf(source, sizeof(source), "provider %.64s body", p->name);
	r = tc_tpl_compile(source, p->body, strlen(p->body), NULL, NULL, out, &d);
	if (r < 0)
		tc_diag_format(&d, why, n);
	return r;
}

static int http_build(const struct tc_sms_provider *p, const struct tc_sms_out *m,
		      struct tc_sms_req *q, char *why, size_t n)
{
	struct tc_diag d;
	json_t *data = NULL;
	char bearer[8 + 1024];
	size_t i;
	int r;

	memset(&d, 0, sizeof(d));
	if (!m->body) {
		snprintf(why, n, "the body template of provider %.64s does not compile",
			 p->name);
		return TC_EINVAL;
	}
	data = body_data(p, m);
	r = data ? tc_tpl_render(m->body, data, p->content_type == TC_SMS_CONTENT_JSON ?
				 TC_TPL_ESC_JSON : TC_TPL_ESC_NONE, &q->body, &d)
		 : -ENOMEM;
	json_decref(data);
	if (r < 0) {
		if (r != -ENOMEM)
			tc_diag_format(&d, why, n);
		return r;
	}
	q->method = p->method == TC_SMS_PUT ? "PUT" : NULL;
	q->url = strdup(p->url);
	r = q->url ? 0 : -ENOMEM;
	for (i = 0; i < p->n_headers && !r; i++)
		r = add_header(&q->headers, p->headers[i].name, p->headers[i].value);
	if (!r)
		r = add_header(&q->headers, "Content-Type",
			       p->content_type == TC_SMS_CONTENT_JSON ? "application/json"
			       : "application/x-www-form-urlencoded");
	if (!r && p->auth_token) {
		snprintf(bearer, sizeof(bearer), "Bearer %s", p->auth_token);
		r = add_header(&q->headers, "Authorization", bearer);
		memset(bearer, 0, sizeof(bearer));
	}
	if (!r && !curl_slist_append(q->headers, "Expect:"))
		r = -ENOMEM;
	return r;
}

static bool status_ok(const struct tc_sms_success *s, long status)
{
	size_t i;

	if (!s->n_status)
		return status >= 200 && status < 300;
	for (i = 0; i < s->n_status; i++)
		if ((long)s->status[i] == status)
			return true;
	return false;
}

void tc_sms_http_classify(const struct tc_sms_provider *p, long status,
			  const char *body, size_t len, struct tc_outcome *o)
{
	const struct tc_sms_success *s = &p->success;
	char sample[100], ptr[TC_LIMIT_LOG_VALUE + 16];
	json_t *root = NULL, *v;

	if (!status_ok(s, status)) {
		tc_sms_status_outcome(status, NULL, o);
		return;
	}
	if (s->pointer || p->message_id)
		root = json_loadb(body, len, 0, NULL);
	if (s->pointer) {
		tc_log_quote(ptr, sizeof(ptr), s->pointer);
		v = tc_sms_json_at(root, s->pointer);
		o->kind = TC_OUT_TRANSIENT;
		tc_sms_body_sample(body, len, sample, sizeof(sample));
		if (!root) {
			snprintf(o->detail, sizeof(o->detail), "http %ld, but the answer "
				 "is not JSON: %s", status, sample);
			goto out;
		}
		if (!v || (s->equals && !json_equal(v, s->equals))) {
			snprintf(o->detail, sizeof(o->detail), "http %ld, but the answer "
				 "%s at %.60s: %.100s", status, v ? "has another value" :
				 "has nothing", ptr, sample);
			goto out;
		}
	}
	o->kind = TC_OUT_SENT;
	snprintf(o->detail, sizeof(o->detail), "accepted (http %ld)", status);
	if (p->message_id && !tc_sms_json_text(root, p->message_id, o->provider_id,
					       sizeof(o->provider_id)))
		o->provider_id[0] = '\0';
out:
	json_decref(root);
}

const struct tc_sms_kind_ops tc_sms_http_ops = {
	.build = http_build,
	.classify = tc_sms_http_classify,
};
