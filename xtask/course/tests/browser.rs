//! Every lesson binary's page, and the page of every learner's build, used in a real browser
//! as a person uses it: headless Chromium, driven through chromedriver (WebDriver), loads each
//! page at 1600×1000, presses the right arrow key through every frame and back with the left
//! one, and at each frame checks that the frame shown is the one the URL names, that its
//! close-up differs from the frame before's, that no two labels overlap, and that nothing is
//! cut off (no sideways scroll, every label inside the window). Screenshots of ex2's steps 2
//! and 5 are kept in `target/picture/screenshots/`.
//!
//! It needs Chromium and chromedriver (Debian's `chromium` and `chromium-driver`), which
//! `.ci/run` installs, and runs every lesson binary, so `cargo test` leaves it out: `.ci/run`
//! runs it with `cargo test -p xtask-course --test browser -- --ignored`.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use xtask::catalogue::{exercises, snapshot_runs};
use xtask_course::picture::labels::overlapping;
use xtask_course::picture::{self, Page, SCREEN};

/// Where Debian's `chromium-driver` installs chromedriver.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The frames whose screenshots are kept: ex2's steps 2 and 5.
const KEPT: [(&str, &str); 3] = [
    ("ex2-sbrk", "s2-f1"),
    ("ex2-sbrk", "s5-f2"),
    ("ex2-sbrk", "s5-f4"),
];

/// chromedriver, running on a free port; stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        assert!(
            Path::new(CHROMEDRIVER).exists(),
            "{CHROMEDRIVER} is missing: `apt-get install chromium-driver` (.ci/run does)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while ureq::get(&format!("{url}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

fn answer(response: Result<ureq::Response, ureq::Error>) -> Value {
    let response = match response {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("chromedriver: {e}"),
    };
    let value: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
    if value["value"]["error"].is_string() {
        panic!("chromedriver: {}", value["value"]);
    }
    value["value"].clone()
}

impl Session<'_> {
    fn new(driver: &Driver) -> Session<'_> {
        let (width, height) = SCREEN;
        let body = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": picture::browser::CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                         format!("--window-size={width},{height}")],
            }
        }}});
        let value = answer(
            ureq::post(&format!("{}/session", driver.url))
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
        );
        let id = value["sessionId"].as_str().unwrap().to_owned();
        let session = Session { driver, id };
        // The window holds the browser's own bars too: make the page itself the screen's size.
        let inner = session.run("return [window.innerWidth, window.innerHeight];");
        let extra = |i: usize, want: u32| {
            f64::from(want) + (f64::from(want) - inner[i].as_f64().unwrap()).max(0.0)
        };
        session.post(
            "window/rect",
            json!({"width": extra(0, width), "height": extra(1, height)}),
        );
        session
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.driver.url, self.id);
        answer(
            ureq::post(&url)
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
        )
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}/session/{}/{path}", self.driver.url, self.id);
        answer(ureq::get(&url).call())
    }

    fn open(&self, page: &Path) {
        let page = std::fs::canonicalize(page).unwrap();
        self.post("url", json!({"url": format!("file://{}", page.display())}));
    }

    fn run(&self, script: &str) -> Value {
        self.post("execute/sync", json!({"script": script, "args": []}))
    }

    /// Presses and releases `key` (a WebDriver key code), as the keyboard would.
    fn press(&self, key: &str) {
        self.post(
            "actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]}),
        );
    }

    fn screenshot(&self, png: &Path) {
        let data = self.get("screenshot");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(png.parent().unwrap()).unwrap();
        std::fs::write(png, bytes).unwrap();
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.driver.url, self.id);
        let _ = ureq::delete(&url).call();
    }
}

const RIGHT: &str = "\u{E014}";
const LEFT: &str = "\u{E012}";

/// What the browser shows now: the frame's id, the URL's fragment, the close-up's drawing, the
/// labels' boxes, and how wide the page is against its window.
const LOOK: &str = r#"
const shown = [...document.querySelectorAll('section.frame')].filter(f => !f.hidden);
const frame = shown[0];
const box = r => [r.left, r.top, r.width, r.height];
const labels = frame ? [...frame.querySelectorAll('svg text')].map(t => [t.textContent, box(t.getBoundingClientRect())]) : [];
const closeup = frame ? frame.querySelector('svg.closeup') : null;
return {
  shown: shown.map(f => f.id),
  hash: location.hash,
  drawing: closeup ? closeup.outerHTML : '',
  nothing: !!(frame && frame.querySelector('p.nothing')),
  labels,
  scroll: [document.documentElement.scrollWidth, window.innerWidth, document.documentElement.scrollHeight, window.innerHeight],
};
"#;

