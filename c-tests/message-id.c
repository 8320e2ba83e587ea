/* Runs message_id_get_next() over Message-ID, In-Reply-To and References
   values until it returns NULL, printing each ID and where the cursor
   stopped. c-tests/run compares the output of Debian's libdovecot.so.0
   with ours. */
#include "lib.h"
#include "message-id.h"

#include <stdio.h>

static const char *const values[] = {
	"",
	"<abc@example.com>",
	"  <abc@example.com>  <def@example.org>",
	"<no-at-sign> <real@x>",
	"<a b @ c d>",
	"<\"quoted local\"@example.com>",
	"<\"quoted\\\"escaped\"@example.com>",
	"<(comment)local@example.com>",
	"<local(comment)@example.com (another)>",
	"<local@[192.0.2.1]>",
	"<unterminated@example.com",
	"<\"unterminated@example.com",
	"<(unterminated@example.com",
	"garbage before <x@y> between <z@w> after",
	"<x@y><z@w>",
	"<<x@y>>",
	"<\"a\"@b> <\"broken@c> <d@e>",
	"<a.b.c@d.e.f>",
	"<a..b@c>",
	"<@>",
	"<x@>",
	"<@y>",
	"<\r\n abc@example.com\r\n>",
	"<\xc3\xa4@example.com>",
	"<x@y",
	"no ids at all",
	"<a@b> (comment <c@d>)",
};

int main(void)
{
	lib_init();
	for (size_t i = 0; i < N_ELEMENTS(values); i++) T_BEGIN {
		const char *cursor = values[i], *id;

		printf("value %zu:", i);
		for (int n = 0; n < 8; n++) {
			id = message_id_get_next(&cursor);
			printf(" [%s]@%td", id == NULL ? "NULL" : id,
			       cursor - values[i]);
			if (id == NULL)
				break;
		}
		putchar('\n');
	} T_END;
	{
		const char *null_cursor = NULL;
		printf("NULL cursor: %s\n",
		       message_id_get_next(&null_cursor) == NULL ?
		       "NULL" : "id");
	}
	lib_deinit();
	return 0;
}
