/*
 * libphonenumber behind a C interface (phone.cc, tocsin's one C++ file):
 * plain C types only, since common.h is not C++. Callers use
 * tc_addr_phone_normalize (common.h), which words the errors.
 */
#ifndef TC_COMMON_PHONE_H
#define TC_COMMON_PHONE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What libphonenumber knows of a number's kind: only a fixed line matters
 * (it cannot receive SMS). */
enum tc_phone_kind { TC_PHONE_OTHER, TC_PHONE_FIXED_LINE };

enum tc_phone_err {
	TC_PHONE_OK,
	TC_PHONE_NO_COUNTRY,    /* national spelling, no region */
	TC_PHONE_NOT_A_NUMBER,
	TC_PHONE_TOO_SHORT,
	TC_PHONE_TOO_LONG,
	TC_PHONE_BAD_COUNTRY,   /* no such country code */
	TC_PHONE_BAD_LENGTH,    /* not a possible length for its country */
	TC_PHONE_NO_MEMORY,
};

/* Parses s (international, or national in region, "US"; NULL or "":
 * none) and, when libphonenumber finds it possible, writes its E.164 form
 * into out (n bytes) and its kind. */
enum tc_phone_err tc_phone_e164(const char *s, const char *region, char *out,
				size_t n, enum tc_phone_kind *kind);

#ifdef __cplusplus
}
#endif

#endif
