//! The client's side of Nomad's two-step allocation sync against a fake server: the
//! long-poll lists modify indexes, the client fetches only what changed and forgets
//! what is no longer listed.

use caravan_structs::{AllocClientStatus, AllocDesiredStatus, AllocId};

use crate::fake_server::{FakeServer, allocation, eventually, runtime, start_client};

#[test]
fn a_stop_is_fetched_alone_and_a_removed_allocation_is_forgotten() {
    let data = tempfile::tempdir().unwrap();
    let service = allocation("service", "sleep 30");
    let batch = allocation("batch", "true");
    let server = FakeServer::new(vec![service.clone(), batch.clone()]);
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
    // Both at first; then only the stopped one. The client's own reports move the
    // server's index too, and fetch nothing.
    let mut both: Vec<AllocId> = vec![service.id.clone(), batch.id.clone()];
    both.sort();
    assert_eq!(
        *server.fetched.lock().unwrap(),
        vec![both, vec![service.id.clone()]]
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
