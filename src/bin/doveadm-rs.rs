//! `doveadm-rs`: doveadm's arguments and output, on dovecot-rs.
//!
//! Only argument parsing lives here; every command is implemented in
//! `dovecot_rs::doveadm`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dovecot_rs::doveadm::{dump, exit};

#[derive(Parser, Debug)]
#[command(name = "doveadm-rs", version, about = "doveadm on dovecot-rs")]
struct Cli {
    /// Settings as `key=value` (e.g. `mail_location=maildir:~/Maildir`).
    #[arg(short = 'o', value_name = "KEY=VALUE", global = true)]
    settings: Vec<String>,

    /// Accepted for doveadm compatibility; dovecot.conf is not read.
    #[arg(short = 'c', value_name = "CONFIG", global = true)]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Dump the contents of a Dovecot index, log or other file.
    Dump {
        /// The file type; autodetected when not given.
        #[arg(short = 't', value_name = "TYPE")]
        type_name: Option<String>,
        path: PathBuf,
        /// Type-specific arguments (for an index: a UID to dump alone).
        args: Vec<String>,
    },
}

/// Prints the library's warnings and errors on stderr the way doveadm
/// prints its own (`Error: ...`), so a failed dump says why.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        meta.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        let prefix = match record.level() {
            log::Level::Error => "Error",
            _ => "Warning",
        };
        if self.enabled(record.metadata()) {
            eprintln!("{prefix}: {}", record.args());
        }
    }

    fn flush(&self) {}
}

fn main() -> ExitCode {
    if log::set_logger(&StderrLog).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            return ExitCode::from(exit::USAGE as u8);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = match &cli.command {
        Command::Dump {
            type_name,
            path,
            args,
        } => dump::run(path, type_name.as_deref(), args, &mut out),
    };
    let flushed = out.flush();

    match (result, flushed) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(e), _) => {
            if let Some(line) = &e.before {
                eprintln!("{line}");
            }
            eprintln!("Fatal: {e}");
            ExitCode::from(e.exit_code as u8)
        }
        (Ok(()), Err(e)) => {
            eprintln!("Fatal: write(stdout) failed: {e}");
            ExitCode::from(exit::TEMPFAIL as u8)
        }
    }
}
