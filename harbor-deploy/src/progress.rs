//! How `up` shows its progress: on a terminal, one line per service redrawn in place; else
//! plain lines, one per change, for logs.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use harbor_deploy::{Action, Progress};

/// One service's line.
struct Row {
    service: String,
    text: String,
}

/// The progress display of one `up`.
pub struct Display {
    terminal: bool,
    rows: Vec<Row>,
    /// Lines drawn last time, to move back over.
    drawn: usize,
}

impl Display {
    /// A display on standard error, redrawn in place when that is a terminal.
    pub fn new() -> Display {
        Display {
            terminal: std::io::stderr().is_terminal(),
            rows: Vec::new(),
            drawn: 0,
        }
    }

    /// Takes one event.
    pub fn show(&mut self, p: &Progress) {
        let (service, text) = match p {
            Progress::Planned(steps) => {
                self.rows = steps
                    .iter()
                    .map(|s| Row {
                        service: s.service.clone(),
                        text: format!("{} ({})", s.action.as_str(), s.reason),
                    })
                    .collect();
                if self.terminal {
                    self.draw();
                } else {
                    for r in &self.rows {
                        println!("{}: {}", r.service, r.text);
                    }
                }
                return;
            }
            Progress::Working { service, action } => (service, working(*action).to_string()),
            Progress::Waiting {
                service,
                state,
                health,
                elapsed,
            } => (
                service,
                format!("waiting: {state}, health {health} [{}]", secs(*elapsed)),
            ),
            Progress::Ready { service, elapsed } => {
                (service, format!("healthy [{}]", secs(*elapsed)))
            }
            Progress::Removed { service } => (service, "removed".to_string()),
            Progress::Warning(w) => {
                // above the table, which is drawn anew below it
                print_warning(w);
                self.drawn = 0;
                if self.terminal {
                    self.draw();
                }
                return;
            }
        };
        self.update(service, text);
    }

    fn update(&mut self, service: &str, text: String) {
        let Some(row) = self.rows.iter_mut().find(|r| r.service == service) else {
            self.rows.push(Row {
                service: service.to_string(),
                text: text.clone(),
            });
            if !self.terminal {
                println!("{service}: {text}");
            }
            return;
        };

        // plain lines only when something other than the clock changed
        let changed = without_clock(&row.text) != without_clock(&text);
        row.text = text;
        if self.terminal {
            self.draw();
        } else if changed {
            println!("{}: {}", row.service, row.text);
        }
    }

    fn draw(&mut self) {
        let mut err = std::io::stderr().lock();
        if self.drawn > 0 {
            let _ = write!(err, "\x1b[{}A", self.drawn);
        }
        let width = self.rows.iter().map(|r| r.service.len()).max().unwrap_or(0);
        // a line longer than the terminal wraps and breaks moving back over the table
        let columns = rustix::termios::tcgetwinsize(std::io::stderr())
            .map(|w| usize::from(w.ws_col))
            .ok()
            .filter(|c| *c > 0)
            .unwrap_or(80);
        for r in &self.rows {
            let line = format!("{:<width$}  {}", r.service, r.text);
            let line: String = line.chars().take(columns.saturating_sub(1)).collect();
            let _ = writeln!(err, "\x1b[2K{line}");
        }
        let _ = err.flush();
        self.drawn = self.rows.len();
    }

    /// Leaves the last drawing in place.
    pub fn finish(&mut self) {
        self.drawn = 0;
    }
}

fn working(action: Action) -> &'static str {
    match action {
        Action::Keep => "unchanged",
        Action::Start => "starting",
        Action::Create => "creating",
        Action::Recreate => "recreating",
        Action::Restart => "restarting",
        Action::Remove => "removing",
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// A line without its trailing `[1.2s]`.
fn without_clock(text: &str) -> &str {
    match text.rfind(" [") {
        Some(i) if text.ends_with("s]") => &text[..i],
        _ => text,
    }
}

/// Prints a warning, or a note of a harbor.cfg conversion as it is, on standard error.
pub fn print_warning(w: &str) {
    if w.contains(": note: ") || w.contains(": not carried over: ") {
        eprintln!("{w}");
    } else {
        eprintln!("warning: {w}");
    }
}
