/* SPDX-License-Identifier: MIT */
/* printf.c - a minimal printf on the console: integers, strings, characters, pointers. */
#include "vmm/guestlib.h"

/* Emit one character; also counts for the return value. */
static void emit(int *count, char c)
{
	vmm_guest_putc(c);
	(*count)++;
}

static void pad(int *count, char c, int n)
{
	while (n-- > 0)
		emit(count, c);
}

/* Unsigned integer in base 10 or 16, right aligned in width (left with '-'). */
static void put_uint(int *count, uint64_t v, unsigned base, int neg, int width, int zero, int left)
{
	char buf[24];
	int n = 0, len;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	len = n + neg;

	if (!left && !zero)
		pad(count, ' ', width - len);
	if (neg)
		emit(count, '-');
	if (!left && zero)
		pad(count, '0', width - len);
	while (n)
		emit(count, buf[--n]);
	if (left)
		pad(count, ' ', width - len);
}

/*
 * Supported: %% %c %s %d %i %u %x %p, the l and ll length modifiers, a field
 * width (digits or *), the '0' and '-' flags, and a precision on %s (digits
 * or *) so fixed-size names that may lack a NUL print safely.
 */
int vmm_guest_vprintf(const char *fmt, va_list ap)
{
	int count = 0;

	for (; *fmt; fmt++) {
		int zero = 0, left = 0, width = 0, prec = -1, lng = 0;
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			emit(&count, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = 1;
			else if (*fmt == '-')
				left = 1;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				width = width * 10 + (*fmt++ - '0');
		}
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9')
					prec = prec * 10 + (*fmt++ - '0');
			}
		}
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}

		switch (*fmt) {
		case '%':
			emit(&count, '%');
			break;
		case 'c':
			pad(&count, ' ', left ? 0 : width - 1);
			emit(&count, (char)va_arg(ap, int));
			pad(&count, ' ', left ? width - 1 : 0);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			int len;

			if (!str)
				str = "(null)";
			len = (int)strnlen(str, prec < 0 ? (size_t)-1 : (size_t)prec);
			pad(&count, ' ', left ? 0 : width - len);
			for (int i = 0; i < len; i++)
				emit(&count, str[i]);
			pad(&count, ' ', left ? width - len : 0);
			break;
		}
		case 'd':
		case 'i':
			s = lng ? va_arg(ap, long long) : va_arg(ap, int);
			/* Negate in unsigned arithmetic so INT64_MIN works too. */
			u = s < 0 ? -(uint64_t)s : (uint64_t)s;
			put_uint(&count, u, 10, s < 0, width, zero, left);
			break;
		case 'u':
			u = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
			put_uint(&count, u, 10, 0, width, zero, left);
			break;
		case 'x':
			u = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
			put_uint(&count, u, 16, 0, width, zero, left);
			break;
		case 'p':
			emit(&count, '0');
			emit(&count, 'x');
			put_uint(&count, (uintptr_t)va_arg(ap, void *), 16, 0, 0, 0, 0);
			break;
		case '\0':
			/* A lone '%' at the end: stop rather than read past the NUL. */
			return count;
		default:
			/* Unknown conversion: show it, so the mistake is visible. */
			emit(&count, '%');
			emit(&count, *fmt);
			break;
		}
	}
	return count;
}

int vmm_guest_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vmm_guest_vprintf(fmt, ap);
	va_end(ap);
	return n;
}
