//! What doveadm's mail commands share (doveadm-mail.c): the mail
//! location from `-o mail_location=` or `$MAIL`, and the error that
//! ends a command with doveadm's exit code.

use std::path::PathBuf;

use super::exit;
use crate::storage::mail_user::MailLocation;

/// A failed command: its exit code, and whether doveadm reports it as
/// `Fatal:` (otherwise `Error:`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CmdError {
    pub exit_code: i32,
    pub fatal: bool,
    pub message: String,
}

impl CmdError {
    pub fn error(exit_code: i32, message: impl Into<String>) -> Self {
        CmdError {
            exit_code,
            fatal: false,
            message: message.into(),
        }
    }

    pub fn fatal(exit_code: i32, message: impl Into<String>) -> Self {
        CmdError {
            exit_code,
            fatal: true,
            message: message.into(),
        }
    }

    pub fn io(what: &str, e: std::io::Error) -> Self {
        CmdError::error(exit::TEMPFAIL, format!("{what}: {e}"))
    }
}

/// The mail location from `-o` settings, else `$MAIL`, with `~` from
/// `$HOME`.
pub fn mail_location(settings: &[String]) -> Result<MailLocation, CmdError> {
    let from_settings = settings
        .iter()
        .rev()
        .find_map(|s| s.strip_prefix("mail_location="))
        .map(str::to_string);
    let location = from_settings
        .or_else(|| std::env::var("MAIL").ok())
        .ok_or_else(|| {
            CmdError::fatal(
                exit::CONFIG,
                "Mail storage autodetection failed (set mail_location)",
            )
        })?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    MailLocation::parse(&location, home.as_deref())
        .map_err(|e| CmdError::fatal(exit::CONFIG, e.to_string()))
}
