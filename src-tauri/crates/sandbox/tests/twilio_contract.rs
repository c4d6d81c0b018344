//! The sandbox speaks Twilio's documented shapes: every field it answers with and every request
//! field the client uses is one that Twilio's own OpenAPI document (`twilio_api_v2010.json`,
//! kept in the shared specs folder beside the repository) declares.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use switchboard_sandbox::{serve, Delays, SandboxConfig};
use tempfile::TempDir;

const MESSAGES: &str = "/2010-04-01/Accounts/{AccountSid}/Messages.json";
const NUMBERS: &str = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json";

/// The document: `SWITCHBOARD_TWILIO_SPEC` when set, else found from the crate up to the folder
/// that holds `shared/` beside the repository. Missing, the test fails loudly: a contract that
/// is silently not checked is worse than none.
fn spec() -> Value {
    let found = std::env::var_os("SWITCHBOARD_TWILIO_SPEC")
        .map(PathBuf::from)
        .or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|dir| dir.join("shared/specs/twilio/twilio_api_v2010.json"))
                .find(|p| p.exists())
        })
        .expect(
            "Twilio's OpenAPI document was not found: set SWITCHBOARD_TWILIO_SPEC to \
             twilio_api_v2010.json (it lives in shared/specs/twilio beside the repository)",
        );
    serde_json::from_slice(&std::fs::read(&found).unwrap()).unwrap()
}

fn keys(object: &Value) -> Vec<String> {
    object.as_object().unwrap().keys().cloned().collect()
}

fn check_subset(what: &str, ours: &[String], declared: &[String]) {
    let unknown: Vec<_> = ours.iter().filter(|k| !declared.contains(k)).collect();
    assert!(
        unknown.is_empty(),
        "{what}: not in Twilio's document: {unknown:?}"
    );
}

fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    &spec["components"]["schemas"][name]
}

#[tokio::test]
async fn answers_and_requests_use_only_fields_twilio_documents() {
    let spec = spec();
    let dir = TempDir::new().unwrap();
    let sandbox = serve(SandboxConfig {
        delays: Delays {
            sent: Duration::from_millis(10),
            delivered: Duration::from_secs(60),
            reply: None,
        },
        ..SandboxConfig::new(dir.path())
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let base = format!(
        "{}/2010-04-01/Accounts/{}",
        sandbox.api_base_url(),
        sandbox.account_sid()
    );
    let auth = |r: reqwest::RequestBuilder| {
        r.basic_auth(sandbox.account_sid(), Some(sandbox.auth_token()))
    };

    // The request fields the client sends.
    let post = &spec["paths"][MESSAGES]["post"];
    let form = &post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
    check_subset(
        "send form",
        &["From", "To", "Body", "MediaUrl"].map(String::from),
        &keys(&form["properties"]),
    );
    let params: Vec<String> = spec["paths"][MESSAGES]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    check_subset(
        "list query",
        &["To", "From", "DateSent>", "PageSize", "Page", "PageToken"].map(String::from),
        &params,
    );

    // What the sandbox answers.
    let sent: Value = auth(http.post(format!("{base}/Messages.json")))
        .form(&[
            ("From", "+14155550100"),
            ("To", "+14155550123"),
            ("Body", "Hi"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = schema(&spec, "api.v2010.account.message");
    check_subset("message", &keys(&sent), &keys(&message["properties"]));
    let enum_of = |name: &str| schema(&spec, name)["enum"].as_array().unwrap().clone();
    assert!(enum_of("message_enum_status").contains(&sent["status"]));
    assert!(enum_of("message_enum_direction").contains(&sent["direction"]));

    let list: Value = auth(http.get(format!("{base}/Messages.json?PageSize=1")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list_schema = &spec["paths"][MESSAGES]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    check_subset(
        "message list",
        &keys(&list),
        &keys(&list_schema["properties"]),
    );

    let numbers: Value = auth(http.get(format!("{base}/IncomingPhoneNumbers.json")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let numbers_schema =
        &spec["paths"][NUMBERS]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    check_subset(
        "number list",
        &keys(&numbers),
        &keys(&numbers_schema["properties"]),
    );
    let number = schema(&spec, "api.v2010.account.incoming_phone_number");
    check_subset(
        "number",
        &keys(&numbers["incoming_phone_numbers"][0]),
        &keys(&number["properties"]),
    );
    sandbox.shutdown().await;
}
