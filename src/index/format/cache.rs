//! `dovecot.index.cache`: header, field headers and records
//! (mail-cache-private.h).
