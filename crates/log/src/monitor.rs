//! Live log subscribers (`/v1/agent/monitor`): each asks for its own level, which may
//! be finer than the agent's, so the hub keeps the finest level anyone asked for and
//! the layer lets those events through while someone listens.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::hclog::LogRecord;
use crate::level::{self, LogLevel};

/// Lines a slow reader may fall behind by before newer ones are dropped for it
/// (Nomad's monitor drops too, rather than slowing the agent).
const BUFFERED_LINES: usize = 512;

struct Subscriber {
    id: u64,
    level: LogLevel,
    sender: mpsc::Sender<Arc<LogRecord>>,
}

#[derive(Default)]
struct Hub {
    subscribers: Mutex<Vec<Subscriber>>,
    /// The finest level of any subscriber, as [`level::to_rank`].
    finest: AtomicU8,
    next_id: AtomicU64,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn recompute(&self, subscribers: &[Subscriber]) {
        let finest = subscribers
            .iter()
            .map(|s| level::to_rank(s.level))
            .max()
            .unwrap_or(0);
        self.finest.store(finest, Ordering::Relaxed);
    }
}

/// The agent's live log subscribers. Cloning shares them.
#[derive(Clone, Default)]
pub struct Monitors {
    hub: Arc<Hub>,
}

impl std::fmt::Debug for Monitors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitors")
            .field("subscribers", &self.hub.lock().len())
            .finish()
    }
}

/// One subscriber's lines; dropping it unsubscribes.
pub struct MonitorStream {
    id: u64,
    hub: Arc<Hub>,
    receiver: mpsc::Receiver<Arc<LogRecord>>,
}

impl MonitorStream {
    /// The next event, `None` once the agent's log is gone.
    pub async fn next(&mut self) -> Option<Arc<LogRecord>> {
        self.receiver.recv().await
    }
}

impl Drop for MonitorStream {
    fn drop(&mut self) {
        let mut subscribers = self.hub.lock();
        subscribers.retain(|s| s.id != self.id);
        self.hub.recompute(&subscribers);
    }
}

impl Monitors {
    /// Subscribes to every event at `level` or more severe from now on.
    pub fn subscribe(&self, level: LogLevel) -> MonitorStream {
        let (sender, receiver) = mpsc::channel(BUFFERED_LINES);
        let id = self.hub.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subscribers = self.hub.lock();
        subscribers.push(Subscriber { id, level, sender });
        self.hub.recompute(&subscribers);
        MonitorStream {
            id,
            hub: self.hub.clone(),
            receiver,
        }
    }

    /// The finest level any subscriber wants (`OFF` when none listens).
    pub fn finest(&self) -> LogLevel {
        level::from_rank(self.hub.finest.load(Ordering::Relaxed))
    }

    /// Hands `record` (from `target`) to every subscriber whose level it passes.
    pub fn publish(&self, target: &str, record: &Arc<LogRecord>) {
        let subscribers = self.hub.lock();
        for subscriber in subscribers.iter() {
            if level::passes(target, &record.level, subscriber.level) {
                // A full buffer drops the line for that reader only.
                let _ = subscriber.sender.try_send(record.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;
    use tracing::level_filters::LevelFilter;

    fn record(level: Level) -> Arc<LogRecord> {
        Arc::new(LogRecord {
            time: jiff::Timestamp::UNIX_EPOCH,
            level,
            module: "agent".into(),
            message: "m".into(),
            fields: Vec::new(),
            location: None,
        })
    }

    #[tokio::test]
    async fn each_subscriber_gets_its_own_level_and_leaving_lowers_the_finest() {
        let monitors = Monitors::default();
        assert_eq!(monitors.finest(), LevelFilter::OFF);
        let mut debug = monitors.subscribe(LevelFilter::DEBUG);
        let mut warn = monitors.subscribe(LevelFilter::WARN);
        assert_eq!(monitors.finest(), LevelFilter::DEBUG);
        monitors.publish("caravan_client", &record(Level::DEBUG));
        monitors.publish("caravan_client", &record(Level::WARN));
        assert_eq!(debug.next().await.unwrap().level, Level::DEBUG);
        assert_eq!(debug.next().await.unwrap().level, Level::WARN);
        assert_eq!(warn.next().await.unwrap().level, Level::WARN);
        drop(debug);
        assert_eq!(monitors.finest(), LevelFilter::WARN);
    }
}
