//! A `log` facade backend that hands Rust log records to Dovecot's own
//! logging (`i_error`, `i_warning`, `i_info`, `i_debug`), so messages from
//! the Rust code land in the admin's usual Dovecot log with Dovecot's
//! prefixes. It is installed by the first call through an export (see
//! `boundary::guard`); a program that already set a Rust logger keeps it.
//!
//! TODO(capi-log): debug records are dropped (max level Info) because
//! `i_debug` ignores `mail_debug`; routing them through the event API
//! (`e_debug` on the caller's event) would honour Dovecot's debug filters.

use std::sync::Once;

use log::{Level, LevelFilter, Log, Metadata, Record};

use super::boundary::c_string;
use super::sys;

#[derive(Debug)]
struct DovecotLogger;

static LOGGER: DovecotLogger = DovecotLogger;

/// Make Dovecot's logging the `log` backend, once per process.
pub fn install() {
    static INSTALL: Once = Once::new();

    INSTALL.call_once(|| {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(LevelFilter::Info);
        }
    });
}

impl Log for DovecotLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let text = c_string(&record.args().to_string());
        let log_fn = match record.level() {
            Level::Error => sys::i_error,
            Level::Warn => sys::i_warning,
            Level::Info => sys::i_info,
            Level::Debug | Level::Trace => sys::i_debug,
        };

        // SAFETY: Dovecot's printf-style loggers with the literal format
        // "%s" and one NUL-terminated string argument.
        unsafe { log_fn(c"%s".as_ptr(), text.as_ptr()) }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_reach_dovecot_log_with_its_level_prefixes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("dovecot.log");
        let c_path = c_string(path.to_str().expect("utf-8 temp path"));

        super::super::test_support::lib_init();
        // SAFETY: a NUL-terminated path and prefix; lib_init() ran.
        unsafe { sys::i_set_failure_file(c_path.as_ptr(), c"rs-test: ".as_ptr()) };
        install();
        log::error!("broken index at offset {}", 12);
        log::warn!("cache file is stale");
        log::info!("mailbox synced");
        log::debug!("dropped below Info");

        let logged = std::fs::read_to_string(&path).expect("read the log");
        // Dovecot's own file logger writes "<prefix><Level>: <text>".
        assert!(
            logged.contains("rs-test: Error: broken index at offset 12\n"),
            "{logged}"
        );
        assert!(
            logged.contains("rs-test: Warning: cache file is stale\n"),
            "{logged}"
        );
        assert!(
            logged.contains("rs-test: Info: mailbox synced\n"),
            "{logged}"
        );
        assert!(!logged.contains("dropped below Info"), "{logged}");
    }
}
