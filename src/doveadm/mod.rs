//! The logic behind `doveadm-rs`, one module per doveadm command family
//! (doveadm-dump*.c, ...). The binary in `src/bin` only parses arguments.

pub mod date;
pub mod dump;
pub mod dump_cache;
pub mod dump_index;
pub mod dump_log;
pub mod dump_mailboxlog;
pub mod fetch;
pub mod mail_cmd;
pub mod mailbox;
pub mod print;
pub mod search;

/// doveadm's exit codes (sysexits.h plus doveadm's own).
pub mod exit {
    pub const OK: i32 = 0;
    pub const USAGE: i32 = 64;
    pub const DATAERR: i32 = 65;
    pub const NOINPUT: i32 = 66;
    pub const SOFTWARE: i32 = 70;
    pub const CANTCREAT: i32 = 73;
    pub const IOERR: i32 = 74;
    pub const TEMPFAIL: i32 = 75;
    pub const NOPERM: i32 = 77;
    pub const CONFIG: i32 = 78;
    /// doveadm's `DOVEADM_EX_NOTFOUND`.
    pub const NOTFOUND: i32 = 68;
    /// Dovecot's `FATAL_DEFAULT` for `i_fatal()`.
    pub const FATAL: i32 = 89;
}