/// What is wrong with the frame the browser shows, which should be `id`; its drawing.
fn look_at(session: &Session, name: &str, id: &str, wrong: &mut Vec<String>) -> String {
    let seen = session.run(LOOK);
    let shown: Vec<&str> = seen["shown"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if shown != [id] {
        wrong.push(format!("{name}: frames {shown:?} shown, not {id} alone"));
    }
    if seen["hash"] != format!("#{id}") {
        wrong.push(format!("{name} {id}: the URL says {}", seen["hash"]));
    }
    let scroll: Vec<f64> = seen["scroll"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    if scroll[0] > scroll[1] {
        wrong.push(format!(
            "{name} {id}: {} pixels wide in a window of {}: a sideways scroll",
            scroll[0], scroll[1]
        ));
    }
    let (width, height) = (f64::from(SCREEN.0), f64::from(SCREEN.1));
    let mut boxes = Vec::new();
    for label in seen["labels"].as_array().unwrap() {
        let text = label[0].as_str().unwrap_or_default();
        let b: Vec<f64> = label[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let b = [b[0], b[1], b[2], b[3]];
        if b[0] < -0.5 || b[1] < -0.5 || b[0] + b[2] > width + 0.5 || b[1] + b[3] > height + 0.5 {
            wrong.push(format!("{name} {id}: the label {text:?} is cut off: {b:?}"));
        }
        boxes.push((text.to_owned(), b));
    }
    let only: Vec<[f64; 4]> = boxes.iter().map(|(_, b)| *b).collect();
    for (i, j) in overlapping(&only) {
        wrong.push(format!(
            "{name} {id}: the labels {:?} {:?} and {:?} {:?} overlap",
            boxes[i].0, boxes[i].1, boxes[j].0, boxes[j].1
        ));
    }
    let drawing = seen["drawing"].as_str().unwrap_or_default().to_owned();
    let nothing = seen["nothing"] == true;
    if drawing.is_empty() && !nothing {
        wrong.push(format!(
            "{name} {id}: no close-up, and no line saying that nothing changed"
        ));
    }
    // A frame that changed nothing may show the same close-up as the one before.
    if nothing { String::new() } else { drawing }
}

/// Uses one page: every frame forward with the right arrow, then back with the left one.
fn use_page(session: &Session, page: &Page) -> Vec<String> {
    let name = page
        .path
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut wrong = Vec::new();
    if page.frames.is_empty() {
        return vec![format!("{name}: no step ended, so there is no frame")];
    }
    session.open(&page.path);
    let mut drawings = Vec::new();
    for (i, id) in page.frames.iter().enumerate() {
        if i > 0 {
            session.press(RIGHT);
        }
        drawings.push(look_at(session, &name, id, &mut wrong));
        if KEPT.contains(&(name.as_str(), id.as_str())) {
            let png = picture::folder()
                .join("screenshots")
                .join(format!("{name}-{id}.png"));
            session.screenshot(&png);
            println!("{}", png.display());
        }
        if i > 0 && !drawings[i].is_empty() && drawings[i] == drawings[i - 1] {
            wrong.push(format!(
                "{name} {id}: the close-up is the same as the frame before's"
            ));
        }
    }
    session.press(RIGHT);
    look_at(session, &name, page.frames.last().unwrap(), &mut wrong);
    for id in page.frames.iter().rev().skip(1) {
        session.press(LEFT);
        look_at(session, &name, id, &mut wrong);
    }
    println!("{name}: {} frames used", page.frames.len());
    wrong
}

#[test]
#[ignore = "needs chromium and chromedriver and runs every lesson binary; .ci/run runs it"]
fn every_page_is_used_frame_by_frame_in_a_real_browser() {
    picture::browser::chromium().unwrap();
    let mut pages = picture::lessons(snapshot_runs()).unwrap();
    pages.extend(picture::learners(exercises()).unwrap());
    assert_eq!(pages.len(), snapshot_runs().len() + exercises().len());
    let driver = Driver::start();
    let session = Session::new(&driver);
    let wrong: Vec<String> = pages.iter().flat_map(|p| use_page(&session, p)).collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
