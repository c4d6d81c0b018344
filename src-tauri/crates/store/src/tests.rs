//! Store-level specifications: opening and keys, query plans of the hot queries, the atomic
//! fan-out, inbound deduplication, the outbox life cycle, search and the history import.

use std::path::Path;

use rusqlite::params;

use crate::testutil::{key, new_store, num, test_key};
use crate::*;

const T0: i64 = 1_700_000_000_000;

fn line(store: &Store, number: &str, label: &str) -> LineId {
    store.add_line(&num(number), label, "#336699").unwrap().id
}

fn outgoing(key: ThreadKey, body: &str, client_id: &str) -> NewOutgoing {
    NewOutgoing {
        key,
        body: body.into(),
        images: Vec::new(),
        client_id: client_id.into(),
    }
}

fn count(store: &Store, table: &str) -> i64 {
    store
        .read(|c| Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?))
        .unwrap()
}

// --- Opening and keys ------------------------------------------------------------------------

fn random_bytes(n: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut v = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

/// Opening `path` with `key` fails with `code` and leaves the file byte for byte as it was.
fn check_refused_untouched(path: &Path, key: DbKey, code: &str) {
    let before = std::fs::read(path).unwrap();
    let err = Store::open(path, key).unwrap_err();
    assert_eq!(err.code().as_str(), code, "{err}");
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "the file was modified"
    );
}

#[test]
fn reopening_with_the_key_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let store = Store::create(&path, test_key()).unwrap();
        line(&store, "+14155550100", "Sales");
    }
    let store = Store::open(&path, test_key()).unwrap();
    assert_eq!(store.list_lines().unwrap()[0].label, "Sales");
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn every_commit_survives_a_power_cut() {
    // With NORMAL, a power cut can take back a committed "sending" mark, and the message would
    // be sent again without asking the carrier first (BENCHMARKS.md, "Durability").
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(Store::create(&path, test_key()).unwrap());
    let store = Store::open(&path, test_key()).unwrap();
    assert_eq!(store.durability().unwrap(), Some(Durability::Full));
}

#[test]
fn a_wrong_key_is_refused_and_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(Store::create(&path, test_key()).unwrap());
    check_refused_untouched(
        &path,
        DbKey::from_bytes([8; 32]),
        "wrong_key_or_not_a_database",
    );
    check_refused_untouched(
        &path,
        DbKey::passphrase("guess").unwrap(),
        "wrong_key_or_not_a_database",
    );
    Store::open(&path, test_key()).unwrap();
}

#[test]
fn a_damaged_file_is_refused_and_left_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("random.db", random_bytes(64 * 1024)),
        ("short.db", random_bytes(100)),
        ("text.db", b"hello, this is not a database\n".to_vec()),
        ("plain-sqlite.db", {
            let mut header = b"SQLite format 3\0".to_vec();
            header.extend(random_bytes(4096 - 16));
            header
        }),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        check_refused_untouched(&path, test_key(), "wrong_key_or_not_a_database");
    }
    // A real database with a damaged first page is refused too.
    let path = dir.path().join("damaged.db");
    drop(Store::create(&path, test_key()).unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100..200].copy_from_slice(&random_bytes(100));
    std::fs::write(&path, &bytes).unwrap();
    check_refused_untouched(&path, test_key(), "wrong_key_or_not_a_database");
}

#[test]
fn open_never_creates_and_create_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    assert_eq!(
        Store::open(&path, test_key()).unwrap_err().code().as_str(),
        "database_missing"
    );
    assert!(!path.exists());

    std::fs::write(&path, b"precious").unwrap();
    assert_eq!(
        Store::create(&path, test_key())
            .unwrap_err()
            .code()
            .as_str(),
        "database_exists"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");

    // A stray WAL would be replayed into a new database: refused as well, and kept.
    let other = dir.path().join("t.db");
    std::fs::write(dir.path().join("t.db-wal"), b"old wal").unwrap();
    assert_eq!(
        Store::create(&other, test_key())
            .unwrap_err()
            .code()
            .as_str(),
        "database_exists"
    );
    assert!(!other.exists());
}

#[test]
fn a_database_from_the_future_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(Store::create(&path, test_key()).unwrap());
    {
        let conn = crate::db::open_keyed(&path, &test_key(), crate::db::Role::Writer).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let err = Store::open(&path, test_key()).unwrap_err();
    assert!(
        matches!(err, StoreError::FromTheFuture { found, supported }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
}

#[test]
fn a_passphrase_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let pass = || DbKey::passphrase("correct horse 'battery' staple").unwrap();
    drop(Store::create(&path, pass()).unwrap());
    let store = Store::open(&path, pass()).unwrap();
    line(&store, "+14155550100", "Sales");
    assert_eq!(store.list_lines().unwrap().len(), 1);
    drop(store);
    check_refused_untouched(
        &path,
        DbKey::passphrase("correct horse").unwrap(),
        "wrong_key_or_not_a_database",
    );
}

/// Windows: a key file's safety cannot be checked there (see `keys::key_files_supported`), so
/// a data directory is never keyed by one, and nothing is written for it.
#[cfg(not(unix))]
#[test]
fn a_key_file_is_refused_where_its_access_cannot_be_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key_file = dir.path().join("switchboard.key");
    let err = Store::open_in_dir(&data, &KeySource::KeyFile(key_file.clone())).unwrap_err();
    assert_eq!(err.code().as_str(), "key_file_unsupported", "{err}");
    assert!(err.to_string().contains("passphrase"), "{err}");
    assert!(!key_file.exists(), "no key file was written");
    assert!(!data.join(DB_FILE_NAME).exists(), "no database was made");
}

