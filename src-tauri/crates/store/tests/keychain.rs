//! The keychain key source against a real Secret Service. Run it inside `dbus-run-session` with
//! gnome-keyring unlocked (see the crate's CI script). With no Secret Service it FAILS: a
//! skipped test would hide a machine where the default key source does not work.

use std::path::Path;

use switchboard_store::{keys, KeySource, Store, StoreError, DB_FILE_NAME, STORE_CONFIG_FILE_NAME};

const SERVICE: &str = "switchboard-store-test";

/// Removes the test's key from the keychain however the test ends.
struct ForgetKey(String);

impl Drop for ForgetKey {
    fn drop(&mut self) {
        let _ = keys::delete_keychain_key(SERVICE, &self.0);
    }
}

fn keychain_source(data: &Path) -> (KeySource, ForgetKey) {
    std::fs::create_dir_all(data).unwrap();
    let source = KeySource::keychain_for_dir(SERVICE, data).unwrap();
    let KeySource::Keychain { account, .. } = &source else {
        unreachable!()
    };
    let guard = ForgetKey(account.clone());
    (source, guard)
}

fn open(data: &Path, source: &KeySource) -> Result<Store, StoreError> {
    match Store::open_in_dir(data, source) {
        Err(e @ StoreError::KeychainUnavailable { .. }) => panic!(
            "no Secret Service is reachable ({e}); run inside dbus-run-session with an unlocked \
             gnome-keyring"
        ),
        other => other,
    }
}

#[test]
fn a_store_keyed_from_the_keychain() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (source, _forget) = keychain_source(&data);
    let KeySource::Keychain { account, .. } = &source else {
        unreachable!()
    };

    // First run: a random key is saved in the keychain, then the database is made with it.
    let store = open(&data, &source).unwrap();
    let number = switchboard_store::E164::from_normalized("+14155550100").unwrap();
    store.add_line(&number, "Sales", "#336699").unwrap();
    drop(store);
    let key = keys::load_key(&source).unwrap();
    assert_eq!(key.to_hex().unwrap().len(), 64, "a raw 256-bit key");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join(STORE_CONFIG_FILE_NAME)).unwrap())
            .unwrap();
    assert_eq!(config["key_source"], "keychain");
    assert_eq!(config["keychain_account"], account.as_str());

    // Later runs open the same data.
    let store = open(&data, &source).unwrap();
    assert_eq!(store.list_lines().unwrap()[0].label, "Sales");
    drop(store);

    // Another kind of source, or another account, is refused with a clear error.
    let check = |source: &KeySource, code: &str| {
        let err = open(&data, source).unwrap_err();
        assert_eq!(err.code().as_str(), code, "{err}");
    };
    check(
        &KeySource::Passphrase("guess".into()),
        "key_source_mismatch",
    );
    check(
        &KeySource::KeyFile(dir.path().join("k")),
        "key_source_mismatch",
    );
    check(
        &KeySource::Keychain {
            service: SERVICE.into(),
            account: "someone else".into(),
        },
        "keychain_account_mismatch",
    );

    // A second data directory gets its own key.
    let other = dir.path().join("other");
    let (other_source, _forget_other) = keychain_source(&other);
    assert_ne!(other_source, source);
    drop(open(&other, &other_source).unwrap());
    assert_ne!(
        keys::load_key(&other_source).unwrap().to_hex(),
        key.to_hex()
    );

    // A lost key is an error; no new key is made and the database is left as it was.
    let db = data.join(DB_FILE_NAME);
    let before = std::fs::read(&db).unwrap();
    assert!(keys::delete_keychain_key(SERVICE, account).unwrap());
    check(&source, "key_missing");
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert_eq!(
        keys::load_key(&source).unwrap_err().code().as_str(),
        "key_missing"
    );
}

#[test]
fn secrets_are_kept_per_data_directory_and_deleted() {
    use switchboard_store::{KeychainSecrets, Secrets};
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    let a = KeychainSecrets::for_dir(SERVICE, &one).unwrap();
    let b = KeychainSecrets::for_dir(SERVICE, &two).unwrap();
    assert!(a.get("twilio").unwrap().is_none());
    a.set("twilio", "{\"token\":\"t0k3n\"}").unwrap();
    assert_eq!(
        a.get("twilio").unwrap().as_deref().map(String::as_str),
        Some("{\"token\":\"t0k3n\"}")
    );
    assert!(
        b.get("twilio").unwrap().is_none(),
        "another data directory sees nothing"
    );
    assert!(a.delete("twilio").unwrap());
    assert!(!a.delete("twilio").unwrap());
    assert!(a.get("twilio").unwrap().is_none());
}
