/* The parts of Dovecot's rfc822-parser.h that are macros and inline
   code rather than exports. */
#define RFC2231_MAX_PARAMS 128
#define RFC822_NUL_REPLACEMENT_STR UNICODE_REPLACEMENT_CHAR_UTF8

#define IS_ATEXT(c) \
	(rfc822_atext_chars[(int)(unsigned char)(c)] != 0)
#define IS_ATEXT_NON_TSPECIAL(c) \
	((rfc822_atext_chars[(int)(unsigned char)(c)] & 3) != 0)

static inline void rfc822_parser_deinit(struct rfc822_parser_context *ctx)
{
	/* reading past the end would be a parser bug */
	i_assert(ctx->data <= ctx->end);
	ctx->data = ctx->end = NULL;
}
