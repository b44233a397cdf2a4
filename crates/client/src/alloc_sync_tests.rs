//! The client's side of the allocation sync against a fake server: the long-poll lists
//! modify indexes (all of them, or only the changed ones when nothing was removed) and
//! carries what changed, the client fetches only what it has not seen otherwise, and
//! forgets what is no longer listed.

use std::sync::atomic::Ordering;

use caravan_structs::{AllocClientStatus, AllocDesiredStatus, AllocId};

use crate::fake_server::{FakeServer, Sent, allocation, eventually, runtime, start_client};

#[test]
fn a_stop_arrives_alone_and_a_removed_allocation_is_forgotten() {
    stop_then_remove(true, true);
}

/// A server whose every answer lists all of the node's allocations, as Nomad's does:
/// the client reads the same from it.
#[test]
fn a_full_listing_each_time_reads_the_same() {
    stop_then_remove(true, false);
}

/// A server whose long-poll lists every allocation without carrying the changed ones
/// (its answer's `Changed` empty): the client fetches each change, Nomad's two-step way.
#[test]
fn what_the_long_poll_does_not_carry_is_fetched() {
    stop_then_remove(false, false);
}

fn stop_then_remove(carried: bool, changed_only: bool) {
    let data = tempfile::tempdir().unwrap();
    let service = allocation("service", "sleep 30");
    let batch = allocation("batch", "true");
    let server = FakeServer::new(vec![service.clone(), batch.clone()]);
    server.carries_changed.store(carried, Ordering::Relaxed);
    server
        .lists_changed_only
        .store(changed_only, Ordering::Relaxed);
    let sent_by = if carried { Sent::LongPoll } else { Sent::Fetch };
    let runtime = runtime();
    let client = start_client(&runtime, data.path(), &server);
    eventually("the service to run and the batch to complete", || {
        server.alloc(&service.id).client_status == AllocClientStatus::Running
            && server.alloc(&batch.id).client_status == AllocClientStatus::Complete
    });

    server.stop(&service.id);
    eventually("the stopped allocation to complete", || {
        server.alloc(&service.id).client_status == AllocClientStatus::Complete
    });
    let known = client.allocation(&service.id).unwrap();
    assert_eq!(known.desired_status, AllocDesiredStatus::Stop);
    // A listing of the stopped allocation alone does not make the client forget the
    // other one.
    assert!(client.allocation(&batch.id).is_some());
    // Both at first; then only the stopped one. The client's own reports move the
    // server's index too, and carry nothing.
    let mut both: Vec<AllocId> = vec![service.id.clone(), batch.id.clone()];
    both.sort();
    assert_eq!(
        *server.sent.lock().unwrap(),
        vec![(both, sent_by), (vec![service.id.clone()], sent_by)]
    );

    server.remove(&batch.id);
    eventually("the removed allocation to be forgotten", || {
        client.allocation(&batch.id).is_none()
    });
    eventually("its directory to be collected", || {
        !data.path().join("alloc").join(batch.id.as_str()).exists()
    });
    assert!(client.allocation(&service.id).is_some());
    drop(client);
    drop(runtime);
}