// The key-file tests below check Unix modes (0600, 0644): key files exist on Unix only.
#[cfg(unix)]
#[test]
fn a_data_dir_with_a_key_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key_file = dir.path().join("switchboard.key");
    let source = KeySource::KeyFile(key_file.clone());

    let store = Store::open_in_dir(&data, &source).unwrap();
    line(&store, "+14155550100", "Sales");
    drop(store);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&data.join(DB_FILE_NAME)), 0o600);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join(STORE_CONFIG_FILE_NAME)).unwrap())
            .unwrap();
    assert_eq!(config, serde_json::json!({"key_source": "key_file"}));

    let store = Store::open_in_dir(&data, &source).unwrap();
    assert_eq!(store.list_lines().unwrap().len(), 1);
    drop(store);

    let check = |source: &KeySource, code: &str| {
        let err = Store::open_in_dir(&data, source).unwrap_err();
        assert_eq!(err.code().as_str(), code, "{err}");
    };
    check(&KeySource::Passphrase("x".into()), "key_source_mismatch");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    check(&source, "key_file_insecure");
    std::fs::remove_file(&key_file).unwrap();
    check(&source, "key_file_missing");
    assert!(
        !key_file.exists(),
        "no new key is made for an existing store"
    );
}

// Unix modes; on Windows the data directory's ACL is the one it inherits from the user's
// profile (%LOCALAPPDATA%), private to that user, and the store leaves it as it is.
#[cfg(unix)]
#[test]
fn the_data_dir_of_a_new_store_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let dir = tempfile::tempdir().unwrap();
    let source = KeySource::Passphrase("open sesame".into());

    // Made beforehand (as the engine does) with a world-readable mode.
    let made = dir.path().join("made");
    std::fs::create_dir_all(&made).unwrap();
    std::fs::set_permissions(&made, std::fs::Permissions::from_mode(0o755)).unwrap();
    drop(Store::open_in_dir(&made, &source).unwrap());
    assert_eq!(mode(&made), 0o700);

    // Made by the store, several levels deep.
    let new = dir.path().join("a/b/new");
    drop(Store::open_in_dir(&new, &source).unwrap());
    assert_eq!(mode(&new), 0o700);

    // A directory already holding a store keeps the mode its owner gave it.
    std::fs::set_permissions(&made, std::fs::Permissions::from_mode(0o750)).unwrap();
    drop(Store::open_in_dir(&made, &source).unwrap());
    assert_eq!(mode(&made), 0o750);
}

#[test]
fn a_passphrase_with_control_characters_is_refused_before_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for bad in ["sec\0ret", "secret\n", "\u{1b}secret"] {
        let err = Store::open_in_dir(&data, &KeySource::Passphrase(bad.into())).unwrap_err();
        assert_eq!(
            err.code().as_str(),
            "passphrase_control_characters",
            "{bad:?}"
        );
        assert!(!err.to_string().contains("sec"), "{err}");
        assert!(!data.join(DB_FILE_NAME).exists(), "nothing was created");
    }
}

#[cfg(unix)]
#[test]
fn a_provisioned_key_file_is_used_for_a_new_store() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("k");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_file)
        .unwrap();
    writeln!(f, "{}", "07".repeat(32)).unwrap();
    drop(f);
    let data = dir.path().join("data");
    drop(Store::open_in_dir(&data, &KeySource::KeyFile(key_file)).unwrap());
    // The provisioned key is the test key: the database opens with it directly.
    Store::open(&data.join(DB_FILE_NAME), test_key()).unwrap();
}

#[test]
fn a_data_dir_with_a_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let source = KeySource::Passphrase("open sesame".into());
    drop(Store::open_in_dir(dir.path(), &source).unwrap());
    Store::open_in_dir(dir.path(), &source).unwrap();
    let err = Store::open_in_dir(dir.path(), &KeySource::Passphrase("open".into())).unwrap_err();
    assert_eq!(err.code().as_str(), "wrong_key_or_not_a_database");
    let err = Store::open_in_dir(
        dir.path(),
        &KeySource::KeyFile(dir.path().join("nothing.key")),
    )
    .unwrap_err();
    assert_eq!(err.code().as_str(), "key_source_mismatch");
}

#[test]
fn the_store_is_shareable_across_threads() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &store;
            s.spawn(move || {
                for i in 0..25 {
                    let k = key(sales, &format!("+1415555{:04}", t * 100 + i));
                    store
                        .enqueue_outgoing(&[outgoing(k, "hi", &format!("c{t}-{i}"))], T0)
                        .unwrap();
                    store.list_threads(None, 50, None).unwrap();
                }
            });
        }
    });
    assert_eq!(count(&store, "messages"), 100);
}

// --- Query plans -----------------------------------------------------------------------------

/// The `EXPLAIN QUERY PLAN` of `sql`, one step per line.
pub(crate) fn plan(store: &Store, sql: &str, params: impl rusqlite::Params) -> String {
    store
        .read(|c| {
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let steps: Vec<String> = stmt
                .query_map(params, |r| r.get::<_, String>(3))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(steps.join("\n"))
        })
        .unwrap()
}

/// Checks a plan names the `must` steps and reads no table whole: every `SCAN` step must be
/// one of `scans_allowed` (the FTS index itself, a co-routine of a few rows).
pub(crate) fn check_plan(plan: &str, must: &[&str], scans_allowed: &[&str]) {
    for m in must {
        assert!(plan.contains(m), "plan lacks {m:?}:\n{plan}");
    }
    for step in plan.lines() {
        let scan = step.starts_with("SCAN") && !scans_allowed.iter().any(|a| step.starts_with(a));
        assert!(!scan, "plan reads a whole table ({step}):\n{plan}");
        assert!(
            !step.contains("TEMP B-TREE"),
            "plan sorts ({step}):\n{plan}"
        );
    }
}

