/* Prints the size, alignment and field offsets of every struct our
   headers share with Dovecot's. c-tests/run compiles it once against
   Dovecot's installed headers and once against include/, and compares.
   (The Rust side asserts the same against bindgen's reading of Dovecot's
   headers at compile time: assert_same_layout! in src/capi.) */
#include "lib.h"
#include "rfc822-parser.h"
#include "message-address.h"

#include <stddef.h>
#include <stdio.h>

#define STRUCT(type) \
	printf("struct %s: size %zu align %zu\n", #type, \
	       sizeof(struct type), _Alignof(struct type))
#define FIELD(type, field) \
	printf("  %s.%s: offset %zu size %zu\n", #type, #field, \
	       offsetof(struct type, field), \
	       sizeof(((struct type *)0)->field))

int main(void)
{
	STRUCT(rfc822_parser_context);
	FIELD(rfc822_parser_context, data);
	FIELD(rfc822_parser_context, end);
	FIELD(rfc822_parser_context, last_comment);
	FIELD(rfc822_parser_context, nul_replacement_str);
	printf("rfc822_atext_chars: size %zu\n", sizeof(rfc822_atext_chars));

	STRUCT(message_address);
	FIELD(message_address, prev);
	FIELD(message_address, next);
	FIELD(message_address, name);
	FIELD(message_address, route);
	FIELD(message_address, mailbox);
	FIELD(message_address, domain);
	FIELD(message_address, invalid_syntax);
	STRUCT(message_address_list);
	FIELD(message_address_list, head);
	FIELD(message_address_list, tail);
	FIELD(message_address_list, count);
	printf("MESSAGE_ADDRESS_PARSE_FLAG_FILL_MISSING=%d STRICT_DOTS=%d\n",
	       MESSAGE_ADDRESS_PARSE_FLAG_FILL_MISSING,
	       MESSAGE_ADDRESS_PARSE_FLAG_STRICT_DOTS);
	return 0;
}
