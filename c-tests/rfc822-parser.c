/* Drives every function of rfc822-parser.h over a set of inputs and
   prints what each call returned, how far it moved, what it appended and
   the last comment seen. c-tests/run builds this once against Debian's
   libdovecot.so.0 alone (the expected output) and once with our library
   first, and compares the two. */
#include "lib.h"
#include "str.h"
#include "rfc822-parser.h"

#include "c-tests.h"

static const struct input inputs[] = {
	INPUT(""),
	INPUT("atom"),
	INPUT("  atom rest"),
	INPUT("atom (comment) rest"),
	INPUT("(outer (nested) \\) escaped) atom"),
	INPUT("(unclosed comment"),
	INPUT("(ends in backslash\\"),
	INPUT("(folded\r\n comment) x"),
	INPUT("first.second . third"),
	INPUT("dot.atom."),
	INPUT(".leading"),
	INPUT("\"quoted \\\"string\\\"\" after"),
	INPUT("\"folded\r\n quoted\""),
	INPUT("\"unclosed"),
	INPUT("\"nul\0inside\" x"),
	INPUT("(nul\0comment) x"),
	INPUT("John \"Q.\" Public <jqp@example.com>"),
	INPUT("Mr. John. Smith"),
	INPUT("@example.com rest"),
	INPUT("@ sub . example . org"),
	INPUT("@[192.0.2.1] x"),
	INPUT("@[bad[literal]"),
	INPUT("@[nul\0lit]"),
	INPUT("@[esc\\\r\nx]"),
	INPUT("@"),
	INPUT("text/plain; charset=us-ascii"),
	INPUT("Text/HTML ; charset=\"UTF-8\"; format=flowed"),
	INPUT("multipart/mixed; boundary=\"=_a b\"; x=y"),
	INPUT("text"),
	INPUT("text/"),
	INPUT("text/plain garbage"),
	INPUT("/plain"),
	INPUT("text / plain (comment); name==?utf-8?b?Zm9v?= ; q=\"x\""),
	INPUT("application/octet-stream; name=\"unclosed"),
	INPUT("a/b; novalue; c=d"),
	INPUT("a/b; =x"),
	INPUT("a/b; k="),
	INPUT("a/b;k=v;k2=\"v\\\\2\""),
	INPUT("token?with=specials/and.dots"),
	INPUT("\x80\xff 8bit"),
	INPUT("tab\tseparated\r\n\tfolded"),
};

typedef int parse_func(struct rfc822_parser_context *ctx, string_t *str);

struct reader {
	const char *name;
	parse_func *func;
	/* the byte the function requires under the cursor, or 0 */
	char first;
};

static const struct reader readers[] = {
	{ "atom", rfc822_parse_atom, 0 },
	{ "dot_atom", rfc822_parse_dot_atom, 0 },
	{ "mime_token", rfc822_parse_mime_token, 0 },
	{ "quoted_string", rfc822_parse_quoted_string, '"' },
	{ "phrase", rfc822_parse_phrase, 0 },
	{ "domain", rfc822_parse_domain, '@' },
	{ "content_type", rfc822_parse_content_type, 0 },
};

static void print_state(const struct rfc822_parser_context *ctx,
			const struct input *input, int ret, string_t *str,
			string_t *comment)
{
	printf(" ret=%d at=%td", ret,
	       ctx->data - (const unsigned char *)input->data);
	if (str != NULL) {
		printf(" str=");
		print_escaped(str_data(str), str_len(str));
	}
	printf(" comment=");
	print_escaped(str_data(comment), str_len(comment));
	putchar('\n');
}

static bool at_required(const struct rfc822_parser_context *ctx, char first)
{
	return first == 0 || (ctx->data < ctx->end && *ctx->data == first);
}

/* Skip leading LWSP, then call the reader while input remains. */
static void run_reader(const struct input *input, const struct reader *reader,
		       const char *nul_replacement)
{
	struct rfc822_parser_context ctx;
	string_t *str = t_str_new(64), *comment = t_str_new(64);
	int ret;

	rfc822_parser_init(&ctx, (const unsigned char *)input->data,
			   input->size, comment);
	ctx.nul_replacement_str = nul_replacement;
	ret = rfc822_skip_lwsp(&ctx);
	printf("  %s: skip_lwsp", reader->name);
	print_state(&ctx, input, ret, NULL, comment);

	for (int round = 0; ret > 0 && round < 6; round++) {
		if (!at_required(&ctx, reader->first))
			break;
		str_truncate(str, 0);
		ret = reader->func(&ctx, str);
		printf("  %s", reader->name);
		print_state(&ctx, input, ret, str, comment);
	}
	if (ret >= 0)
		rfc822_parser_deinit(&ctx);
}

static void run_comment(const struct input *input)
{
	struct rfc822_parser_context ctx;
	string_t *comment = t_str_new(64);

	rfc822_parser_init(&ctx, (const unsigned char *)input->data,
			   input->size, comment);
	ctx.nul_replacement_str = RFC822_NUL_REPLACEMENT_STR;
	if (!at_required(&ctx, '('))
		return;
	printf("  skip_comment");
	print_state(&ctx, input, rfc822_skip_comment(&ctx), NULL, comment);
}

/* Content-Type value and then its parameters, the way lib-mail's MIME
   code reads them. */
static void run_content_type(const struct input *input)
{
	struct rfc822_parser_context ctx;
	string_t *str = t_str_new(64), *value = t_str_new(64);
	string_t *comment = t_str_new(64);
	const char *key;
	int ret;

	rfc822_parser_init(&ctx, (const unsigned char *)input->data,
			   input->size, comment);
	ret = rfc822_parse_content_type(&ctx, str);
	printf("  content_type+params");
	print_state(&ctx, input, ret, str, comment);
	for (int round = 0; ret >= 0 && round < 8; round++) {
		ret = rfc822_parse_content_param(&ctx, &key, value);
		printf("  param key=%s", ret > 0 ? key : "(none)");
		print_state(&ctx, input, ret, value, comment);
		if (ret <= 0)
			break;
	}
}

static void print_atext_table(void)
{
	printf("rfc822_atext_chars:");
	for (int c = 0; c < 256; c++)
		printf("%s%d", c % 32 == 0 ? "\n  " : "", rfc822_atext_chars[c]);
	printf("\nIS_ATEXT('a')=%d IS_ATEXT_NON_TSPECIAL('/')=%d\n",
	       IS_ATEXT('a'), IS_ATEXT_NON_TSPECIAL('/'));
}

int main(void)
{
	lib_init();
	print_atext_table();
	for (size_t i = 0; i < N_ELEMENTS(inputs); i++) T_BEGIN {
		printf("input ");
		print_escaped((const unsigned char *)inputs[i].data,
			      inputs[i].size);
		putchar('\n');
		for (size_t r = 0; r < N_ELEMENTS(readers); r++) {
			run_reader(&inputs[i], &readers[r], NULL);
			run_reader(&inputs[i], &readers[r],
				   RFC822_NUL_REPLACEMENT_STR);
		}
		run_comment(&inputs[i]);
		run_content_type(&inputs[i]);
	} T_END;
	lib_deinit();
	return 0;
}
