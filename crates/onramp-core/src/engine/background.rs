//! When the background work (`Engine::background_tick`) is next due, so the shell's timer sleeps
//! until then instead of waking every few seconds with nothing to do.

use super::*;

impl Engine {
    /// The earliest time (Unix s) background work is due: a pending authorization's expiry, a
    /// connection's proactive refresh (`lifecycle::background_due_at`, after any backoff), a retry
    /// of tokens the keychain refused. In the past when something is due now; `None` when nothing
    /// ever is until something changes (`background_schedule_changed` says when).
    pub async fn next_background_work_at(&self) -> Option<i64> {
        let mut next = self.flows.next_expiry();
        let mut earliest = |at: i64| next = Some(next.map_or(at, |n: i64| n.min(at)));
        let saved = match self.store.integrations().await {
            Ok(saved) => saved,
            Err(e) => {
                tracing::warn!("background schedule: the store could not be read: {e}");
                Vec::new()
            }
        };
        for i in saved.iter().filter(|i| i.handed_off.is_none()) {
            if self.has_unsaved_tokens(&i.id) {
                earliest(
                    self.lifecycle
                        .background_retry(&i.id)
                        .map_or(0, |(_, at)| at),
                );
            }
            let Some(c) = &i.connection else { continue };
            let client_credentials =
                self.grant_of(&i.provider_id).await == crate::model::Grant::ClientCredentials;
            if let Some(at) = self
                .lifecycle
                .background_due_at(&i.id, c, client_credentials)
            {
                earliest(at);
            }
        }
        next
    }

    /// Returns when background work may have become due sooner than `next_background_work_at`
    /// said: an authorization started, or an integration's tokens changed. One waiter (the shell's
    /// background loop); a change while nobody waits is kept for the next wait.
    pub async fn background_schedule_changed(&self) {
        self.background_schedule.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_support::*;

    #[tokio::test]
    async fn the_next_refresh_is_due_at_the_proactive_margin_then_after_the_backoff() {
        let server = mockito::Server::new_async().await;
        // 1000 s of a 3600 s life left: due 720 s (1/5 of the life) before expiry.
        let s = seeded(&server.url(), 1000, 3600);
        let expires_at = s
            .engine
            .integration(&s.id)
            .await
            .unwrap()
            .connection
            .unwrap()
            .expires_at
            .unwrap();
        assert_eq!(
            s.engine.next_background_work_at().await,
            Some(expires_at - 720)
        );
        // A failed background attempt pushes it to the retry time.
        let now = now_unix();
        let wait = s.engine.lifecycle.background_failed(&s.id, now);
        assert_eq!(
            s.engine.next_background_work_at().await,
            Some((expires_at - 720).max(now + wait))
        );
    }

    #[tokio::test]
    async fn nothing_is_due_without_a_connection_or_after_a_disconnect() {
        let server = mockito::Server::new_async().await;
        let s = seeded(&server.url(), 1000, 3600);
        s.engine.disconnect(&s.id).await.unwrap();
        assert_eq!(s.engine.next_background_work_at().await, None);
    }

    #[tokio::test]
    async fn a_pending_authorization_is_due_at_its_expiry_and_wakes_the_loop() {
        let server = mockito::Server::new_async().await;
        let s = seeded(&server.url(), 1000, 3600);
        s.engine.disconnect(&s.id).await.unwrap();
        // The disconnect changed tokens: the loop is woken (the permit waits for it).
        s.engine.background_schedule_changed().await;
        let before = now_unix();
        s.engine
            .start_authorization(&s.id, &RecordingSink::default())
            .await
            .unwrap();
        s.engine.background_schedule_changed().await;
        let at = s.engine.next_background_work_at().await.unwrap();
        let ttl = crate::oauth::FLOW_TTL.as_secs() as i64;
        assert!(at > before + ttl && at <= now_unix() + ttl + 1, "{at}");
    }
}