pub(crate) fn store_with_history() -> (tempfile::TempDir, Store) {
    let (dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let support = line(&store, "+14155550101", "Support");
    store
        .add_contact("Ada Lovelace", &[num("+447700900001")], None, false)
        .unwrap();
    let history = (0..600).map(|i| HistoryMessage {
        key: key(
            if i % 3 == 0 { support } else { sales },
            &format!("+4477009{:05}", i % 40),
        ),
        direction: if i % 2 == 0 {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        status: if i % 2 == 0 {
            MessageStatus::Received
        } else {
            MessageStatus::Delivered
        },
        body: format!("message {i} about the invoice number {}", i * 7),
        created_at: T0 + i * 1000,
        carrier_sid: Some(format!("SM{i:032x}")),
    });
    store.import_history(history).unwrap();
    // No ANALYZE: the app never runs it, and statistics of a tiny test database could only
    // mislead the planner. Plans here are the ones a real store gets.
    (dir, store)
}

#[test]
fn plan_conversation_list() {
    let (_dir, store) = store_with_history();
    let all = plan(
        &store,
        &threads::list_sql(threads::LIST_ALL_SQL),
        params![i64::MAX, i64::MAX, 50, 0],
    );
    check_plan(
        &all,
        &[
            "SEARCH t USING INDEX threads_by_view",
            "contact_numbers_by_number (number=?)",
            "SEARCH c USING INTEGER PRIMARY KEY",
        ],
        &[],
    );
    let one_line = plan(
        &store,
        &threads::list_sql(threads::LIST_LINE_SQL),
        params![i64::MAX, i64::MAX, 50, 0, 1],
    );
    check_plan(&one_line, &["threads_by_line_view (line_id=?"], &[]);
}

#[test]
#[should_panic(expected = "plan")]
fn a_lost_index_fails_the_plan_checks() {
    let (_dir, store) = store_with_history();
    store
        .writer_for_tests()
        .execute_batch("DROP INDEX threads_by_view")
        .unwrap();
    let all = plan(
        &store,
        &threads::list_sql(threads::LIST_ALL_SQL),
        params![i64::MAX, i64::MAX, 50, 0],
    );
    check_plan(&all, &["SEARCH t USING INDEX threads_by_view"], &[]);
}

#[test]
fn plan_open_a_thread() {
    let (_dir, store) = store_with_history();
    let p = plan(
        &store,
        messages::THREAD_PAGE_SQL,
        params![1, i64::MAX, i64::MAX, 100],
    );
    check_plan(&p, &["SEARCH messages USING PRIMARY KEY (thread_id=?"], &[]);
}

#[test]
fn plan_search() {
    let (_dir, store) = store_with_history();
    let p = plan(&store, search::SEARCH_SQL, params!["\"invoice\"", 50]);
    check_plan(
        &p,
        &[
            "SCAN message_fts VIRTUAL TABLE",
            "SEARCH m USING INDEX messages_by_id (id=?)",
            "SEARCH t USING INTEGER PRIMARY KEY",
            "SEARCH c USING INTEGER PRIMARY KEY",
        ],
        &["SCAN message_fts VIRTUAL TABLE", "SCAN f"],
    );
    // FTS5 takes the ORDER BY rowid DESC itself (no sort of all hits).
    let order = store
        .read(|c| {
            let mut stmt = c.prepare(
                "EXPLAIN SELECT rowid FROM message_fts WHERE message_fts MATCH ?1
                 ORDER BY rowid DESC LIMIT 50",
            )?;
            let ops: Vec<String> = stmt
                .query_map(["\"invoice\""], |r| r.get::<_, String>(1))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(ops)
        })
        .unwrap();
    assert!(!order.iter().any(|op| op == "SorterOpen"), "{order:?}");
}

#[test]
fn plan_outbox_and_lookups() {
    let (_dir, store) = store_with_history();
    let requeue = plan(&store, outbox::REQUEUE_ALL_SQL, [T0]);
    check_plan(&requeue, &["outbox_due (next_attempt_at>?)"], &[]);
    let by_sid = plan(
        &store,
        "SELECT thread_id, id FROM messages WHERE carrier_sid = ?1",
        ["SM1"],
    );
    check_plan(&by_sid, &["messages_by_carrier_sid (carrier_sid=?)"], &[]);
    let status = plan(&store, carrier_sync::DELIVERY_STATUS_SQL, params!["SM1", 0]);
    check_plan(&status, &["messages_by_carrier_sid (carrier_sid=?)"], &[]);
    let allocate = plan(&store, messages::ALLOCATE_IDS_SQL, [1]);
    check_plan(
        &allocate,
        &[
            "SEARCH message_id_high_water USING INTEGER PRIMARY KEY",
            "SEARCH messages USING COVERING INDEX messages_by_id",
        ],
        &[],
    );
}

#[test]
fn plan_the_runners_pending_jobs() {
    let (_dir, store) = store_with_history();
    let pending = plan(&store, outbox::PENDING_SQL, []);
    // The outbox is read whole, in id order (which is the ORDER BY, so nothing is sorted): no
    // index covers both `queued` and `sending`, and the table only holds what has not gone yet.
    // Everything joined to it must be one lookup per job.
    check_plan(
        &pending,
        &[
            "SCAN o",
            "SEARCH m USING COVERING INDEX messages_by_id (id=?)",
            "SEARCH t USING INTEGER PRIMARY KEY (rowid=?)",
            "SEARCH l USING INTEGER PRIMARY KEY (rowid=?)",
        ],
        &["SCAN o"],
    );
    assert!(
        !pending
            .lines()
            .any(|s| s.starts_with("SCAN m") || s.contains("SCAN messages")),
        "{pending}"
    );
}

#[test]
#[should_panic(expected = "plan")]
fn a_lost_index_fails_the_pending_plan() {
    let (_dir, store) = store_with_history();
    store
        .writer_for_tests()
        .execute_batch("DROP INDEX messages_by_id")
        .unwrap();
    let pending = plan(&store, outbox::PENDING_SQL, []);
    check_plan(
        &pending,
        &["SEARCH m USING COVERING INDEX messages_by_id (id=?)"],
        &["SCAN o"],
    );
}

// --- Sending ---------------------------------------------------------------------------------

#[test]
fn a_fan_out_of_twenty_is_one_transaction() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let items: Vec<NewOutgoing> = (0..20)
        .map(|i| {
            outgoing(
                key(sales, &format!("+1415555{:04}", 200 + i)),
                "Hello all",
                &format!("send-1/{i}"),
            )
        })
        .collect();
    let done = store.enqueue_outgoing(&items, T0).unwrap();
    assert_eq!(done.len(), 20);
    let threads: std::collections::HashSet<ThreadId> = done.iter().map(|e| e.thread_id).collect();
    assert_eq!(threads.len(), 20, "one thread per recipient");
    assert!(done.windows(2).all(|w| w[0].message_id < w[1].message_id));
    let jobs = store.list_outbox().unwrap();
    assert_eq!(jobs.len(), 20);
    assert!(jobs
        .iter()
        .all(|j| j.state == OutboxState::Queued && j.next_attempt_at == T0));

    // A second send to the same people reuses their threads and moves them to the top.
    let again: Vec<NewOutgoing> = (0..20)
        .map(|i| {
            outgoing(
                key(sales, &format!("+1415555{:04}", 200 + i)),
                "Again",
                &format!("send-2/{i}"),
            )
        })
        .collect();
    let done2 = store.enqueue_outgoing(&again, T0 + 5).unwrap();
    assert_eq!(
        done2.iter().map(|e| e.thread_id).collect::<Vec<_>>(),
        done.iter().map(|e| e.thread_id).collect::<Vec<_>>()
    );
    let list = store.list_threads(None, 50, None).unwrap();
    assert_eq!(list.len(), 20);
    assert!(list
        .iter()
        .all(|t| t.preview == "Again" && t.last_message_at == T0 + 5));
}

#[test]
fn a_fan_out_that_fails_midway_writes_nothing() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    store
        .enqueue_outgoing(
            &[outgoing(key(sales, "+14155550999"), "earlier", "taken")],
            T0,
        )
        .unwrap();
    let tables = ["messages", "threads", "outbox", "media", "message_fts_data"];
    let before: Vec<i64> = tables.iter().map(|t| count(&store, t)).collect();

    let check = |items: Vec<NewOutgoing>, code: &str| {
        let err = store.enqueue_outgoing(&items, T0 + 1).unwrap_err();
        assert_eq!(err.code().as_str(), code, "{err}");
        let after: Vec<i64> = tables.iter().map(|t| count(&store, t)).collect();
        assert_eq!(after, before, "something was written");
    };
    let twenty = |bad: usize, bad_item: NewOutgoing| -> Vec<NewOutgoing> {
        (0..20)
            .map(|i| {
                if i == bad {
                    bad_item.clone()
                } else {
                    let mut item = outgoing(
                        key(sales, &format!("+1415555{:04}", 300 + i)),
                        "Hi",
                        &format!("new/{i}"),
                    );
                    item.images = (i == 3)
                        .then(|| NewImage {
                            kind: ImageKind::Png,
                            bytes: vec![1, 2, 3],
                            width: 1,
                            height: 1,
                        })
                        .into_iter()
                        .collect();
                    item
                }
            })
            .collect()
    };
    // The 11th reuses an idempotency key already in the outbox.
    check(
        twenty(10, outgoing(key(sales, "+14155550888"), "x", "taken")),
        "duplicate_client_id",
    );
    // The 20th repeats the 1st one's key within the same send.
    check(
        twenty(19, outgoing(key(sales, "+14155550888"), "x", "new/0")),
        "duplicate_client_id",
    );
    check(
        twenty(5, outgoing(key(LineId(99), "+14155550888"), "x", "n")),
        "line_not_found",
    );
    check(
        twenty(7, outgoing(key(sales, "+14155550888"), "", "n")),
        "invalid_input",
    );
    assert_eq!(
        store.thread_by_key(&key(sales, "+14155550300")).unwrap(),
        None
    );
}

