//! The input task: crossterm's event stream to `Msg`s. Only key presses (and repeats) pass:
//! Windows reports releases too, which would double every scanned character.

use crossterm::event::{Event, EventStream, KeyEventKind, MouseButton, MouseEventKind};
use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::app::Msg;

/// Maps one terminal event to a message; `None` for events the app ignores.
pub fn to_msg(event: Event) -> Option<Msg> {
    match event {
        Event::Key(k) if k.kind != KeyEventKind::Release => Some(Msg::Key(k)),
        Event::Paste(text) => Some(Msg::Paste(text)),
        Event::Mouse(m) if m.kind == MouseEventKind::Down(MouseButton::Left) => Some(Msg::Click {
            column: m.column,
            row: m.row,
        }),
        Event::Resize(width, height) => Some(Msg::Resize { width, height }),
        _ => None,
    }
}

pub async fn run(tx: UnboundedSender<Msg>, cancel: CancellationToken) {
    let mut events = EventStream::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            next = events.next() => match next {
                Some(Ok(event)) => {
                    if let Some(msg) = to_msg(event)
                        && tx.send(msg).is_err()
                    {
                        break;
                    }
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "terminal input failed");
                    let _ = tx.send(Msg::Quit);
                    break;
                }
                None => break,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyEventState, KeyModifiers};

    #[test]
    fn releases_are_dropped_presses_and_repeats_kept() {
        let mk = |kind| {
            Event::Key(KeyEvent {
                code: KeyCode::Char('a'),
                modifiers: KeyModifiers::NONE,
                kind,
                state: KeyEventState::NONE,
            })
        };
        assert!(to_msg(mk(KeyEventKind::Press)).is_some());
        assert!(to_msg(mk(KeyEventKind::Repeat)).is_some());
        assert!(to_msg(mk(KeyEventKind::Release)).is_none());
    }

    #[test]
    fn paste_and_resize_pass_through() {
        assert_eq!(
            to_msg(Event::Paste("A\nB".into())),
            Some(Msg::Paste("A\nB".into()))
        );
        assert_eq!(
            to_msg(Event::Resize(100, 30)),
            Some(Msg::Resize {
                width: 100,
                height: 30
            })
        );
    }
}
