//! Headless Chromium: a screenshot of one frame of a page, for the README. The browser test
//! (`xtask/course/tests/browser.rs`) drives Chromium through chromedriver instead, as a person would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use xtask::run;

/// Where Debian's `chromium` package installs the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one browser run may take.
const TIMEOUT: Duration = Duration::from_secs(90);

/// The browser, if it is installed.
///
/// # Errors
/// When it is not, saying how to install it.
pub fn chromium() -> Result<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if !path.exists() {
        bail!("{CHROMIUM} is missing; install it with `apt-get install chromium` (.ci/run does)");
    }
    Ok(path)
}

/// Runs Chromium headless on `page`, at its frame `fragment`, with `flags`, in a fresh profile;
/// returns what it printed.
fn headless(page: &Path, fragment: &str, flags: &[String]) -> Result<String> {
    let chromium = chromium()?;
    let profile = super::folder().join(format!("chromium-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .map(str::to_owned)
    .to_vec();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(flags.iter().cloned());
    let page =
        std::fs::canonicalize(page).with_context(|| format!("cannot find {}", page.display()))?;
    args.push(format!("file://{}#{fragment}", page.display()));
    let arg_strs: Vec<&str> = args.iter().map(String::as_str).collect();
    let ran = run::run(&chromium, &arg_strs, TIMEOUT);
    let _ = std::fs::remove_dir_all(&profile);
    let ran = ran?;
    if let Some(failure) = ran.failure() {
        bail!(
            "chromium {failure} on {}: {}",
            page.display(),
            ran.stderr.trim()
        );
    }
    Ok(ran.stdout)
}

/// Takes a screenshot of `page` at its frame `fragment` (`s2-f1`), `width` × `height` pixels,
/// into `png`.
///
/// # Errors
/// When Chromium is missing, fails, or writes no screenshot.
pub fn screenshot(page: &Path, fragment: &str, png: &Path, width: u32, height: u32) -> Result<()> {
    let _ = std::fs::remove_file(png);
    headless(
        page,
        fragment,
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={width},{height}"),
        ],
    )?;
    if !png.exists() {
        bail!("chromium wrote no screenshot of {}", page.display());
    }
    Ok(())
}
