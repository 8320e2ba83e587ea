//! `dovecot.index.log`: the file header and transaction records
//! (mail-transaction-log.h, mail-transaction-log-file.c).
