//! The browser client for real: builds this crate for
//! `wasm32-unknown-unknown`, runs `wasm-bindgen` on it, serves the page,
//! and opens it in headless Chromium against a native Prism server on a
//! `ws://` listener; the page posts back what its calls returned.
//!
//! Needs the wasm target, `wasm-bindgen` (the CLI, the version of the
//! lockfile's `wasm-bindgen`) and `chromium` on the `PATH`. Where one is
//! missing the test says so and passes, unless `PRISM_REQUIRE_BROWSER` is
//! set (CI sets it and installs them), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use prism::Server;
use prism::ws::WsListener;
use prism_browser_example::{EXPECTED, page, service};
use tokio::net::TcpListener;

/// How long the page may take, Chromium's start included.
const PATIENCE: Duration = Duration::from_secs(120);

/// Runs `command`, or says why it could not.
fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|e| format!("{shown}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A tool on the `PATH`, or why not.
fn tool(name: &str) -> Result<(), String> {
    run(Command::new(name).arg("--version")).map_err(|e| format!("no usable `{name}`: {e}"))
}

/// `wasm-bindgen`'s CLI in the version of the lockfile's `wasm-bindgen`
/// (it refuses wasm made with another), or why not.
fn bindgen() -> Result<(), String> {
    let lock = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let lock = std::fs::read_to_string(lock).map_err(|e| format!("Cargo.lock: {e}"))?;
    let wanted = lock
        .split("[[package]]")
        .find(|package| package.contains("\nname = \"wasm-bindgen\"\n"))
        .and_then(|package| package.split("version = \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .ok_or("no wasm-bindgen in Cargo.lock")?;
    let output = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .map_err(|e| format!("no usable `wasm-bindgen`: {e}"))?;
    let found = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if found == format!("wasm-bindgen {wanted}") {
        Ok(())
    } else {
        Err(format!(
            "`wasm-bindgen --version` says {found:?}, the lockfile wants {wanted} (cargo install wasm-bindgen-cli --version {wanted})"
        ))
    }
}

/// The wasm target's standard library, or why not.
fn wasm_target() -> Result<(), String> {
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let lib = Path::new(&sysroot).join("lib/rustlib/wasm32-unknown-unknown");
    if lib.exists() {
        Ok(())
    } else {
        Err("no wasm32-unknown-unknown target (rustup target add wasm32-unknown-unknown)".into())
    }
}

/// Builds the page's wasm and its JavaScript glue into `out/pkg`.
fn build_page(out: &Path) -> Result<(), String> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.join("../..");
    // A target dir of its own: the one running this test is locked.
    let target = workspace.join("target/browser-example");
    run(Command::new(env!("CARGO"))
        .current_dir(&workspace)
        .args([
            "build",
            "-p",
            "prism-browser-example",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--release",
            "--locked",
            "--target-dir",
        ])
        .arg(&target))?;
    let wasm = target.join("wasm32-unknown-unknown/release/prism_browser_example.wasm");
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--out-dir"])
        .arg(out.join("pkg"))
        .arg(wasm))?;
    std::fs::copy(manifest.join("index.html"), out.join("index.html"))
        .map_err(|e| format!("copying index.html: {e}"))?;
    Ok(())
}

/// Headless Chromium on `url`, quiet on this machine's closed network.
fn chromium(url: &str, profile: &Path) -> std::io::Result<Child> {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// Kills Chromium when the test ends, however it ends.
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory under the target dir, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/browser-example")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasm_client_calls_a_native_server_from_headless_chromium() {
    let ready = wasm_target()
        .and_then(|()| bindgen())
        .and_then(|()| tool("chromium"));
    if let Err(why) = ready {
        assert!(
            std::env::var_os("PRISM_REQUIRE_BROWSER").is_none(),
            "the browser test is required here (PRISM_REQUIRE_BROWSER) but: {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let site = scratch("site");
    let built = tokio::task::spawn_blocking({
        let site = site.clone();
        move || build_page(&site)
    })
    .await
    .expect("the build task");
    built.unwrap_or_else(|why| panic!("building the page: {why}"));

    let server = Server::builder()
        .allow_unauthenticated()
        .allow_plaintext()
        .add_service(service::BoardServer::new(service::BoardImpl))
        .build()
        .expect("the server builds");
    let ws = TcpListener::bind("127.0.0.1:0").await.expect("bind ws");
    let ws_url = format!("ws://{}/prism", ws.local_addr().expect("addr"));
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(WsListener::new(ws)).await }
    });
    let http = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let page_url = format!("http://{}/#{ws_url}", http.local_addr().expect("addr"));
    let (results, mut posted) = tokio::sync::mpsc::unbounded_channel();
    let pages = tokio::spawn(page::serve(http, site, results));

    let profile = scratch("profile");
    let _browser = Browser(chromium(&page_url, &profile).expect("chromium starts"));
    let result = tokio::time::timeout(PATIENCE, posted.recv())
        .await
        .expect("the page posts its result in time")
        .expect("a result");
    assert_eq!(result, EXPECTED, "what the page's calls returned");
    // The server saw the browser's connection and its calls.
    let stats = server.stats();
    assert!(stats.calls_received >= 4, "{stats:?}");

    pages.abort();
    server.shutdown();
    let _ = serving.await;
}
