/* Runs rfc2231_parse() over Content-Type parameter lists (after the
   type/subtype, as lib-mail reads them), printing the returned pairs,
   the return value and where the parser stopped. c-tests/run compares
   the output of Debian's libdovecot.so.0 with ours. */
#include "lib.h"
#include "rfc822-parser.h"
#include "rfc2231-parser.h"

#include "c-tests.h"

static const struct input inputs[] = {
	INPUT(""),
	INPUT("; charset=us-ascii"),
	INPUT("; a=1; b=\"two words\"; c=3"),
	INPUT("; title*0=\"part one \"; title*1=\"part two\""),
	INPUT("; title*1=\"second\"; title*0=\"first\""),
	INPUT("; name*0*=utf-8''%C3%A4; name*1*=%C3%B6; name*2=plain"),
	INPUT("; name*=utf-8'en'%C3%A4bc"),
	INPUT("; t*0*=a; t*1*=b; n*=c"),
	INPUT("; x*0=a; x*2=c"),
	INPUT("; x*1=b"),
	INPUT("; broken; ok=yes"),
	INPUT("; =novalue; k=v"),
	INPUT("; k=\"unterminated"),
	INPUT("; k=\"nul\0inside\""),
	INPUT("; k=v (comment) ; k2 = v2"),
	INPUT("; K=V; k=v"),
	INPUT("; name==?utf-8?b?Zm9v?=; x=y"),
	INPUT("garbage; k=v"),
	INPUT(";;;; k=v"),
	INPUT("; a*0=1; a*01=2; a*1=3"),
	INPUT("; a*=x; a*0=y"),
};

static void print_string(const char *s)
{
	print_escaped((const unsigned char *)s, strlen(s));
}

int main(void)
{
	lib_init();
	for (size_t i = 0; i < N_ELEMENTS(inputs); i++) T_BEGIN {
		struct rfc822_parser_context ctx;
		const char *const *result;
		int ret;

		rfc822_parser_init(&ctx, (const unsigned char *)inputs[i].data,
				   inputs[i].size, NULL);
		ret = rfc2231_parse(&ctx, &result);
		printf("input %zu ret=%d at=%td nul=%s:", i, ret,
		       ctx.data - (const unsigned char *)inputs[i].data,
		       ctx.nul_replacement_str == NULL ? "NULL" : "set");
		for (; *result != NULL; result += 2) {
			putchar(' ');
			print_string(result[0]);
			putchar('=');
			print_string(result[1]);
		}
		putchar('\n');
	} T_END;
	lib_deinit();
	return 0;
}
