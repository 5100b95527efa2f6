//! `cargo xtask learn --watch`: `learn` again whenever a learner's file is saved.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Workspace, learn};
use crate::catalogue::exercises;

/// The time of day, `HH:MM:SS UTC`.
fn time_of_day() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = seconds % 86_400;
    format!("{:02}:{:02}:{:02} UTC", day / 3600, day / 60 % 60, day % 60)
}

/// `cargo xtask learn --watch`: checks, then checks again whenever a learner's file is saved.
///
/// # Errors
/// When the files cannot be watched.
pub fn watch(workspace: &Workspace) -> Result<bool> {
    use notify::{RecursiveMode, Watcher};
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).context("cannot watch files")?;
    for exercise in exercises() {
        let folder = workspace.template(exercise);
        let folder = folder.parent().context("a template has no folder")?;
        watcher
            .watch(folder, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch {}", folder.display()))?;
    }
    loop {
        learn(workspace)?;
        println!("learn: watching your files; save one to check again (Ctrl-C stops)");
        let changed = loop {
            let event = rx.recv().context("the file watcher stopped")?;
            let saved = event.ok().filter(|e| !e.kind.is_access()).and_then(|e| {
                e.paths
                    .into_iter()
                    .find(|p| p.extension().is_some_and(|x| x == "rs"))
            });
            if let Some(path) = saved {
                break path;
            }
        };
        // An editor's save is often several events: let them settle.
        std::thread::sleep(Duration::from_millis(300));
        while rx.try_recv().is_ok() {}
        if std::io::stdout().is_terminal() {
            // Clear the screen and go to its top, so that this run is all that shows.
            print!("\x1b[2J\x1b[H");
        }
        let shown = changed.strip_prefix(&workspace.root).unwrap_or(&changed);
        println!(
            "== learn: run again at {}, after {} was saved",
            time_of_day(),
            shown.display()
        );
    }
}
