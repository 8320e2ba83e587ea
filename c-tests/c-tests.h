/* Shared by the c-tests programs: byte-string inputs (which may hold
   NULs) and printing bytes unambiguously. */
#ifndef C_TESTS_H
#define C_TESTS_H

#include <stdio.h>

struct input {
	const char *data;
	size_t size;
};
#define INPUT(s) { s, sizeof(s) - 1 }

/* [bytes], with anything but printable ASCII (and '\') as \xHH */
static inline void print_escaped(const unsigned char *data, size_t size)
{
	putchar('[');
	for (size_t i = 0; i < size; i++) {
		if (data[i] >= 0x20 && data[i] < 0x7f && data[i] != '\\')
			putchar(data[i]);
		else
			printf("\\x%02x", data[i]);
	}
	putchar(']');
}

#endif
