//! The dashboard in a real browser: Debian's chromium, headless, driven through
//! chromedriver by fantoccini. The page must show the leader, show the successor soon after
//! the leader is killed through the API (it redraws from the event streams, not a timer),
//! open a deployment's logs, and check the host's history.
//!
//! Without chromium and chromedriver the test says it was skipped, except under CI
//! (`CI` set), where `.ci/run` installs them and their absence is a failure.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::serve::{Server, agent, bearer, components, deploy, wasm};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process on a free port of 127.0.0.1, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver; `None` (skipped) when it or chromium is not installed and CI
    /// is not set.
    fn start() -> Option<Driver> {
        let missing = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .find(|binary| !Path::new(binary).exists());
        if let Some(binary) = missing {
            assert!(
                std::env::var_os("CI").is_none(),
                "{binary} is missing: .ci/run installs chromium and chromium-driver"
            );
            eprintln!("skipped: {binary} is missing (apt-get install chromium chromium-driver)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent()
            .get(format!("{}/status", driver.url))
            .call()
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(driver)
    }

    /// A headless chromium session, with the flags this closed network needs (no
    /// background connections to the outside).
    async fn browser(&self, profile: &Path) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1400,1300",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a chromium session")
    }
}

/// Runs `script` in the page until it returns something other than null, for at most
/// `within`; the page's own state is read, so the test waits on what the user sees.
async fn until_page(browser: &Client, within: Duration, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let value = browser
            .execute(script, vec![])
            .await
            .expect("the script runs");
        if !value.is_null() {
            return value;
        }
        assert!(Instant::now() < deadline, "the page never showed {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A script giving `leader|term` as the elections table shows them for election
/// `example`, once its leader cell starts with `who`; null before.
fn leader_shown(who: &str) -> String {
    format!(
        r#"
        const row = document.querySelector('tr[data-election="example"]');
        const leader = row && row.querySelector('td.leader').textContent;
        return leader && leader.startsWith('{who} (#')
            ? leader + '|' + row.querySelector('td.term').textContent
            : null;
        "#
    )
}

#[test]
fn the_dashboard_shows_the_leader_and_its_successor_after_a_kill_and_a_deployments_logs() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let candidate = wasm(ballot_artifacts::EXAMPLE_CANDIDATE);
    for name in ["alpha", "beta"] {
        let (status, body) = deploy(
            &server,
            &candidate,
            &format!("role=candidate&election=example&name={name}&tick_ms=200"),
        );
        assert_eq!(status, 201, "{body}");
    }
    let alpha = components(&server)
        .into_iter()
        .find(|d| d.name == "alpha")
        .expect("alpha is listed");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let browser = driver.browser(&dir.path().join("profile")).await;
        browser.goto(&server.url("/")).await.expect("the page loads");

        // The leader, named by its deployment, with its term.
        let shown = until_page(
            &browser,
            Duration::from_secs(30),
            "alpha leading",
            &leader_shown("alpha"),
        )
        .await;
        let shown = shown.as_str().unwrap().to_string();
        let first_term: u64 = shown.rsplit('|').next().unwrap().parse().unwrap();

        // Kill the leader through the API; the page must show beta under a higher term.
        // The page notes when its leader cell changed, on the page's own clock.
        browser
            .execute(
                r#"
                window.changedAt = null;
                const cell = () => document.querySelector('tr[data-election="example"] td.leader');
                new MutationObserver(() => {
                    if (window.changedAt === null && cell() && cell().textContent.startsWith('beta')) {
                        window.changedAt = Date.now();
                    }
                }).observe(document.querySelector('#elections'), { subtree: true, childList: true, characterData: true });
                return null;
                "#,
                vec![],
            )
            .await
            .unwrap();
        let killed_at = browser
            .execute("return Date.now();", vec![])
            .await
            .unwrap()
            .as_f64()
            .unwrap();
        let response = agent()
            .post(server.url(&format!("/v1/components/{}/kill", alpha.id)))
            .header("authorization", bearer())
            .send_empty()
            .expect("the kill is answered");
        assert_eq!(response.status().as_u16(), 202);
        let changed_at = until_page(
            &browser,
            Duration::from_secs(20),
            "beta leading",
            "return window.changedAt;",
        )
        .await
        .as_f64()
        .unwrap();
        let shown = until_page(&browser, Duration::from_secs(5), "beta", &leader_shown("beta")).await;
        let shown = shown.as_str().unwrap().to_string();
        let (_, term) = shown.rsplit_once('|').unwrap();
        assert!(term.parse::<u64>().unwrap() > first_term, "{shown}");
        eprintln!(
            "dashboard: kill to successor on the page in {} ms",
            changed_at - killed_at
        );

        // The timeline shows the kill's consequences as they came.
        until_page(
            &browser,
            Duration::from_secs(10),
            "beta's win in the timeline",
            "return document.querySelector('#timeline li[data-kind=\"won\"][data-deployment=\"beta\"]') ? true : null;",
        )
        .await;

        // A deployment's logs open in the page.
        // Clicked from the page's own script, on the button as it is at that moment: the
        // table may be redrawn between a lookup and a click from here.
        browser
            .execute(
                "document.querySelector('tr[data-deployment] button.logs').click(); return null;",
                vec![],
            )
            .await
            .expect("a logs button");
        until_page(
            &browser,
            Duration::from_secs(10),
            "the logs panel",
            "const panel = document.querySelector('#logs-panel'); return panel.hidden ? null : document.querySelector('#logs-of').textContent;",
        )
        .await;

        // Changes from the page, with the token typed into it: a deploy through the form
        // (the README's candidate, into an election of its own) and a kill by button.
        browser
            .execute(
                "const t = document.querySelector('#token'); t.value = arguments[0]; t.dispatchEvent(new Event('change')); return null;",
                vec![json!(super::serve::TOKEN)],
            )
            .await
            .unwrap();
        browser
            .find(Locator::Css("#deploy input[name=wasm]"))
            .await
            .expect("the deploy form's file input")
            .send_keys(ballot_artifacts::README_CANDIDATE)
            .await
            .expect("a file chosen");
        browser
            .execute(
                r#"
                const form = document.querySelector('#deploy');
                form.querySelector('[name=election]').value = 'jobs';
                form.querySelector('[name=name]').value = 'gamma';
                form.querySelector('button').click();
                return null;
                "#,
                vec![],
            )
            .await
            .unwrap();
        until_page(
            &browser,
            Duration::from_secs(30),
            "gamma leading jobs",
            "const row = document.querySelector('tr[data-election=\"jobs\"]'); return row && row.querySelector('td.leader').textContent.startsWith('gamma (#') ? true : null;",
        )
        .await;
        let beta = components(&server)
            .into_iter()
            .find(|d| d.name == "beta")
            .expect("beta is listed");
        browser
            .execute(
                &format!("document.querySelector('tr[data-deployment=\"{}\"] button.kill').click(); return null;", beta.id),
                vec![],
            )
            .await
            .unwrap();
        until_page(
            &browser,
            Duration::from_secs(20),
            "alpha leading again after beta's kill from the page",
            &leader_shown("alpha"),
        )
        .await;
        until_page(
            &browser,
            Duration::from_secs(10),
            "the kill reported",
            "return document.querySelector('#message').textContent === 'kill beta: done' ? true : null;",
        )
        .await;

        // The history check runs on the host's own history.
        browser
            .find(Locator::Id("check"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let verdict = until_page(
            &browser,
            Duration::from_secs(30),
            "a verdict",
            "return document.querySelector('#verdict').dataset.verdict || null;",
        )
        .await;
        assert_eq!(verdict, json!("linearizable"));
        until_page(
            &browser,
            Duration::from_secs(5),
            "the history drawn",
            "return [...document.querySelectorAll('#history svg rect.call title')].some((t) => t.textContent.startsWith('elected term') && t.textContent.includes('by beta')) ? true : null;",
        )
        .await;

        if let Some(path) = std::env::var_os("BALLOT_DASHBOARD_SCREENSHOT") {
            let png = browser.screenshot().await.unwrap();
            std::fs::write(&path, png).unwrap();
        }
        browser.close().await.unwrap();
    });
}
