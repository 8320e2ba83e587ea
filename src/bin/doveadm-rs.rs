//! `doveadm-rs`: doveadm's arguments and output, on dovecot-rs.
//!
//! Only argument parsing lives here; every command is implemented in
//! `dovecot_rs::doveadm`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dovecot_rs::doveadm::mail_cmd::{CmdError, mail_location};
use dovecot_rs::doveadm::print::Formatter;
use dovecot_rs::doveadm::{dump, exit, fetch, mailbox, search};

#[derive(Parser, Debug)]
#[command(name = "doveadm-rs", version, about = "doveadm on dovecot-rs")]
struct Cli {
    /// Settings as `key=value` (e.g. `mail_location=maildir:~/Maildir`).
    #[arg(short = 'o', value_name = "KEY=VALUE", global = true)]
    settings: Vec<String>,

    /// Accepted for doveadm compatibility; dovecot.conf is not read.
    #[arg(short = 'c', value_name = "CONFIG", global = true)]
    config: Option<PathBuf>,

    /// Output formatter: flow, pager or tab.
    #[arg(short = 'f', value_name = "FORMATTER", global = true)]
    formatter: Option<String>,

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
    /// Mailbox commands (list, status).
    Mailbox {
        #[command(subcommand)]
        command: MailboxCommand,
    },
    /// Print fields of the messages a search query matches.
    Fetch {
        fields: String,
        #[arg(required = true, allow_hyphen_values = true)]
        query: Vec<String>,
    },
    /// Print the mailbox GUID and UID of the messages a query matches.
    Search {
        #[arg(required = true, allow_hyphen_values = true)]
        query: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum MailboxCommand {
    /// List mailboxes (subscribed ones with -s).
    List {
        #[arg(short = 's')]
        subscribed: bool,
        masks: Vec<String>,
    },
    /// Print mailbox status fields (summed over mailboxes with -t).
    Status {
        #[arg(short = 't')]
        total: bool,
        fields: String,
        #[arg(required = true)]
        masks: Vec<String>,
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
        command => {
            let result = run_mail_command(&cli, command, &mut out);
            let _ = out.flush();
            return match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    let level = if e.fatal { "Fatal" } else { "Error" };
                    eprintln!("{level}: {}", e.message);
                    ExitCode::from(e.exit_code as u8)
                }
            };
        }
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

/// The commands that work on a user's mail.
fn run_mail_command(cli: &Cli, command: &Command, out: &mut dyn Write) -> Result<(), CmdError> {
    let loc = mail_location(&cli.settings)?;
    let formatter = |default| match cli.formatter.as_deref() {
        None => Ok(default),
        Some(name) => Formatter::from_name(name)
            .ok_or_else(|| CmdError::fatal(exit::USAGE, format!("Unknown formatter: {name}"))),
    };
    match command {
        Command::Mailbox {
            command: MailboxCommand::List { subscribed, masks },
        } => mailbox::list(&loc, *subscribed, masks, formatter(Formatter::Flow)?, out),
        Command::Mailbox {
            command:
                MailboxCommand::Status {
                    total,
                    fields,
                    masks,
                },
        } => mailbox::status(
            &loc,
            *total,
            fields,
            masks,
            formatter(Formatter::Flow)?,
            out,
        ),
        Command::Fetch { fields, query } => {
            fetch::fetch(&loc, fields, query, formatter(Formatter::Pager)?, out)
        }
        Command::Search { query } => search::search(&loc, query, formatter(Formatter::Flow)?, out),
        Command::Dump { .. } => unreachable!("handled by main"),
    }
}
