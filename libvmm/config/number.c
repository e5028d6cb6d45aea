/* SPDX-License-Identifier: MIT */
/* number.c - the number, duration and yes-or-no syntax of vmm.ini(5), shared with plugins' keys. */
#include <ctype.h>
#include <string.h>

#include "vmm_internal.h"

/*
 * strtoull() would accept "-1", " 1", octal and a second "0x", none of
 * which a config should mean: the digits are read here, one at a time.
 */
int vmmi_parse_digits(const char **s, uint64_t *out)
{
	const char *c = *s;
	unsigned base = 10, d;
	uint64_t v = 0;

	if (c[0] == '0' && (c[1] == 'x' || c[1] == 'X')) {
		base = 16;
		c += 2;
	}
	if (!isxdigit((unsigned char)*c) || (base == 10 && !isdigit((unsigned char)*c)))
		return -EINVAL;
	for (;; c++) {
		if (isdigit((unsigned char)*c))
			d = *c - '0';
		else if (base == 16 && isxdigit((unsigned char)*c))
			d = tolower((unsigned char)*c) - 'a' + 10;
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*s = c;
	*out = v;
	return 0;
}

/* Multiply without wrapping: -ERANGE instead. */
static int scale(uint64_t v, uint64_t mul, uint64_t *out)
{
	if (mul && v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

int vmmi_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mul = 1;
	int ret = vmmi_parse_digits(&s, &v);

	if (ret)
		return ret;
	switch (*s) {
	case '\0':
		break;
	case 'K':
	case 'k':
		mul = 1ull << 10;
		s++;
		break;
	case 'M':
	case 'm':
		mul = 1ull << 20;
		s++;
		break;
	case 'G':
	case 'g':
		mul = 1ull << 30;
		s++;
		break;
	default:
		return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	return scale(v, mul, out);
}

int vmmi_parse_duration_ms(const char *s, uint64_t *out)
{
	uint64_t v, mul;
	int ret = vmmi_parse_digits(&s, &v);

	if (ret)
		return ret;
	if (!strcmp(s, "ms"))
		mul = 1;
	else if (!strcmp(s, "s") || !*s)
		mul = 1000;
	else if (!strcmp(s, "m"))
		mul = 60000;
	else
		return -EINVAL;
	return scale(v, mul, out);
}

/* The spellings INI files commonly use; lower case, like every enumerated value. */
int vmmi_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
			*out = !strcmp(s, yes[i]);
			return 0;
		}
	}
	return -EINVAL;
}