#[test]
fn images_are_stored_with_their_message() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let mut item = outgoing(key(sales, "+14155550111"), "", "img");
    item.images = vec![
        NewImage {
            kind: ImageKind::Jpeg,
            bytes: vec![0xff, 0xd8, 0xff, 0xe0],
            width: 640,
            height: 480,
        },
        NewImage {
            kind: ImageKind::Png,
            bytes: vec![0x89, b'P'],
            width: 2,
            height: 1,
        },
    ];
    let done = store.enqueue_outgoing(&[item], T0).unwrap();
    let m = done[0].message_id;
    let att = store.attachment(m, 0).unwrap().unwrap();
    assert_eq!(
        (att.image_kind(), att.width, att.height),
        (Some(ImageKind::Jpeg), Some(640), Some(480))
    );
    assert_eq!(att.bytes, [0xff, 0xd8, 0xff, 0xe0]);
    let all = store.attachments(m).unwrap();
    assert_eq!(all.iter().map(|a| a.index).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(all[1].image_kind(), Some(ImageKind::Png));
    let row = store.get_message(m).unwrap();
    assert!(row.has_attachment);
    assert_eq!(
        row.attachments
            .iter()
            .map(|a| (a.index, a.state, a.bytes, a.width))
            .collect::<Vec<_>>(),
        [
            (0, AttachmentState::Ready, Some(4), Some(640)),
            (1, AttachmentState::Ready, Some(2), Some(2))
        ]
    );
    assert_eq!(
        store.get_thread(done[0].thread_id).unwrap().preview,
        "📷 Image"
    );
    store.delete_message(m).unwrap();
    assert_eq!(store.attachment(m, 0).unwrap(), None);
    assert_eq!(count(&store, "media"), 0);
}

// --- The outbox ------------------------------------------------------------------------------

/// The jobs the runner may start at `now` as far as the store decides: of the pending jobs it
/// reads ([`Store::pending_outbox`]), those queued and due (order within threads and rates are
/// the planner's, in the core).
fn due_now(store: &Store, now: i64) -> Vec<OutboxId> {
    store
        .pending_outbox()
        .unwrap()
        .into_iter()
        .filter(|p| p.state == OutboxState::Queued && p.next_attempt_at <= now)
        .map(|p| p.id)
        .collect()
}

