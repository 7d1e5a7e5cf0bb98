/*
 * Phone numbers, with libphonenumber: parsed (international "+44 7911
 * 123456", or national "(415) 555-0100" in the default region), accepted
 * when libphonenumber finds the number possible for its country (Debian's
 * metadata is from 2022: a fictional test number is often possible but not
 * valid), and written as E.164, with whether it is a fixed line.
 *
 * libphonenumber logs to stderr by default: a logger that drops it keeps
 * outside text out of tocsind's output.
 */
#include <cstring>
#include <new>
#include <string>

#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumberutil.h>

#include "common/phone.h"

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

class Quiet : public i18n::phonenumbers::Logger {
public:
	void WriteMessage(const std::string &) override {}
};

PhoneNumberUtil *util()
{
	// Made once, thread-safely (C++11 statics); GetInstance is a
	// singleton too.
	static PhoneNumberUtil *u = [] {
		PhoneNumberUtil *p = PhoneNumberUtil::GetInstance();

		p->SetLogger(new Quiet());
		return p;
	}();
	return u;
}

tc_phone_err parse_err(PhoneNumberUtil::ErrorType e)
{
	switch (e) {
	case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
		return TC_PHONE_NO_COUNTRY;
	case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
	case PhoneNumberUtil::TOO_SHORT_NSN:
		return TC_PHONE_TOO_SHORT;
	case PhoneNumberUtil::TOO_LONG_NSN:
		return TC_PHONE_TOO_LONG;
	default:
		return TC_PHONE_NOT_A_NUMBER;
	}
}

tc_phone_err possible_err(PhoneNumberUtil::ValidationResult r)
{
	switch (r) {
	case PhoneNumberUtil::INVALID_COUNTRY_CODE:
		return TC_PHONE_BAD_COUNTRY;
	case PhoneNumberUtil::TOO_SHORT:
		return TC_PHONE_TOO_SHORT;
	case PhoneNumberUtil::TOO_LONG:
		return TC_PHONE_TOO_LONG;
	default:
		return TC_PHONE_BAD_LENGTH;
	}
}

} // namespace

extern "C" tc_phone_err tc_phone_e164(const char *s, const char *region, char *out,
				      size_t n, tc_phone_kind *kind)
{
	*kind = TC_PHONE_OTHER;
	try {
		PhoneNumberUtil *u = util();
		PhoneNumber num;
		std::string e164;
		PhoneNumberUtil::ErrorType e;
		PhoneNumberUtil::ValidationResult v;

		// "ZZ" is libphonenumber's unknown region: +country required.
		e = u->Parse(s, region && region[0] ? region : "ZZ", &num);
		if (e != PhoneNumberUtil::NO_PARSING_ERROR)
			return parse_err(e);
		v = u->IsPossibleNumberWithReason(num);
		if (v != PhoneNumberUtil::IS_POSSIBLE &&
		    v != PhoneNumberUtil::IS_POSSIBLE_LOCAL_ONLY)
			return possible_err(v);
		u->Format(num, PhoneNumberUtil::E164, &e164);
		if (e164.size() >= n)
			return TC_PHONE_TOO_LONG;
		std::memcpy(out, e164.c_str(), e164.size() + 1);
		if (u->GetNumberType(num) == PhoneNumberUtil::FIXED_LINE)
			*kind = TC_PHONE_FIXED_LINE;
		return TC_PHONE_OK;
	} catch (const std::bad_alloc &) {
		return TC_PHONE_NO_MEMORY;
	}
}
