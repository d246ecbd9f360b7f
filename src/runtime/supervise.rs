//! Background tasks that end by a panic end alone: the console keeps running, the status bar says
//! which task stopped and why, and the terminal is left to the main thread (the panic hook in
//! `term.rs` restores it only for a panic there).

use std::future::Future;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::Msg;

/// Spawns `fut` as the background task `task`; a panic in it becomes `Msg::TaskFailed` on `tx`.
/// Aborting the returned handle aborts the task too.
pub fn spawn<F>(task: &'static str, tx: mpsc::Sender<Msg>, fut: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let inner = tokio::spawn(fut);
    let abort = AbortOnDrop(inner.abort_handle());
    tokio::spawn(async move {
        let _abort = abort;
        let result = inner.await;
        if let Err(e) = result
            && e.is_panic()
        {
            let reason = panic_text(e.into_panic());
            tracing::error!(task, %reason, "background task panicked; it has stopped");
            let _ = tx
                .send(Msg::TaskFailed {
                    task,
                    reason: crate::text::escape(&reason).into_owned(),
                })
                .await;
        }
    })
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The message of a panic payload (`&str` or `String`), first line only.
pub fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    text.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_reported_and_others_go_on() {
        let (tx, mut rx) = mpsc::channel(4);
        let failed = spawn("status feed", tx.clone(), async {
            let hours: u32 = u32::MAX;
            let _ = chrono::Utc::now() - chrono::Duration::hours(i64::from(hours));
        });
        let fine = spawn("review feed", tx, async {});
        failed.await.unwrap();
        fine.await.unwrap();
        match rx.recv().await {
            Some(Msg::TaskFailed { task, reason }) => {
                assert_eq!(task, "status feed");
                assert!(!reason.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert!(rx.recv().await.is_none(), "the fine task reports nothing");
    }

    #[tokio::test]
    async fn aborting_the_handle_aborts_the_task() {
        let (tx, _rx) = mpsc::channel(1);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let h = spawn("forever", tx, async move {
            let _keep = done_tx;
            std::future::pending::<()>().await;
        });
        h.abort();
        // The inner task drops its sender when aborted.
        assert!(done_rx.await.is_err());
    }
}