/// When the runner next has a queued job to start, from the same query.
fn next_due_at(store: &Store) -> Option<i64> {
    store
        .pending_outbox()
        .unwrap()
        .into_iter()
        .filter(|p| p.state == OutboxState::Queued)
        .map(|p| p.next_attempt_at)
        .min()
}

#[test]
fn outbox_life_cycle() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let k = key(sales, "+14155550111");
    let done = store
        .enqueue_outgoing(
            &[
                outgoing(k.clone(), "one", "c1"),
                outgoing(k.clone(), "two", "c2"),
            ],
            T0,
        )
        .unwrap();
    let (a, b) = (done[0].outbox_id, done[1].outbox_id);
    let status = |i: usize| store.get_message(done[i].message_id).unwrap().status;

    assert_eq!(due_now(&store, T0 - 1).len(), 0);
    let due: Vec<OutboxId> = due_now(&store, T0);
    assert_eq!(due, [a, b]);
    assert_eq!(store.pending_count().unwrap(), 2);

    store.mark_sending(a, T0 + 1).unwrap();
    assert_eq!(status(0), MessageStatus::Sending);
    let job = store.outbox_job(a).unwrap();
    assert_eq!((job.attempts, job.attempt_started_at), (1, Some(T0 + 1)));
    assert_eq!(
        store.mark_sending(a, T0 + 1).unwrap_err().code().as_str(),
        "outbox_job_state"
    );

    store
        .mark_retry(a, T0 + 2_000, None, "offline", T0 + 2)
        .unwrap();
    assert_eq!(status(0), MessageStatus::Queued);
    assert_eq!(
        store.outbox_job(a).unwrap().last_error.as_deref(),
        Some("offline")
    );
    assert_eq!(next_due_at(&store), Some(T0));
    let due: Vec<OutboxId> = due_now(&store, T0 + 10);
    assert_eq!(due, [b], "a job waits for its retry time");

    store.mark_sending(a, T0 + 2_000).unwrap();
    store.mark_sent(a, "SM-a", T0 + 2_001).unwrap();
    assert_eq!(status(0), MessageStatus::Sent);
    assert_eq!(
        store.outbox_job(a).unwrap_err().code().as_str(),
        "outbox_job_not_found"
    );

    store.mark_sending(b, T0 + 3).unwrap();
    let refused = MessageError {
        code: Some("21610".into()),
        message: "The recipient has opted out.".into(),
    };
    store.mark_failed(b, &refused, T0 + 4).unwrap();
    let failed = store.get_message(done[1].message_id).unwrap();
    assert_eq!(failed.status, MessageStatus::Failed);
    assert_eq!(failed.error, Some(refused));
    assert!(due_now(&store, i64::MAX).is_empty());
    assert_eq!(store.pending_count().unwrap(), 0);

    store.retry_failed(b, Some("two, edited"), T0 + 5).unwrap();
    let retried = store.get_message(done[1].message_id).unwrap();
    assert_eq!(
        (retried.status, retried.body.as_str(), retried.error),
        (MessageStatus::Queued, "two, edited", None)
    );
    assert_eq!(
        store.get_thread(done[1].thread_id).unwrap().preview,
        "two, edited"
    );
    assert_eq!(store.search("edited", 10).unwrap().len(), 1);

    // Delivery statuses move forward only.
    assert_eq!(
        store
            .apply_delivery_status("SM-a", MessageStatus::Delivered, None, T0 + 6)
            .unwrap(),
        Some(done[0].message_id)
    );
    store
        .apply_delivery_status("SM-a", MessageStatus::Sent, None, T0 + 7)
        .unwrap();
    assert_eq!(status(0), MessageStatus::Delivered);
    assert_eq!(
        store
            .apply_delivery_status("SM-unknown", MessageStatus::Delivered, None, T0)
            .unwrap(),
        None
    );
}

// --- Inbound and threads ---------------------------------------------------------------------

#[test]
fn inbound_is_deduplicated_by_carrier_id() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let k = key(sales, "+447700900001");
    let first = store
        .insert_inbound(&k, "Hi there", "SM1", T0, None)
        .unwrap();
    assert!(first.is_new);
    let again = store
        .insert_inbound(&k, "Hi there", "SM1", T0, None)
        .unwrap();
    assert_eq!((again.is_new, again.message_id), (false, first.message_id));
    store
        .insert_inbound(&k, "Still there?", "SM2", T0 + 1, None)
        .unwrap();

    let t = store.get_thread(first.thread_id).unwrap();
    assert_eq!((t.unread, t.preview.as_str()), (2, "Still there?"));
    assert_eq!(store.total_unread().unwrap(), 2);
    store.mark_read(t.id).unwrap();
    assert_eq!(store.get_thread(t.id).unwrap().unread, 0);
    assert_eq!(
        store.mark_read(ThreadId(999)).unwrap_err().code().as_str(),
        "thread_not_found"
    );
    assert_eq!(
        store
            .insert_inbound(&key(LineId(9), "+447700900001"), "x", "SM3", T0, None)
            .unwrap_err()
            .code()
            .as_str(),
        "line_not_found"
    );
}

#[test]
fn history_is_recorded_as_read_and_what_follows_as_unread() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let k = key(sales, "+447700900001");
    let message = |carrier_sid, body, created_at| NewInbound {
        key: &k,
        body,
        carrier_sid,
        created_at,
        media: InboundMedia::None,
        messaging_service: None,
    };
    let old = store
        .insert_inbound_batch(
            &[
                message("SM1", "Last week's question", T0),
                message("SM1", "Last week's question", T0),
                message("SM2", "And its follow-up", T0),
            ],
            Arrival::History,
        )
        .unwrap();
    let fresh: Vec<bool> = old.iter().map(|m| m.is_new).collect();
    assert_eq!(
        fresh,
        [true, false, true],
        "deduplicated within a batch too"
    );
    assert_eq!(old[1].message_id, old[0].message_id);
    let t = store.get_thread(old[0].thread_id).unwrap();
    assert_eq!((t.unread, t.preview.as_str()), (0, "And its follow-up"));
    let page: Vec<String> = store
        .thread_messages(t.id, 10, None)
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(
        page,
        ["And its follow-up", "Last week's question"],
        "one second, the order given"
    );

    store
        .insert_inbound(&k, "Today's question", "SM3", T0 + 1, None)
        .unwrap();
    store
        .insert_inbound_batch(&[message("SM4", "An older one", T0 - 1)], Arrival::History)
        .unwrap();
    let t = store.get_thread(old[0].thread_id).unwrap();
    assert_eq!((t.unread, t.preview.as_str()), (1, "Today's question"));
    assert_eq!(store.total_unread().unwrap(), 1);
    assert_eq!(
        store
            .insert_inbound_batch(&[message("", "x", T0)], Arrival::New)
            .unwrap_err()
            .code()
            .as_str(),
        "invalid_input"
    );
}

