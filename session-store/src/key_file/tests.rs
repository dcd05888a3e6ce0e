use std::sync::{Arc, Barrier};

use super::*;

fn same_keys(a: &KeyRing, b: &KeyRing) -> bool {
    let ba = a.bind("t", "s", "u", "x");
    let bb = b.bind("t", "s", "u", "x");
    let sealed = a.seal(&ba, b"probe").unwrap();
    a.current_master_id() == b.current_master_id()
        && ba.record_key() == bb.record_key()
        && b.open(&bb, &sealed).is_ok()
}

#[test]
fn creates_a_private_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nested").join(".berth");
    let first = KeyRing::load_or_create(&state).unwrap();
    let path = state.join(KEY_FILE_NAME);
    assert!(path.is_file());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key file mode {mode:o}");
        let dir_mode = fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700, "state dir mode {dir_mode:o}");
    }

    let before = fs::read(&path).unwrap();
    let second = KeyRing::load_or_create(&state).unwrap();
    assert_eq!(fs::read(&path).unwrap(), before, "file is not rewritten");
    assert!(same_keys(&first, &second));
    assert!(first.current_master_id().starts_with("m-"));
    assert!(first.current_bind_id().starts_with("b-"));

    // No temp files left behind.
    let names: Vec<_> = fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [KEY_FILE_NAME]);
}

#[test]
fn concurrent_creators_agree() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_path_buf();
    let barrier = Arc::new(Barrier::new(8));
    let rings: Vec<KeyRing> = (0..8)
        .map(|_| {
            let (state, barrier) = (state.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                KeyRing::load_or_create(&state).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    for ring in &rings[1..] {
        assert!(same_keys(&rings[0], ring));
    }
}

#[test]
fn reads_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let old = KeyRing::load_or_create(dir.path()).unwrap();
    let b = old.bind("t", "s", "u", "x");
    let sealed = old.seal(&b, b"kept").unwrap();

    // An operator rotates the master key by editing the file.
    let path = dir.path().join(KEY_FILE_NAME);
    let mut file: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let previous = file["master"].clone();
    file["previous_master"] = serde_json::json!([previous]);
    file["master"] = serde_json::json!({ "id": "m-new", "key": "ab".repeat(32) });
    fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();

    let rotated = KeyRing::load_or_create(dir.path()).unwrap();
    assert_eq!(rotated.current_master_id(), "m-new");
    let opened = rotated
        .open(&rotated.bind("t", "s", "u", "x"), &sealed)
        .unwrap();
    assert_eq!(opened.plaintext, b"kept");
    assert!(opened.needs_reseal);
}

#[test]
fn damaged_files_are_rejected_without_echoing_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(KEY_FILE_NAME);
    let secret = "cd".repeat(32);
    let cases = [
        "not json".to_string(),
        format!(r#"{{"version":1,"master":{{"id":"m","key":"{secret}"}}}}"#),
        format!(
            r#"{{"version":1,"master":{{"id":"m","key":"{secret}"}},"bind":{{"id":"b","key":"{}"}}}}"#,
            &secret[..10]
        ),
        format!(
            r#"{{"version":9,"master":{{"id":"m","key":"{secret}"}},"bind":{{"id":"b","key":"{secret}"}}}}"#
        ),
    ];
    for text in cases {
        fs::write(&path, &text).unwrap();
        let err = KeyRing::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, Error::InvalidKey(_)), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(KEY_FILE_NAME), "{msg}");
        assert!(!msg.contains("cdcdcdcd"), "{msg}");
        // The damaged file is left for the operator, never overwritten.
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }
}

#[test]
fn unreadable_state_dir_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    fs::write(&file, b"x").unwrap();
    let err = KeyRing::load_or_create(&file).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("plain-file"), "{err}");
}
