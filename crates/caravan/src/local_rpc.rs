//! The client's connection to a server in the same process.

use std::sync::Arc;
use std::time::Duration;

use caravan_client::ServerRpc;
use caravan_server::Server;
use caravan_structs::{AllocClientUpdate, Allocation, Node};

/// How long one long-poll for allocations may wait before it is renewed.
const LONG_POLL: Duration = Duration::from_secs(300);

/// Calls the server directly: the dev agent's client needs no network hop.
pub struct LocalRpc(pub Arc<Server>);

impl ServerRpc for LocalRpc {
    async fn register_node(&self, node: Node) -> Result<(), String> {
        self.0.register_node(node);
        Ok(())
    }

    async fn node_allocations(
        &self,
        node_id: &str,
        min_index: u64,
    ) -> Result<(Vec<Allocation>, u64), String> {
        Ok(self.0.node_allocations(node_id, min_index, LONG_POLL).await)
    }

    async fn update_allocations(&self, updates: Vec<AllocClientUpdate>) -> Result<(), String> {
        self.0.update_allocations(updates);
        Ok(())
    }
}