#[test]
fn short_codes_and_sender_names_are_counterparts_that_read_back() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    for (i, sender) in ["89363", "GOOGLE", "My Bank"].into_iter().enumerate() {
        let k = ThreadKey {
            line: sales,
            counterpart: E164::from_sender(sender).unwrap(),
        };
        store
            .insert_inbound(
                &k,
                "Your code is 123456",
                &format!("SM{i}"),
                T0 + i as i64,
                None,
            )
            .unwrap();
        assert_eq!(
            store.thread_by_key(&k).unwrap().unwrap().counterpart,
            k.counterpart
        );
    }
    let listed: Vec<String> = store
        .list_threads(None, 50, None)
        .unwrap()
        .into_iter()
        .map(|t| t.counterpart.to_string())
        .collect();
    assert_eq!(listed, ["My Bank", "GOOGLE", "89363"]);
    let found: Vec<String> = store
        .search("code", 10)
        .unwrap()
        .into_iter()
        .map(|h| h.counterpart.to_string())
        .collect();
    assert_eq!(found, ["My Bank", "GOOGLE", "89363"]);
}

#[test]
fn the_same_person_on_two_lines_has_two_threads() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let support = line(&store, "+14155550101", "Support");
    store
        .add_contact("Ada Lovelace", &[num("+447700900001")], None, false)
        .unwrap();
    store
        .insert_inbound(&key(sales, "+447700900001"), "to sales", "SM1", T0, None)
        .unwrap();
    store
        .insert_inbound(
            &key(support, "+447700900001"),
            "to support",
            "SM2",
            T0 + 1,
            None,
        )
        .unwrap();
    store
        .insert_inbound(
            &key(sales, "+447700900002"),
            "stranger",
            "SM3",
            T0 + 2,
            None,
        )
        .unwrap();

    let check = |line: Option<LineId>, expected: &[(&str, Option<&str>)]| {
        let list = store.list_threads(line, 50, None).unwrap();
        let got: Vec<(&str, Option<&str>)> = list
            .iter()
            .map(|t| (t.preview.as_str(), t.contact_name.as_deref()))
            .collect();
        assert_eq!(got, expected, "{line:?}");
    };
    check(
        None,
        &[
            ("stranger", None),
            ("to support", Some("Ada Lovelace")),
            ("to sales", Some("Ada Lovelace")),
        ],
    );
    check(
        Some(sales),
        &[("stranger", None), ("to sales", Some("Ada Lovelace"))],
    );
    check(Some(support), &[("to support", Some("Ada Lovelace"))]);
    let t = store
        .thread_by_key(&key(support, "+447700900001"))
        .unwrap()
        .unwrap();
    assert_eq!(t.key(), key(support, "+447700900001"));
    assert_eq!(
        store.remove_line(sales).unwrap_err().code().as_str(),
        "line_has_threads"
    );
}

#[test]
fn pages_of_threads_and_messages() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    for i in 0..25 {
        // Equal times on purpose: the id breaks ties, so no row is skipped or repeated.
        store
            .insert_inbound(
                &key(sales, &format!("+44770090{:04}", i)),
                "m",
                &format!("SM{i}"),
                T0 + i / 5,
                None,
            )
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_threads(None, 10, cursor).unwrap();
        if page.is_empty() {
            break;
        }
        cursor = Some(page.last().unwrap().cursor());
        seen.extend(page.iter().map(|t| t.id));
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.windows(2).all(|w| w[0] != w[1]));

    let k = key(sales, "+447700900000");
    for i in 0..30 {
        store
            .insert_inbound(
                &k,
                &format!("n{i}"),
                &format!("SN{i}"),
                T0 + 100 + i / 3,
                None,
            )
            .unwrap();
    }
    let thread = store.thread_by_key(&k).unwrap().unwrap().id;
    let newest = store.thread_messages(thread, 10, None).unwrap();
    assert_eq!(newest[0].body, "n29");
    let older = store
        .thread_messages(thread, 100, Some(newest[9].cursor()))
        .unwrap();
    assert_eq!(
        older.len(),
        21,
        "30 new + the first one, minus the first page"
    );
    assert_eq!(older[0].body, "n19");
    assert_eq!(older.last().unwrap().body, "m");
}

#[test]
fn deleting_messages_refreshes_or_removes_the_thread() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let k = key(sales, "+447700900001");
    let a = store.insert_inbound(&k, "first", "SM1", T0, None).unwrap();
    let done = store
        .enqueue_outgoing(&[outgoing(k.clone(), "second", "c")], T0 + 1)
        .unwrap();
    store
        .save_draft(DraftKey::Thread(a.thread_id), "{}")
        .unwrap();
    store.delete_message(done[0].message_id).unwrap();
    assert_eq!(store.get_thread(a.thread_id).unwrap().preview, "first");
    assert!(store.list_outbox().unwrap().is_empty());
    store.delete_message(a.message_id).unwrap();
    assert_eq!(
        store.get_thread(a.thread_id).unwrap_err().code().as_str(),
        "thread_not_found"
    );
    assert_eq!(
        store.load_draft(DraftKey::Thread(a.thread_id)).unwrap(),
        None
    );
    assert_eq!(
        store
            .delete_message(a.message_id)
            .unwrap_err()
            .code()
            .as_str(),
        "message_not_found"
    );
    assert!(store.search("first", 10).unwrap().is_empty());
}

