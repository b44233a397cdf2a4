//! Check-and-set, locks and keys as the store checks them, and their encoding.

use super::*;
use crate::{Command, StateStore};
use caravan_structs::EncryptedData;

fn key() -> RootKey {
    RootKey {
        key_id: "k1".into(),
        active: true,
        material: vec![7; 32],
        ..RootKey::default()
    }
}

fn sealed(path: &str) -> VariableEncrypted {
    VariableEncrypted {
        namespace: "default".into(),
        path: path.into(),
        data: EncryptedData {
            ciphertext: vec![1, 2, 3],
            key_id: "k1".into(),
        },
        ..VariableEncrypted::default()
    }
}

fn upsert(path: &str, cas: Option<u64>, lock_id: Option<&str>, now: i64) -> Command {
    Command::Variables(VariableCommand::Upsert {
        variable: sealed(path),
        cas,
        lock_id: lock_id.map(str::to_string),
        now,
    })
}

fn store() -> StateStore {
    let store = StateStore::new();
    store.apply(Command::Variables(VariableCommand::KeyUpsert {
        key: key(),
        first: true,
    }));
    store
}

#[test]
fn check_and_set_as_nomad_does_it() {
    let store = store();
    // (cas, exists at index?, expected outcome)
    let refused = |r: Result<u64, Refused>| r.is_err_and(|e| e.0.starts_with(VARIABLE_CONFLICT));
    assert!(
        refused(store.try_apply(upsert("a", Some(5), None, 1))),
        "cas on a missing variable"
    );
    let created = store.try_apply(upsert("a", Some(0), None, 1)).unwrap();
    assert!(
        refused(store.try_apply(upsert("a", Some(0), None, 2))),
        "cas 0 on an existing one"
    );
    assert!(refused(store.try_apply(upsert(
        "a",
        Some(created + 1),
        None,
        2
    ))));
    let updated = store
        .try_apply(upsert("a", Some(created), None, 2))
        .unwrap();
    let stored = store.snapshot().variable("default", "a").unwrap();
    assert_eq!(
        (stored.create_index, stored.modify_index),
        (created, updated)
    );
    assert_eq!((stored.create_time, stored.modify_time), (1, 2));
    assert!(
        store.try_apply(upsert("a", None, None, 3)).is_ok(),
        "no cas: last write wins"
    );
    let delete = |cas| {
        Command::Variables(VariableCommand::Delete {
            namespace: "default".into(),
            path: "a".into(),
            cas,
            lock_id: None,
            now: 4,
        })
    };
    assert!(refused(store.try_apply(delete(Some(updated)))));
    let current = store
        .snapshot()
        .variable("default", "a")
        .unwrap()
        .modify_index;
    assert!(store.try_apply(delete(Some(current))).is_ok());
    assert!(store.snapshot().variable("default", "a").is_none());
}

#[test]
fn a_held_lock_keeps_other_writers_out_until_it_lapses_and_its_delay_passes() {
    let store = store();
    let mut locked = sealed("l");
    locked.lock = Some(new_lock("id1".into(), 10, 5, 100));
    let acquire = |variable: VariableEncrypted, now| {
        Command::Variables(VariableCommand::LockAcquire { variable, now })
    };
    store.try_apply(acquire(locked.clone(), 100)).unwrap();
    let refused = |r: Result<u64, Refused>| r.is_err_and(|e| e.0.starts_with(VARIABLE_CONFLICT));
    assert!(refused(store.try_apply(upsert("l", None, None, 101))));
    assert!(store.try_apply(upsert("l", None, Some("id1"), 101)).is_ok());
    let mut other = sealed("l");
    other.lock = Some(new_lock("id2".into(), 10, 5, 105));
    assert!(
        refused(store.try_apply(acquire(other.clone(), 105))),
        "held"
    );
    assert!(
        refused(store.try_apply(acquire(other.clone(), 112))),
        "lapsed, in its delay"
    );
    assert!(
        store.try_apply(upsert("l", None, None, 111)).is_ok(),
        "lapsed: writable"
    );
    let mut later = sealed("l");
    later.lock = Some(new_lock("id2".into(), 10, 5, 115));
    assert!(store.try_apply(acquire(later, 115)).is_ok());
    let release = |lock_id: &str| {
        Command::Variables(VariableCommand::LockRelease {
            namespace: "default".into(),
            path: "l".into(),
            lock_id: lock_id.into(),
            now: 116,
        })
    };
    assert!(refused(store.try_apply(release("id1"))));
    assert!(store.try_apply(release("id2")).is_ok());
    assert!(
        store
            .snapshot()
            .variable("default", "l")
            .unwrap()
            .lock
            .is_none()
    );
}

#[test]
fn the_active_key_cannot_be_deleted_nor_a_key_still_in_use() {
    let store = store();
    store.apply(upsert("a", None, None, 1));
    let delete = |id: &str| {
        Command::Variables(VariableCommand::KeyDelete {
            key_id: id.into(),
            force: false,
        })
    };
    assert_eq!(
        store.try_apply(delete("k1")).unwrap_err().0,
        "active root key cannot be deleted - call rotate first"
    );
    let mut second = key();
    second.key_id = "k2".into();
    store.apply(Command::Variables(VariableCommand::KeyUpsert {
        key: second,
        first: false,
    }));
    let mut late_first = key();
    late_first.key_id = "k3".into();
    assert_eq!(
        store
            .try_apply(Command::Variables(VariableCommand::KeyUpsert {
                key: late_first,
                first: true,
            }))
            .unwrap_err()
            .0,
        KEYRING_INITIALIZED,
        "a second first key"
    );
    let snapshot = store.snapshot();
    assert_eq!(snapshot.active_root_key().unwrap().key_id, "k2");
    assert!(!snapshot.root_key("k1").unwrap().active);
    assert!(
        store
            .try_apply(delete("k1"))
            .unwrap_err()
            .0
            .contains("in use")
    );
    let mut resealed = snapshot.variable("default", "a").unwrap().as_ref().clone();
    resealed.data.key_id = "k2".into();
    store.apply(Command::Variables(VariableCommand::Rekey {
        variables: vec![resealed],
    }));
    assert!(store.try_apply(delete("k1")).is_ok());
    assert_eq!(store.snapshot().root_keys().len(), 1);
}

#[test]
fn variables_and_keys_survive_the_logs_and_snapshots_encoding() {
    let store = store();
    let mut locked = sealed("l");
    locked.lock = Some(new_lock("id".into(), 10, 5, 100));
    let acquire = Command::Variables(VariableCommand::LockAcquire {
        variable: locked,
        now: 100,
    });
    let entry = rmp_serde::to_vec_named(&acquire).unwrap();
    let decoded: Command = rmp_serde::from_slice(&entry).unwrap();
    store.apply(decoded);
    store.apply(upsert("a", None, None, 1));
    let snapshot = store.snapshot();
    let bytes = rmp_serde::to_vec_named(&*snapshot).unwrap();
    let restored: Snapshot = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(restored, *snapshot);
    assert!(restored.variable("default", "l").unwrap().lock.is_some());
    assert_eq!(restored.active_root_key().unwrap().key_id, "k1");
}
