//! The driver: owns the terminal and the channels. Wakes on input first, drains everything queued,
//! applies it through `App::update`, runs the returned effects, then draws once — only when
//! something changed, and at most about 60 times a second.

pub(crate) mod effects;
pub(crate) mod input;
pub(crate) mod signals;
pub(crate) mod supervise;
pub(crate) mod wire;

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc::{Receiver, UnboundedReceiver};
use tokio::time::{Instant, MissedTickBehavior};

use crate::app::{App, Cmd, Msg};

/// Minimum time between two draws (the 60 fps ceiling).
pub const FRAME: Duration = Duration::from_millis(16);
/// The slow clock for "updated 12 s ago" and countdowns.
pub const TICK: Duration = Duration::from_secs(1);

/// Where messages come from.
pub struct Inbox {
    /// Keys, pastes, clicks, resizes, signals. Unbounded so no key is ever dropped.
    pub input: UnboundedReceiver<Msg>,
    /// Feed tasks and the store task. Bounded: backpressure lands on the pollers, not the UI.
    pub feeds: Receiver<Msg>,
}

/// Executes effects. The runtime's implementation sends to feeds and rings the bell; tests record.
pub trait Effects {
    fn run(&mut self, cmd: Cmd);

    /// Called once after each batch of messages has been applied and settled.
    fn after_batch(&mut self, _app: &App) {}
}

/// Counters the tests assert on (stable, unlike time).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoopStats {
    pub messages: u64,
    pub draws: u64,
    pub wakeups: u64,
}

/// Runs until the app asks to quit or every input source is gone.
pub async fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    inbox: &mut Inbox,
    effects: &mut dyn Effects,
) -> Result<LoopStats, B::Error> {
    let mut stats = LoopStats::default();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.reset();
    let mut last_draw: Option<Instant> = None;
    let mut input_open = true;
    let mut feeds_open = true;
    loop {
        if app.dirty {
            app.settle();
            effects.after_batch(app);
            let due = last_draw.map_or(Instant::now(), |t| t + FRAME);
            if Instant::now() >= due {
                terminal.draw(|f| crate::console::draw(f, app))?;
                app.dirty = false;
                stats.draws += 1;
                last_draw = Some(Instant::now());
            }
        }
        if app.quit || (!input_open && !feeds_open) {
            break;
        }
        let draw_at = last_draw.map_or(Instant::now(), |t| t + FRAME);
        // Keys held by the scanner-burst detector are acted on once a scanner would have ended.
        let burst_wait = app.burst_wait(chrono::Utc::now());
        let first = tokio::select! {
            biased;
            m = inbox.input.recv(), if input_open => match m {
                Some(m) => Some(m),
                None => { input_open = false; None }
            },
            m = inbox.feeds.recv(), if feeds_open => match m {
                Some(m) => Some(m),
                None => { feeds_open = false; None }
            },
            _ = tokio::time::sleep_until(draw_at), if app.dirty => None,
            _ = tokio::time::sleep(burst_wait.unwrap_or_default()), if burst_wait.is_some() => {
                Some(Msg::FlushKeys)
            }
            _ = tick.tick() => Some(Msg::Tick(chrono::Utc::now())),
        };
        stats.wakeups += 1;
        app.set_clock(chrono::Utc::now());
        if let Some(m) = first {
            apply(app, m, effects, &mut stats);
        }
        // Drain everything already queued, input first, so a burst becomes one draw.
        while let Ok(m) = inbox.input.try_recv() {
            apply(app, m, effects, &mut stats);
        }
        while let Ok(m) = inbox.feeds.try_recv() {
            apply(app, m, effects, &mut stats);
        }
    }
    Ok(stats)
}

fn apply(app: &mut App, msg: Msg, effects: &mut dyn Effects, stats: &mut LoopStats) {
    stats.messages += 1;
    for cmd in app.update(msg) {
        effects.run(cmd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use tokio::sync::mpsc;

    struct Recorder(Vec<Cmd>);
    impl Effects for Recorder {
        fn run(&mut self, cmd: Cmd) {
            self.0.push(cmd);
        }
    }

    fn key(c: char) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    #[tokio::test(start_paused = true)]
    async fn a_queued_burst_is_applied_in_order_and_drawn_once() {
        let mut app = App::new(Config::default(), chrono::Utc::now());
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let (itx, irx) = mpsc::unbounded_channel();
        let (_ftx, frx) = mpsc::channel(8);
        let mut inbox = Inbox {
            input: irx,
            feeds: frx,
        };
        // 2,000 characters arrive before the loop first looks: one batch.
        let serials: Vec<String> = (0..200).map(|i| format!("SN{i:08}")).collect();
        for s in &serials {
            for c in s.chars() {
                itx.send(key(c)).unwrap();
            }
            itx.send(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)))
                .unwrap();
        }
        itx.send(Msg::Quit).unwrap();
        let stats = run_loop(&mut term, &mut app, &mut inbox, &mut Recorder(Vec::new()))
            .await
            .unwrap();
        let pending: Vec<String> = app
            .intake
            .pending
            .iter()
            .map(|e| e.serial.clone())
            .collect();
        assert_eq!(pending, serials, "every key, in order");
        assert_eq!(stats.messages, 200 * 11 + 1);
        // The first draw happens before anything arrives; the burst adds at most one more.
        assert!(stats.draws <= 2, "{stats:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_loop_only_wakes_for_the_slow_tick() {
        let mut app = App::new(Config::default(), chrono::Utc::now());
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let (itx, irx) = mpsc::unbounded_channel();
        let (_ftx, frx) = mpsc::channel(8);
        let mut inbox = Inbox {
            input: irx,
            feeds: frx,
        };
        let quitter = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            itx.send(Msg::Quit).unwrap();
        });
        let stats = run_loop(&mut term, &mut app, &mut inbox, &mut Recorder(Vec::new()))
            .await
            .unwrap();
        quitter.await.unwrap();
        // Ten seconds idle: about one wake-up per tick, never a busy loop.
        assert!(stats.wakeups <= 12, "{stats:?}");
        assert!(stats.draws <= 12, "{stats:?}");
    }
}