#[test]
fn message_ids_never_go_back() {
    let (dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let k = key(sales, "+447700900001");
    let a = store.insert_inbound(&k, "one", "SM1", T0, None).unwrap();
    let b = store
        .enqueue_outgoing(&[outgoing(k.clone(), "two", "c1")], T0 + 1)
        .unwrap()[0]
        .message_id;
    assert!(b > a.message_id);
    // Deleting the newest message does not free its id.
    store.delete_message(b).unwrap();
    let c = store
        .insert_inbound(&k, "three", "SM2", T0 + 2, None)
        .unwrap()
        .message_id;
    assert!(c > b, "{c:?} reuses or precedes the deleted {b:?}");
    store.delete_message(c).unwrap();
    let d = store
        .enqueue_outgoing(&[outgoing(k.clone(), "four", "c2")], T0 + 3)
        .unwrap()[0]
        .message_id;
    assert!(d > c, "{d:?} after the deleted {c:?}");
    store.delete_message(d).unwrap();
    // Nor does reopening the store.
    drop(store);
    let store = Store::open(&dir.path().join("test.db"), test_key()).unwrap();
    let e = store
        .insert_inbound(&k, "five", "SM3", T0 + 4, None)
        .unwrap()
        .message_id;
    assert!(e > d, "{e:?} after the deleted {d:?}");
    store.delete_message(e).unwrap();

    // The import takes a block per batch; duplicates leave no gap, deletes no reuse.
    let msg = |i: i64, sid: &str| HistoryMessage {
        key: k.clone(),
        direction: Direction::Inbound,
        status: MessageStatus::Received,
        body: format!("old {i}"),
        created_at: T0 + 10 + i,
        carrier_sid: Some(sid.into()),
    };
    let report = store
        .import_history([msg(0, "H0"), msg(1, "SM1"), msg(2, "H2")])
        .unwrap();
    assert_eq!((report.imported, report.duplicates), (2, 1));
    let ids = |store: &Store| -> Vec<MessageId> {
        let mut ids: Vec<MessageId> = store
            .thread_messages(a.thread_id, 100, None)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&store),
        [a.message_id, MessageId(e.0 + 1), MessageId(e.0 + 2)]
    );
    store.delete_message(MessageId(e.0 + 2)).unwrap();
    store.import_history([msg(3, "H3")]).unwrap();
    assert_eq!(ids(&store).last(), Some(&MessageId(e.0 + 3)));
}

#[test]
fn delivery_statuses_never_touch_inbound_messages() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let k = key(sales, "+447700900001");
    let inbound = store
        .insert_inbound(&k, "hello", "SM-in", T0, None)
        .unwrap();
    let error = MessageError {
        code: Some("30003".into()),
        message: "Unreachable".into(),
    };
    for (status, error) in [
        (MessageStatus::Delivered, None),
        (MessageStatus::Undelivered, Some(&error)),
        (MessageStatus::Failed, Some(&error)),
        (MessageStatus::Sent, None),
    ] {
        assert_eq!(
            store
                .apply_delivery_status("SM-in", status, error, T0 + 1)
                .unwrap(),
            None,
            "{status:?}"
        );
        let m = store.get_message(inbound.message_id).unwrap();
        assert_eq!((m.status, m.error), (MessageStatus::Received, None));
    }
}

// --- Search and import -----------------------------------------------------------------------

#[test]
fn search_finds_newest_first_and_groups_by_thread() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let (k1, k2) = (key(sales, "+447700900001"), key(sales, "+447700900002"));
    store
        .insert_inbound(&k1, "The invoice is attached", "S1", T0, None)
        .unwrap();
    store
        .insert_inbound(&k2, "Where is my INVOICE?", "S2", T0 + 1, None)
        .unwrap();
    store
        .insert_inbound(&k1, "Invoice paid, thank you", "S3", T0 + 2, None)
        .unwrap();
    store
        .insert_inbound(&k1, "Café ouvert à 9h", "S4", T0 + 3, None)
        .unwrap();

    let hits = store.search("invoice", 10).unwrap();
    let bodies: Vec<&str> = hits.iter().map(|h| h.snippet.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "Invoice paid, thank you",
            "Where is my INVOICE?",
            "The invoice is attached"
        ]
    );
    let h = &hits[1];
    assert_eq!(&h.snippet[h.highlights[0].0..h.highlights[0].1], "INVOICE");
    assert_eq!(h.counterpart, num("+447700900002"));

    let groups = group_by_thread(hits);
    let shape: Vec<(ThreadId, usize)> =
        groups.iter().map(|g| (g.thread_id, g.hits.len())).collect();
    let t1 = store.thread_by_key(&k1).unwrap().unwrap().id;
    let t2 = store.thread_by_key(&k2).unwrap().unwrap().id;
    assert_eq!(shape, [(t1, 2), (t2, 1)]);

    assert_eq!(
        store.search("cafe", 10).unwrap().len(),
        1,
        "accents are ignored"
    );
    assert_eq!(
        store.search("invoice paid", 10).unwrap().len(),
        1,
        "all words must match"
    );
    assert_eq!(store.search("invoice", 1).unwrap().len(), 1);
}

