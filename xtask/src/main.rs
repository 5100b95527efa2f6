//! `cargo xtask`: the workspace's own commands. `main` only parses and dispatches.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check-all") => check_all(),
        _ => bail!("usage: cargo xtask check-all"),
    }
}

fn check_all() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(&cargo)
        .args(["build", "--workspace", "--bins"])
        .current_dir(&root)
        .status()
        .with_context(|| format!("failed to run `{cargo} build`"))?;
    if !status.success() {
        bail!("the build failed");
    }
    println!("check-all: built every lesson binary");
    Ok(())
}
