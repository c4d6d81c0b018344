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

/// What Twilio's document says a successful `method` on `path` answers: its status, and the
/// schema of its body.
fn documented<'a>(spec: &'a Value, path: &str, method: &str) -> (u16, &'a Value) {
    let responses = spec["paths"][path][method]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} is not in Twilio's document"));
    let (status, response) = responses
        .iter()
        .find(|(status, _)| status.starts_with('2'))
        .unwrap();
    let schema = &response["content"]["application/json"]["schema"];
    (status.parse().unwrap(), resolve(spec, schema))
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            schema_named(spec, name)
        }
        None => schema,
    }
}

fn schema_named<'a>(spec: &'a Value, name: &str) -> &'a Value {
    &spec["components"]["schemas"][name]
}

/// `body` has exactly the fields `schema` declares (a list's items too), each date one that
/// reads as RFC 2822 and each enumerated value one of the document's.
#[track_caller]
fn check_shape(spec: &Value, what: &str, body: &Value, schema: &Value) {
    let mut ours = keys(body);
    let mut declared = keys(&schema["properties"]);
    ours.sort();
    declared.sort();
    assert_eq!(ours, declared, "{what}: the fields differ from Twilio's");
    for (name, property) in schema["properties"].as_object().unwrap() {
        let value = &body[name];
        let property = resolve(spec, property);
        if property["format"] == "date-time-rfc-2822" && !value.is_null() {
            let text = value.as_str().unwrap();
            assert!(
                switchboard_carrier::dates::parse_rfc2822(text).is_some(),
                "{what}.{name}: {text} is no RFC 2822 date"
            );
        }
        if let Some(allowed) = property["enum"].as_array() {
            assert!(
                allowed.contains(value),
                "{what}.{name}: {value} is none of {allowed:?}"
            );
        }
        if property["type"] == "array" {
            let item = resolve(spec, &property["items"]);
            let items = value.as_array().unwrap();
            assert!(
                !items.is_empty(),
                "{what}.{name}: an empty list proves nothing"
            );
            for (i, v) in items.iter().enumerate() {
                check_shape(spec, &format!("{what}.{name}[{i}]"), v, item);
            }
        }
    }
}

/// Every read of the resources the sandbox serves (the Account, IncomingPhoneNumbers, Messages
/// and their Media), and the one write of each the client makes, answered with the status and
/// exactly the fields Twilio's own document gives; an unknown resource, a wrong method and
/// wrong credentials with Twilio's error document.
#[tokio::test]
async fn every_read_is_answered_as_twilio_documents_it() {
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
    let root = sandbox.api_base_url();
    let account = sandbox.account_sid().to_owned();
    let call = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{root}{path}"))
            .basic_auth(sandbox.account_sid(), Some(sandbox.auth_token()))
    };
    let answer = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    };

    // An MMS, so that Media have something to list.
    let image = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/src/flood.png")).unwrap();
    let (_, uploaded) = answer(call(reqwest::Method::POST, "/_sandbox/media").body(image)).await;
    let media_url = uploaded["url"].as_str().unwrap().to_owned();
    let messages_path = "/2010-04-01/Accounts/{AccountSid}/Messages.json";
    let (status, sent) = answer(
        call(
            reqwest::Method::POST,
            &messages_path.replace("{AccountSid}", &account),
        )
        .form(&[
            ("From", "+14155550100"),
            ("To", "+14155550123"),
            ("Body", "Here is the photo"),
            ("MediaUrl", media_url.as_str()),
        ]),
    )
    .await;
    let (created, schema) = documented(&spec, messages_path, "post");
    assert_eq!(status, created, "{sent}");
    check_shape(&spec, "sent message", &sent, schema);
    let message_sid = sent["sid"].as_str().unwrap().to_owned();
    assert!(
        message_sid.starts_with("MM"),
        "an MMS sid starts with MM: {message_sid}"
    );

    let (_, media) = answer(call(
        reqwest::Method::GET,
        &format!("/2010-04-01/Accounts/{account}/Messages/{message_sid}/Media.json"),
    ))
    .await;
    let media_sid = media["media_list"][0]["sid"].as_str().unwrap().to_owned();
    let line_sid = sandbox.lines()[0].sid.clone();

    let reads = [
        (
            "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json",
            "get",
        ),
        ("/2010-04-01/Accounts/{Sid}.json", "get"),
        (
            "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json",
            "get",
        ),
        (
            "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json",
            "post",
        ),
        ("/2010-04-01/Accounts/{AccountSid}/Messages.json", "get"),
        (
            "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json",
            "get",
        ),
        (
            "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json",
            "get",
        ),
        (
            "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{Sid}.json",
            "get",
        ),
    ];
    for (template, method) in reads {
        let sid = if template.contains("IncomingPhoneNumbers/") {
            &line_sid
        } else if template.contains("Media/") {
            &media_sid
        } else if template.contains("Messages/{Sid}") {
            &message_sid
        } else {
            &account
        };
        let path = template
            .replace("{AccountSid}", &account)
            .replace("{MessageSid}", &message_sid)
            .replace("{Sid}", sid);
        let mut request = call(method.to_uppercase().parse().unwrap(), &path);
        if method == "post" {
            request = request.form(&[("FriendlyName", "Sales")]);
        }
        let (status, body) = answer(request).await;
        let (expected, schema) = documented(&spec, template, method);
        assert_eq!(status, expected, "{method} {path}: {body}");
        check_shape(&spec, &format!("{method} {template}"), &body, schema);
    }

    let error_fields = ["code", "message", "more_info", "status"].map(String::from);
    let check_error = |what: &str, status: u16, body: &Value, expected: u16| {
        assert_eq!(status, expected, "{what}: {body}");
        let mut fields = keys(body);
        fields.sort();
        assert_eq!(fields, error_fields, "{what}: {body}");
        assert_eq!(body["status"], expected, "{what}");
    };
    let base = format!("/2010-04-01/Accounts/{account}");
    let missing = format!("{base}/Messages/SM00000000000000000000000000000000.json");
    let (status, body) = answer(call(reqwest::Method::GET, &missing)).await;
    check_error("an unknown message", status, &body, 404);
    assert_eq!(
        body["message"],
        format!("The requested resource {missing} was not found")
    );
    let (status, body) = answer(call(reqwest::Method::GET, &format!("{base}/Calls.json"))).await;
    check_error("a resource the sandbox does not serve", status, &body, 404);
    let (status, body) = answer(call(
        reqwest::Method::DELETE,
        &format!("{base}/Messages.json"),
    ))
    .await;
    check_error("a method the resource does not take", status, &body, 405);
    let (status, body) = answer(
        http.get(format!("{root}{base}/Messages.json"))
            .basic_auth(&account, Some("wrong")),
    )
    .await;
    check_error("wrong credentials", status, &body, 401);
    sandbox.shutdown().await;
}
