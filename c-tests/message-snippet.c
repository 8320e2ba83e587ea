/* Runs message_snippet_generate() over messages read from memory
   istreams, with several snippet lengths, printing each snippet.
   c-tests/run compares the output of Debian's libdovecot.so.0 with
   ours. */
#include "lib.h"
#include "str.h"
#include "istream.h"
#include "message-snippet.h"

#include "c-tests.h"

static const struct input messages[] = {
	INPUT(""),
	INPUT("Subject: plain\n\nHello world,\nthis is   the body.\n"),
	INPUT("Subject: crlf\r\n\r\nLine one\r\nLine two\r\n"),
	INPUT("Subject: quoted\n\n> quoted line\n> more\nreply text\n"),
	INPUT("Subject: only quoted\n\n> quoted only\n>> deeper\n"),
	INPUT("Content-Type: text/html\n\n<html><body><p>Hello <b>bold"
	      "</b> &amp; entity</p><script>x()</script></body></html>\n"),
	INPUT("Content-Type: text/plain; charset=utf-8\n"
	      "Content-Transfer-Encoding: base64\n\n"
	      "w6TDtsO8IHV0Zi04IHRleHQ=\n"),
	INPUT("Content-Type: text/plain; charset=iso-8859-1\n"
	      "Content-Transfer-Encoding: quoted-printable\n\n"
	      "caf=E9 cr=E8me=\n soft break\n"),
	INPUT("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	      "Content-Type: application/pdf\n\n%PDF\n--b\n"
	      "Content-Type: text/plain\n\nsecond part text\n--b--\n"),
	INPUT("Content-Type: multipart/alternative; boundary=x\n\n--x\n"
	      "Content-Type: text/plain\n\nplain alt\n--x\n"
	      "Content-Type: text/html\n\n<p>html alt</p>\n--x--\n"),
	INPUT("Content-Type: image/png\n\nbinary"),
	INPUT("Subject: nul\n\nbefore\0after\n"),
	INPUT("Subject: bom\n\n\xef\xbb\xbfwith bom\n"),
	INPUT("Subject: long\n\nOne two three four five six seven eight nine "
	      "ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
	      "eighteen nineteen twenty twenty-one twenty-two twenty-three "
	      "twenty-four twenty-five twenty-six twenty-seven twenty-eight "
	      "twenty-nine thirty thirty-one thirty-two thirty-three\n"),
	INPUT("Subject: no body\n"),
	INPUT("no header separator at all"),
	INPUT("Content-Type: text/plain; charset=x-unknown\n\nunknown cs\n"),
	INPUT("Content-Type: text/plain; charset=utf-8\n\n\xc3\xa4\xc3\n"),
};

static const unsigned int lengths[] = { 200, 10, 1, 0 };

int main(void)
{
	lib_init();
	for (size_t i = 0; i < N_ELEMENTS(messages); i++) {
		for (size_t l = 0; l < N_ELEMENTS(lengths); l++) T_BEGIN {
			struct istream *input = i_stream_create_from_data(
				messages[i].data, messages[i].size);
			string_t *snippet = t_str_new(64);
			int ret;

			str_append(snippet, "pre:");
			ret = message_snippet_generate(input, lengths[l],
						       snippet);
			printf("message %zu max=%u ret=%d snippet=", i,
			       lengths[l], ret);
			print_escaped(str_data(snippet), str_len(snippet));
			putchar('\n');
			i_stream_unref(&input);
		} T_END;
	}
	T_BEGIN {
		/* a read error */
		struct istream *input = i_stream_create_error_str(EIO, "test");
		string_t *snippet = t_str_new(64);

		printf("error stream ret=%d len=%zu\n",
		       message_snippet_generate(input, 200, snippet),
		       str_len(snippet));
		i_stream_unref(&input);
	} T_END;
	lib_deinit();
	return 0;
}
