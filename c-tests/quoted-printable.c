/* Runs quoted_printable_q_decode() over a set of inputs, printing the
   return value and the decoded bytes. c-tests/run compares the output
   of Debian's libdovecot.so.0 with ours. */
#include "lib.h"
#include "buffer.h"
#include "quoted-printable.h"

#include "c-tests.h"

static const struct input inputs[] = {
	INPUT(""),
	INPUT("plain"),
	INPUT("a_b__c"),
	INPUT("=41=42=43"),
	INPUT("=4a=4A=c3=a4"),
	INPUT("=XY"),
	INPUT("=4"),
	INPUT("="),
	INPUT("abc="),
	INPUT("abc=4"),
	INPUT("=4G_x"),
	INPUT("==41"),
	INPUT("=\0" "1tail"),
	INPUT("=1\0tail"),
	INPUT("=_=20_"),
	INPUT("\xff=ff\x80"),
	INPUT("Keld_J=F8rn_Simonsen"),
	INPUT("=3D=3d=3"),
};

int main(void)
{
	lib_init();
	for (size_t i = 0; i < N_ELEMENTS(inputs); i++) T_BEGIN {
		buffer_t *dest = t_buffer_create(32);
		int ret;

		/* appends after what is already there */
		buffer_append(dest, ">", 1);
		ret = quoted_printable_q_decode(
			(const unsigned char *)inputs[i].data,
			inputs[i].size, dest);
		print_escaped((const unsigned char *)inputs[i].data,
			      inputs[i].size);
		printf(" ret=%d out=", ret);
		print_escaped(dest->data, dest->used);
		putchar('\n');
	} T_END;
	lib_deinit();
	return 0;
}
