//! `dovecot.index`: the base header, extension headers, records and the
//! keywords extension (mail-index-private.h, mail-index-map-hdr.c).