#[test]
fn any_text_is_a_safe_search() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let k = key(sales, "+447700900001");
    store
        .insert_inbound(
            &k,
            r#"He said "AND" then NEAR(the door) -- 50% off* col:umn"#,
            "S1",
            T0,
            None,
        )
        .unwrap();
    let check = |query: &str, hits: usize| {
        let found = store
            .search(query, 10)
            .unwrap_or_else(|e| panic!("{query:?}: {e}"));
        assert_eq!(found.len(), hits, "{query:?}");
    };
    check("\"", 0);
    check("*", 0);
    check("AND", 1);
    check("NEAR(", 1);
    check("NEAR(the", 1);
    check("\"AND\"", 1);
    check("off*", 1);
    check("col:umn", 1);
    check("OR", 0);
    check("NOT", 0);
    check("-- 50%", 1);
    check("a\"b", 0);
    check("^said", 1);
    check("{door}", 1);
    check("(", 0);
    check("\u{301}", 0);
    check("नमस्ते", 0);
    check("🙂", 0);
    check("", 0);
    check("a\0b", 0);
    check("said\0door", 1);
    check("\0", 0);
    check("\u{1}", 0);
    check("\u{2}said\u{1}", 1);
    check("\"\0", 0);
    check("\0\"", 0);
    check("said\"\0", 1);
    check("\u{7f}\u{85}\u{9f}", 0);
    check("\r\n\t", 0);
}

#[test]
fn history_import() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let ada = key(sales, "+447700900001");
    store
        .insert_inbound(&ada, "already here", "SM-known", T0 + 500, None)
        .unwrap();
    let msg = |i: i64, k: &ThreadKey, sid: &str| HistoryMessage {
        key: k.clone(),
        direction: Direction::Outbound,
        status: MessageStatus::Delivered,
        body: format!("old message {i}"),
        created_at: T0 + i,
        carrier_sid: Some(sid.into()),
    };
    let bob = key(sales, "+447700900002");
    let carol = key(sales, "+447700900003");
    let mut history: Vec<HistoryMessage> = (0..(IMPORT_BATCH as i64 + 10))
        .map(|i| msg(i, if i % 2 == 0 { &ada } else { &bob }, &format!("SM{i}")))
        .collect();
    history.push(msg(5, &carol, "SM-known"));
    let report = store.import_history(history).unwrap();
    assert_eq!(
        report,
        ImportReport {
            imported: IMPORT_BATCH as u64 + 10,
            duplicates: 1,
            threads_created: 1,
        }
    );
    assert_eq!(
        store.thread_by_key(&carol).unwrap(),
        None,
        "no empty thread is left"
    );
    let list = store.list_threads(None, 10, None).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].preview, format!("old message {}", IMPORT_BATCH + 9));
    assert_eq!(list[0].unread, 0);
    let ada_thread = store.thread_by_key(&ada).unwrap().unwrap();
    let newest_for_ada = format!("old message {}", IMPORT_BATCH + 8);
    assert_eq!((ada_thread.preview, ada_thread.unread), (newest_for_ada, 1));
    let newest = (IMPORT_BATCH + 9).to_string();
    assert_eq!(store.search(&newest, 10).unwrap().len(), 1);
    assert_eq!(
        store
            .import_history([msg(1, &key(LineId(42), "+447700900001"), "x")])
            .unwrap_err()
            .code()
            .as_str(),
        "line_not_found"
    );
}

#[test]
fn adopting_an_accounts_lines_updates_adds_and_retires_in_one_go() {
    let (_d, store) = new_store();
    let demo = line(&store, "+14155550100", "Sales");
    let account_line = |number: &str, label: &str, sms, mms| AccountLine {
        number: num(number),
        label: label.into(),
        carrier_sid: Some(format!("PN{}", &number[1..])),
        sms,
        mms,
    };
    let palette = |i: usize| format!("#00000{i}");
    let listed = [
        account_line("+14155550199", "Front desk", true, false),
        account_line("+14155550198", "Landline", false, false),
    ];
    let adopted = store.adopt_lines(&listed, &palette).unwrap();
    assert_eq!(adopted, LinesAdopted { added: 2, left: 1 });
    let lines = store.list_lines().unwrap();
    let sales = lines.iter().find(|l| l.id == demo).unwrap();
    assert!(
        !sales.in_account && !sales.can_send(),
        "the demo line left the account"
    );
    let desk = lines.iter().find(|l| l.label == "Front desk").unwrap();
    assert!((desk.sms, desk.mms, desk.in_account) == (true, false, true));
    assert_eq!(desk.color, "#000001");
    assert!(!lines
        .iter()
        .find(|l| l.label == "Landline")
        .unwrap()
        .can_send());
    assert_eq!(
        store.line_carrier_sid(desk.id).unwrap().as_deref(),
        Some("PN14155550199")
    );

    // Listed again, renamed at the carrier, with the demo number back: nothing is duplicated.
    let again = [
        account_line("+14155550199", "Reception", true, true),
        account_line("+14155550100", "Sales", true, true),
    ];
    let adopted = store.adopt_lines(&again, &palette).unwrap();
    assert_eq!(adopted, LinesAdopted { added: 0, left: 1 });
    let lines = store.list_lines().unwrap();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().any(|l| l.label == "Reception" && l.mms));
    assert!(lines.iter().find(|l| l.id == demo).unwrap().in_account);

    // A label the store would refuse changes nothing at all.
    let bad = [account_line("+14155550197", "", true, true)];
    assert!(store.adopt_lines(&bad, &palette).is_err());
    assert_eq!(store.list_lines().unwrap().len(), 3);
}

#[test]
fn jobs_of_a_line_that_left_the_account_are_held_until_it_returns() {
    let (_d, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let key = ThreadKey {
        line: sales,
        counterpart: num("+14155550123"),
    };
    store
        .enqueue_outgoing(&[outgoing(key, "held", "c-held")], 1)
        .unwrap();
    assert_eq!(store.pending_outbox().unwrap().len(), 1);
    let other = |n: &str| AccountLine {
        number: num(n),
        label: "Twilio".into(),
        carrier_sid: None,
        sms: true,
        mms: true,
    };
    let palette = |_: usize| "#123456".to_owned();
    store
        .adopt_lines(&[other("+14155550199")], &palette)
        .unwrap();
    assert!(
        store.pending_outbox().unwrap().is_empty(),
        "another carrier must not send it, nor reconcile it"
    );
    let back = AccountLine {
        label: "Sales".into(),
        ..other("+14155550100")
    };
    store.adopt_lines(&[back], &palette).unwrap();
    assert_eq!(
        store.pending_outbox().unwrap().len(),
        1,
        "back with its account"
    );
}
