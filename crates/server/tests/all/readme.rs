//! The README's component template is real: `components/readme-candidate` is its code,
//! verbatim, and deployed into an election the template never names it leads there, writes
//! its fenced record under that election and is acknowledged.

use serde_json::Value;

use super::serve::{Server, deploy, eventually, get, wasm};

/// The README's `src/lib.rs` of the candidate template.
fn readme_template() -> String {
    let readme = include_str!("../../../../README.md");
    let intro = readme
        .find("`src/lib.rs`: a candidate that records who leads")
        .expect("the README has the candidate template");
    let start = readme[intro..].find("```rust\n").expect("a rust block") + intro + 8;
    let end = readme[start..].find("```").expect("the block ends") + start;
    readme[start..end].to_string()
}

#[test]
fn the_readme_template_is_the_component_the_tests_build() {
    let component = include_str!("../../../../components/readme-candidate/src/lib.rs");
    assert_eq!(
        component,
        readme_template(),
        "components/readme-candidate/src/lib.rs must be the README's template, verbatim"
    );
}

#[test]
fn the_readme_template_leads_in_whatever_election_it_is_deployed_into() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let (status, body) = deploy(
        &server,
        &wasm(ballot_artifacts::README_CANDIDATE),
        "role=candidate&election=payments&name=pay-1",
    );
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_u64().unwrap();
    // Acknowledged: its on-winning-election (the guarded write under `payments`) succeeded.
    let term = eventually("pay-1 to lead payments", || {
        let (_, election) = get(&server, "/v1/elections/payments");
        election["leader"]["term"].as_u64()
    });
    let url = server.url("");
    let (ok, out, err) = crate::cli::ballot(&["get", "/payments/owner", "--server", url.as_str()]);
    assert!(ok, "{err}");
    assert!(out.contains("\"name\": \"pay-1\""), "{out}");
    assert!(out.contains(&format!("\"term\": {term}")), "{out}");
    // It logged who it is, as whoami told it.
    let (_, logs) = get(&server, &format!("/v1/components/{id}/logs"));
    let lines: Vec<&str> = logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|line| line["line"].as_str())
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| *line == format!("pay-1 leads payments under term {term}")),
        "{lines:?}"
    );
    let (_, components) = get(&server, "/v1/components");
    let listed = &components.as_array().unwrap()[0];
    assert_eq!(listed["status"], Value::from("running"));
    assert_eq!(listed["term"], Value::from(term));
}
