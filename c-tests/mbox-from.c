/* Runs mbox_from_parse() over From_ lines and mbox_from_create() over
   senders and timestamps, in several local time zones, printing every
   result. c-tests/run compares the output of Debian's libdovecot.so.0
   with ours. */
#include "lib.h"
#include "mbox-from.h"

#include "c-tests.h"
#include <stdlib.h>
#include <time.h>

/* What follows "From " on the line. */
static const struct input lines[] = {
	INPUT(""),
	INPUT("user@example.com Fri Nov  9 22:33:52 2001 +0300"),
	INPUT("user@example.com Fri Nov  9 22:33:52 2001 -0130"),
	INPUT("\"a b\"@example.com Fri Nov  9 22:33:52 -0100 2001"),
	INPUT("u Fri Nov  9 22:33:52 2001 +0130"),
	INPUT("MAILER-DAEMON Thu Nov 29 22:33 2001"),
	INPUT("u Thu Nov 29 22:33:00 EET 2001"),
	INPUT("u Sat, 9 Nov 2002 22:33:52 +0000"),
	INPUT("u Sat, 9 Nov 2002 22:33:52"),
	INPUT("u Thu Jul  4 12:00:00 2002"),
	INPUT("u Sun Mar 31 02:30:00 2002"),
	INPUT("u Sun Mar 31 03:30:00 2002"),
	INPUT("u Sun Oct 27 03:30:00 2002"),
	INPUT("u Thu Jan  1 00:00:00 1970"),
	INPUT("u Thu Feb 30 00:00:00 2001 +0000"),
	INPUT("u Thu Foo 30 00:00:00 2001"),
	INPUT("u Thu Nov 29 2001"),
	INPUT("u Thu Nov 29 22:33:52"),
	INPUT("nospace"),
	INPUT("u"),
	INPUT("u "),
	INPUT("a\"quoted sender\" Thu Nov 29 22:33:52 2001"),
	INPUT("u Thu Nov 29 22:33:52 2001 +0000 trailing"),
	INPUT("u Thu Nov 29 22:33:52 1899 +0000"),
	INPUT("u Thu Nov 29 22:33:52 10000 +0000"),
	INPUT("u\0x Thu Nov 29 22:33:52 2001 +0000"),
	INPUT("u Thu Nov 29 25:33:52 2001"),
	INPUT("u\tThu Nov 29 22:33:52 2001"),
};

static const char *const senders[] = {
	"user@example.com", "MAILER-DAEMON", "", "\"a b\"@x", "\xff\x80",
};

static const time_t timestamps[] = {
	0, 1005345232, 1017538200, 1035682200, 1234567890, 2147483647,
	-1, -2208988800LL,
};

static const char *const zones[] = {
	"UTC", "Europe/Helsinki", "America/St_Johns", "Asia/Kolkata",
};

static void parse_all(void)
{
	for (size_t i = 0; i < N_ELEMENTS(lines); i++) {
		time_t t = 12345;
		int tz = 678;
		char *sender = (char *)"unset";
		int ret = mbox_from_parse((const unsigned char *)lines[i].data,
					  lines[i].size, &t, &tz, &sender);

		printf("parse %zu ret=%d time=%lld", i, ret, (long long)t);
		if (ret == 0)
			printf(" tz=%d sender=[%s]", tz, sender);
		else
			printf(" sender=%s", sender == NULL ? "NULL" : "set");
		putchar('\n');
		if (ret == 0)
			i_free(sender);
	}
}

static void create_all(void)
{
	for (size_t s = 0; s < N_ELEMENTS(senders); s++) {
		for (size_t i = 0; i < N_ELEMENTS(timestamps); i++) T_BEGIN {
			printf("create %lld %s", (long long)timestamps[i],
			       mbox_from_create(senders[s], timestamps[i]));
		} T_END;
	}
}

int main(void)
{
	lib_init();
	for (size_t z = 0; z < N_ELEMENTS(zones); z++) {
		setenv("TZ", zones[z], 1);
		tzset();
		printf("zone %s\n", zones[z]);
		parse_all();
		create_all();
	}
	lib_deinit();
	return 0;
}
