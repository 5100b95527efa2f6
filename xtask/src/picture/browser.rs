//! Headless Chromium: a screenshot of a page, and the boxes the browser laid each label of the
//! picture out in. The picture itself runs no script; to measure it, a copy of the page under
//! `target/` gets one that writes the boxes into the page, and Chromium prints the page after
//! load (`--dump-dom`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::run;

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

/// Runs Chromium headless on `page` with `flags`, in a fresh profile; returns what it printed.
fn headless(page: &Path, flags: &[String]) -> Result<String> {
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
    args.push(format!("file://{}", page.display()));
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

/// Takes a screenshot of `page`, `width` × `height` pixels, into `png`.
///
/// # Errors
/// When Chromium is missing, fails, or writes no screenshot.
pub fn screenshot(page: &Path, png: &Path, width: u32, height: u32) -> Result<()> {
    let _ = std::fs::remove_file(png);
    headless(
        page,
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

/// A box as the browser laid it out: left, top, width, height, in CSS pixels.
pub type Box4 = [f64; 4];

/// What the browser measured on a page: the picture's box, and each label's text and box.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The `<svg>` element's box.
    pub picture: Box4,
    /// Each `<text>` of the picture: its text and its box.
    pub labels: Vec<(String, Box4)>,
}

/// The script the measuring copy runs: it writes the boxes, as JSON, into `<pre id=measured>`.
/// `<`, `>` and `&` are written as JSON escapes, so that the printed page holds the JSON as is.
const MEASURE: &str = r#"<pre id="measured"></pre><script>
const box = r => [r.left, r.top, r.width, r.height];
const svg = document.querySelector('svg.picture');
const labels = [...document.querySelectorAll('svg.picture text')].map(t => [t.childNodes[0].textContent, box(t.getBoundingClientRect())]);
document.getElementById('measured').textContent = JSON.stringify({picture: svg ? box(svg.getBoundingClientRect()) : [0, 0, 0, 0], labels})
  .replace(/[<>&]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
</script>"#;

fn box4(value: &Value) -> Option<Box4> {
    let a = value.as_array()?;
    Some([
        a.first()?.as_f64()?,
        a.get(1)?.as_f64()?,
        a.get(2)?.as_f64()?,
        a.get(3)?.as_f64()?,
    ])
}

/// Lays `page` out in Chromium, `width` pixels wide, and reads back where every label went.
///
/// # Errors
/// When Chromium is missing or fails, or the measurements are not in what it printed.
pub fn measure(page: &Path, width: u32) -> Result<Measured> {
    let html =
        std::fs::read_to_string(page).with_context(|| format!("cannot read {}", page.display()))?;
    let copy = page.with_extension("measure.html");
    let measuring = html.replacen("</body>", &format!("{MEASURE}\n</body>"), 1);
    std::fs::write(&copy, measuring).with_context(|| format!("cannot write {}", copy.display()))?;
    let dom = headless(
        &copy,
        &[
            format!("--window-size={width},800"),
            "--dump-dom".to_owned(),
        ],
    )?;
    let start = dom
        .find(r#"<pre id="measured">"#)
        .context("no measurements in the page")?;
    let json = &dom[start + r#"<pre id="measured">"#.len()..];
    let json = &json[..json
        .find("</pre>")
        .context("the measurements are cut short")?];
    let doc: Value = serde_json::from_str(json).context("the measurements are not JSON")?;
    let labels = doc["labels"]
        .as_array()
        .context("no labels measured")?
        .iter()
        .filter_map(|l| Some((l[0].as_str()?.to_owned(), box4(&l[1])?)))
        .collect();
    Ok(Measured {
        picture: box4(&doc["picture"]).context("the picture was not measured")?,
        labels,
    })
}
