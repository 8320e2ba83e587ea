/* Runs every function of message-address.h: each value is parsed with
   each flag combination, and the list printed field by field (walking
   next and checking prev), written back with message_address_write(),
   message_address_to_string() and message_address_first_to_string().
   c-tests/run compares the output of Debian's libdovecot.so.0 with ours. */
#include "lib.h"
#include "str.h"
#include "smtp-address.h"
#include "message-address.h"

#include "c-tests.h"

static const struct input values[] = {
	INPUT(""),
	INPUT("   "),
	INPUT("user@example.com"),
	INPUT("User Name <user@example.com>"),
	INPUT("\"Quoted, Name\" <user@example.com>, other@example.org"),
	INPUT("user@example.com (Comment Name)"),
	INPUT("group: a@b, \"c\" <d@e>; f@g"),
	INPUT("empty group:;, x@y"),
	INPUT("undisclosed-recipients:;"),
	INPUT("<@route1,@route2:user@example.com>"),
	INPUT("Name <@route user@example.com>"),
	INPUT("<>"),
	INPUT("user"),
	INPUT("@example.com"),
	INPUT("user@"),
	INPUT("Name <user>"),
	INPUT("Name <user@>"),
	INPUT("Name <"),
	INPUT("Name"),
	INPUT(".user@example.com"),
	INPUT("us..er@example.com"),
	INPUT("user.@example.com"),
	INPUT("user@[192.0.2.1]"),
	INPUT("=?utf-8?q?J=C3=B6rg?= <j@example.com>"),
	INPUT("a@b,,c@d"),
	INPUT(",a@b"),
	INPUT("a@b, "),
	INPUT("nul\0name <a@b>"),
	INPUT("\"nul\0quoted\" <a@b>"),
	INPUT("a@b (nested (comment))"),
	INPUT("Mr. Smith <smith@example.com>"),
	INPUT("g1: a@b; g2: c@d;"),
	INPUT("g1: g2: a@b;;"),
	INPUT("broken <a@b"),
	INPUT("\"unterminated <a@b>"),
	INPUT("a@b c@d"),
	INPUT("a@b.c.d.example.com"),
	INPUT("a@b..c"),
	INPUT("\xc3\xa4\xc3\xb6 <x@y>"),
	INPUT("a@b, c@d, e@f, g@h, i@j"),
};

static const char *paths[] = {
	"<user@example.com>", "<>", " <user@example.com> ", "user@example.com",
	"<@route:user@example.com>", "<user@>", "<user>", "", "<", "<a@b> x",
	"(comment) <a@b>", "<\"q u\"@b>",
};

static void print_str(const char *name, const char *value)
{
	if (value == NULL)
		printf(" %s=NULL", name);
	else
		printf(" %s=[%s]", name, value);
}

static void print_list(const struct message_address *addr)
{
	const struct message_address *prev = NULL;
	unsigned int n = 0;

	for (; addr != NULL; prev = addr, addr = addr->next, n++) {
		printf("    #%u", n);
		print_str("name", addr->name);
		print_str("route", addr->route);
		print_str("mailbox", addr->mailbox);
		print_str("domain", addr->domain);
		printf(" invalid=%d prev_ok=%d\n", addr->invalid_syntax ? 1 : 0,
		       addr->prev == prev ? 1 : 0);
	}
}

static void print_written(const struct message_address *addr)
{
	string_t *str = t_str_new(64);

	if (addr == NULL)
		return;
	str_append(str, "prefix:");
	message_address_write(str, addr);
	printf("    write=[%s]\n", str_c(str));
	printf("    to_string=[%s]\n", message_address_to_string(addr));
	printf("    first=[%s]\n", message_address_first_to_string(addr));
}

static void parse_values(pool_t pool)
{
	static const unsigned int max[] = { UINT_MAX, 1, 2 };

	for (size_t i = 0; i < N_ELEMENTS(values); i++) {
		for (unsigned int flags = 0; flags < 4; flags++) T_BEGIN {
			struct message_address_list list;
			struct message_address *addr;
			unsigned int m = flags == 0 ? i % 3 : 0;

			addr = message_address_parse(pool,
				(const unsigned char *)values[i].data,
				values[i].size, max[m], flags);
			printf("value %zu flags=%u max=%u head=%s\n", i, flags,
			       max[m], addr == NULL ? "NULL" : "set");
			print_list(addr);
			print_written(addr);

			message_address_parse_full(pool,
				(const unsigned char *)values[i].data,
				values[i].size, max[m], flags, &list);
			printf("  full: count=%u head_ok=%d tail_ok=%d\n",
			       list.count,
			       (list.head == NULL) == (addr == NULL) ? 1 : 0,
			       list.tail == NULL ||
			       list.tail->next == NULL ? 1 : 0);
			print_list(list.head);
		} T_END;
	}
}

static void parse_paths(pool_t pool)
{
	for (size_t i = 0; i < N_ELEMENTS(paths); i++) T_BEGIN {
		struct message_address *addr = (void *)1;
		int ret = message_address_parse_path(pool,
			(const unsigned char *)paths[i], strlen(paths[i]),
			&addr);

		printf("path [%s] ret=%d addr=%s\n", paths[i], ret,
		       addr == NULL ? "NULL" : "set");
		print_list(addr);
		print_written(addr);
	} T_END;
}

static void init_and_names(void)
{
	static const char *const names[] = {
		"From", "from", "TO", "Cc", "Bcc", "Reply-To", "Sender",
		"Resent-From", "resent-bcc", "Subject", "Return-Path",
		"Delivered-To", "", "Fromx", "X-From",
	};
	struct smtp_address smtp = { .localpart = "local", .domain = "d.com" };
	struct message_address addr;

	memset(&addr, 0xaa, sizeof(addr));
	message_address_init(&addr, "Name", "box", "example.com");
	print_list(&addr);
	printf("    init=[%s]\n", message_address_to_string(&addr));
	memset(&addr, 0xaa, sizeof(addr));
	message_address_init(&addr, NULL, "box", "example.com");
	print_list(&addr);
	memset(&addr, 0xaa, sizeof(addr));
	message_address_init_from_smtp(&addr, "Smtp Name", &smtp);
	print_list(&addr);
	printf("    smtp=[%s]\n", message_address_to_string(&addr));
	for (size_t i = 0; i < N_ELEMENTS(names); i++)
		printf("is_address(%s)=%d\n", names[i],
		       message_header_is_address(names[i]) ? 1 : 0);
}

int main(void)
{
	pool_t pool;

	lib_init();
	pool = pool_alloconly_create("message-address test", 4096);
	parse_values(pool);
	parse_paths(pool);
	T_BEGIN {
		init_and_names();
	} T_END;
	pool_unref(&pool);
	lib_deinit();
	return 0;
}
