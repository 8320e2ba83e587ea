/* The C side of benches/index_engine.rs: the same work done by
   Debian's lib-index (libdovecot-storage.so.0) on the same files.

   index_bench DIR open|lookups|commit

   Prints "SECONDS" for the timed part on stdout. */
#include "lib.h"
#include "ioloop.h"
#include "mail-index.h"

#include <stdio.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct mail_index *open_index(const char *dir)
{
	struct mail_index *index = mail_index_alloc(NULL, dir, "dovecot.index");

	if (mail_index_open(index, MAIL_INDEX_OPEN_FLAG_MMAP_DISABLE) <= 0)
		i_fatal("mail_index_open(%s) failed", dir);
	return index;
}

static uint32_t lookups(struct mail_index_view *view, unsigned int n)
{
	uint32_t count = mail_index_view_get_messages_count(view);
	uint32_t x = 0x2545f491, seq, sum = 0;
	const struct mail_index_record *rec;

	for (unsigned int i = 0; i < n; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		if (mail_index_lookup_seq(view, 1 + x % (count + 1), &seq)) {
			rec = mail_index_lookup(view, seq);
			sum += rec->flags;
		}
	}
	return sum;
}

static void commit_flags(struct mail_index_view *view, unsigned int n)
{
	struct mail_index_transaction *t =
		mail_index_transaction_begin(view, 0);

	for (unsigned int i = 0; i < n; i++)
		mail_index_update_flags(t, 1 + 2 * i, MODIFY_ADD, MAIL_FLAGGED);
	if (mail_index_transaction_commit(&t) < 0)
		i_fatal("commit failed");
}

int main(int argc, char *argv[])
{
	struct ioloop *ioloop;
	struct mail_index *index;
	struct mail_index_view *view;
	double start, secs;
	uint32_t sum = 0;

	lib_init();
	ioloop = io_loop_create();
	if (argc != 3)
		i_fatal("usage: index_bench DIR open|lookups|commit");

	start = now();
	index = open_index(argv[1]);
	secs = now() - start;
	view = mail_index_view_open(index);
	if (strcmp(argv[2], "lookups") == 0) {
		start = now();
		sum = lookups(view, 1000000);
		secs = now() - start;
	} else if (strcmp(argv[2], "commit") == 0) {
		start = now();
		commit_flags(view, 10000);
		secs = now() - start;
	}
	printf("%.6f %u\n", secs, sum);
	mail_index_view_close(&view);
	mail_index_close(index);
	mail_index_free(&index);
	io_loop_destroy(&ioloop);
	lib_deinit();
	return 0;
}
