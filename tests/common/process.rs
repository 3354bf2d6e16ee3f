//! Helper processes for fault tests: the test binary run again with one
//! ignored test selected (`--ignored --exact NAME`), its role and settings
//! in environment variables, optionally inside a network namespace (`ip
//! netns exec`). A helper prints `ready[ details]` once it is set up, then
//! one line per thing it reports; it is killed with SIGKILL when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest wait for a line a test expects from a helper: past it the
/// helper counts as stuck, and the test fails instead of hanging.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

/// A helper process and its output.
pub struct Process {
    child: Child,
    /// Its output, line by line, read by a thread of its own.
    lines: mpsc::Receiver<String>,
    /// What followed `ready` on its ready line.
    pub ready: String,
}

impl Process {
    /// Starts `test` (an ignored test of this binary) with `env`, in the
    /// network namespace `netns` if given; returns once it printed
    /// `ready`. Blocking: call it from `spawn_blocking` in async tests.
    pub fn spawn(test: &str, env: &[(&str, String)], netns: Option<&str>) -> Process {
        let exe = std::env::current_exe().expect("test binary");
        let mut command = match netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns]).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        command
            .args(["--ignored", "--exact", test, "--nocapture"])
            .args(["--test-threads", "1"])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("spawn a helper process");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut process = Process {
            child,
            lines,
            ready: String::new(),
        };
        // libtest prints `test NAME ... ` before the test's own output, on
        // the same line.
        let ready = process
            .find(|line| line.contains("ready"))
            .unwrap_or_else(|| panic!("the helper process {test} did not start"));
        process.ready = ready
            .split_once("ready")
            .map(|(_, rest)| rest.trim().to_owned())
            .unwrap_or_default();
        process
    }

    /// Starts it off the runtime's workers (see [`Process::spawn`]).
    pub async fn start(test: &'static str, env: Vec<(&'static str, String)>) -> Process {
        Self::start_in(test, env, None).await
    }

    /// [`Process::start`] inside the network namespace `netns`.
    pub async fn start_in(
        test: &'static str,
        env: Vec<(&'static str, String)>,
        netns: Option<String>,
    ) -> Process {
        tokio::task::spawn_blocking(move || Process::spawn(test, &env, netns.as_deref()))
            .await
            .expect("the helper process starts")
    }

    /// The next line it prints that `pick` picks; `None` once it exits,
    /// or when none came within a minute. Blocking.
    pub fn find(&mut self, pick: impl Fn(&str) -> bool) -> Option<String> {
        let until = Instant::now() + LINE_TIMEOUT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if pick(&line) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// [`Process::find`] off the runtime's workers; gives the process back.
    pub async fn wait_for(
        mut self,
        pick: impl Fn(&str) -> bool + Send + 'static,
    ) -> (Process, Option<String>) {
        tokio::task::spawn_blocking(move || {
            let line = self.find(pick);
            (self, line)
        })
        .await
        .expect("reading the helper's output")
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and waits for it to be gone.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident memory of process `pid`, in bytes (Linux `/proc`), or 0.
pub fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
