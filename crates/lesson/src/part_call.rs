//! Calling the learner's parts: the few functions of each exercise that the lesson asks the
//! learner to write (`learn/parts.rs`), or their reference (`src/parts.rs`).
//!
//! A part that is still `todo!()` does not end the program with a panic and a backtrace: the
//! driver stops with a message that names the step, the part, the file and line to edit and the
//! hint command, and exits with [`EXIT_TO_DO`]. Any other panic in a part is reported in one line
//! as that part's failure (exit status 1).

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

/// Exit status when a required part is still `todo!()`.
pub const EXIT_TO_DO: u8 = 3;
/// Exit status when every required part is written and every check held, but an optional part
/// (the milestone's `release_chunk`) is still `todo!()`.
pub const EXIT_OPTIONAL_TO_DO: u8 = 4;

/// The message `todo!()` panics with.
const TODO_MESSAGE: &str = "not yet implemented";

/// Why a part did not return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartError {
    /// The part is still `todo!()`.
    #[error("the part `{part}` is still todo!() at {file}:{line}")]
    ToDo {
        /// The part's name (its function's name).
        part: &'static str,
        /// Whether the lesson can be done without it.
        optional: bool,
        /// The file holding the `todo!()`, as the compiler names it.
        file: String,
        /// Its line.
        line: u32,
    },
    /// The part panicked for another reason.
    #[error("the part `{part}` panicked at {file}:{line}: {message}")]
    Panicked {
        /// The part's name.
        part: &'static str,
        /// The panic's message.
        message: String,
        /// Where it panicked.
        file: String,
        /// Its line.
        line: u32,
    },
}

/// What the panic hook saw of a panic inside a part.
#[derive(Debug, Clone)]
struct Seen {
    message: String,
    file: String,
    line: u32,
}

thread_local! {
    /// Whether this thread is running a part now.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    /// What the last panic inside a part on this thread was.
    static SEEN: RefCell<Option<Seen>> = const { RefCell::new(None) };
}

fn message_of(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Installs, once per process, the panic hook that records a part's panic instead of printing
/// it. Panics outside a part still reach the previous hook (the default one, with its message
/// and backtrace note).
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !INSIDE.with(Cell::get) {
                previous(info);
                return;
            }
            let (file, line) = info
                .location()
                .map_or((String::from("?"), 0), |l| (l.file().to_owned(), l.line()));
            let seen = Seen {
                message: message_of(info),
                file,
                line,
            };
            SEEN.with(|slot| *slot.borrow_mut() = Some(seen));
        }));
    });
}

/// Runs the part `name` and returns what it returned, or why it did not.
pub(crate) fn call<T>(
    name: &'static str,
    optional: bool,
    part: impl FnOnce() -> T,
) -> Result<T, PartError> {
    install_hook();
    INSIDE.with(|inside| inside.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(part));
    INSIDE.with(|inside| inside.set(false));
    if let Ok(value) = result {
        return Ok(value);
    }
    let seen = SEEN.with(|slot| slot.borrow_mut().take()).unwrap_or(Seen {
        message: "a panic the hook did not see".to_owned(),
        file: "?".to_owned(),
        line: 0,
    });
    if seen.message == TODO_MESSAGE || seen.message.starts_with("not yet implemented: ") {
        Err(PartError::ToDo {
            part: name,
            optional,
            file: seen.file,
            line: seen.line,
        })
    } else {
        Err(PartError::Panicked {
            part: name,
            message: seen.message,
            file: seen.file,
            line: seen.line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_that_returns_gives_its_value() {
        assert_eq!(call("adds", false, || 2 + 2), Ok(4));
    }

    #[test]
    fn a_todo_part_names_its_file_and_line() {
        let line = line!() + 1;
        let result: Result<u8, _> = call("unwritten", true, || todo!());
        assert_eq!(
            result,
            Err(PartError::ToDo {
                part: "unwritten",
                optional: true,
                file: file!().to_owned(),
                line,
            })
        );
    }

    #[test]
    fn any_other_panic_is_the_part_failing() {
        let result: Result<u8, _> = call("divides", false, || panic!("index 9 out of range"));
        let Err(PartError::Panicked { part, message, .. }) = result else {
            panic!("expected a panic, got {result:?}");
        };
        assert_eq!(
            (part, message.as_str()),
            ("divides", "index 9 out of range")
        );
    }
}
