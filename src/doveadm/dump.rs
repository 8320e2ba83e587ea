//! `doveadm dump`: print what a Dovecot file holds (doveadm-dump.c).
//!
//! Each file type is a [`Dumper`]: a name for `-t`, a test used to
//! autodetect the type when `-t` is not given, and the printer itself.
//! Autodetection tries the dumpers in doveadm's order.

use std::io::Write;
use std::path::Path;

use super::exit;

/// A failed dump: the one line doveadm would print after `Fatal: `, and
/// its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DumpError {
    pub exit_code: i32,
    pub message: String,
    /// A line doveadm writes to stderr before the `Fatal:` one.
    pub before: Option<String>,
}

impl DumpError {
    pub fn new(exit_code: i32, message: impl Into<String>) -> Self {
        DumpError {
            exit_code,
            message: message.into(),
            before: None,
        }
    }

    /// doveadm's `i_fatal()`: the process exits with `EX_TEMPFAIL`.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::new(exit::TEMPFAIL, message)
    }
}

impl From<std::io::Error> for DumpError {
    fn from(e: std::io::Error) -> Self {
        DumpError::fatal(format!("write(stdout) failed: {e}"))
    }
}

pub type DumpResult = Result<(), DumpError>;

/// One `doveadm dump` file type.
#[derive(Debug)]
pub struct Dumper {
    /// The name `-t` takes and autodetection prints.
    pub name: &'static str,
    /// Does `path` look like this type? Used when `-t` is not given.
    pub test: fn(&Path) -> bool,
    /// Print the dump; `args` are the type-specific arguments.
    pub dump: fn(&Path, &[String], &mut dyn Write) -> DumpResult,
}

/// The dumpers, in doveadm's autodetection order.
// TODO(dump): dbox, thread, zlib and the dcrypt types are not
// implemented; -t with their names is rejected as an unknown type.
pub const DUMPERS: &[Dumper] = &[
    super::dump_index::DUMPER,
    super::dump_log::DUMPER,
    super::dump_mailboxlog::DUMPER,
    super::dump_cache::DUMPER,
];

/// What doveadm lists before refusing an unknown `-t` type: Debian's
/// build's types, not ours (`cache` is our extension).
pub const DOVEADM_DUMP_TYPES: &str =
    "dbox index log mailboxlog thread imapzlib dcrypt-file dcrypt-key multiplex";

/// Run `doveadm dump [-t TYPE] PATH [ARGS...]`, writing to `out`.
pub fn run(
    path: &Path,
    type_name: Option<&str>,
    args: &[String],
    out: &mut dyn Write,
) -> DumpResult {
    let dumper = match type_name {
        Some(name) => DUMPERS.iter().find(|d| d.name == name).ok_or_else(|| {
            let mut e = DumpError::new(exit::USAGE, format!("Unknown type: {name}"));
            e.before = Some(format!("Available dump types: {DOVEADM_DUMP_TYPES}"));
            e
        })?,
        None => {
            let found = DUMPERS.iter().find(|d| (d.test)(path));
            let dumper = found.ok_or_else(|| {
                DumpError::new(
                    exit::DATAERR,
                    format!("Can't autodetect file type: {}", path.display()),
                )
            })?;
            writeln!(out, "Detected file type: {}", dumper.name)?;
            dumper
        }
    };
    (dumper.dump)(path, args, out)
}
