//! Device operations in the console (issue 9): the status pane's device filters, the device
//! detail fetched once per opening, sync, and retire/wipe behind the confirmation modal. Plain
//! state; the devices feed does the Graph calls and answers with `DevicesMsg`.

pub(crate) mod filters;
pub(crate) mod keys;
pub(crate) mod modal;

use chrono::{DateTime, Utc};

use crate::devices::{ActionOutcome, Authority, DestructiveRequest, DeviceDetail, DeviceKey};
pub use filters::DeviceFilters;
pub use modal::{ActionKind, ActionModal, ModalStage};

/// From the devices feed to the app.
#[derive(Debug, Clone, PartialEq)]
pub enum DevicesMsg {
    /// Whether the signed-in identity may retire or wipe, asked of Graph once per session.
    /// `Err` carries why not (no role, or the check failed). Only decides what is offered: the
    /// action itself asks Graph again.
    Authority(Result<Authority, String>),
    /// The device detail for the request `generation` (without the deployment row).
    Detail {
        generation: u64,
        result: Result<Box<DeviceDetail>, String>,
    },
    /// The deployment row for the same request, once its report export finished; `Ok(None)` =
    /// no row names the device.
    Deployment {
        generation: u64,
        result: Result<Option<crate::devices::show::DeviceDeployment>, String>,
    },
    /// `syncDevice` was accepted (or not).
    Synced {
        serial: String,
        result: Result<(), String>,
    },
    /// A retire or wipe finished: sent, refused before reaching Intune, or failed.
    Acted {
        serial: String,
        result: Result<ActionOutcome, ActionFailure>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionFailure {
    /// A guard rail said no: nothing reached Intune.
    pub refused: bool,
    pub message: String,
}

/// From the app to the devices feed.
#[derive(Debug, Clone, PartialEq)]
pub enum DevicesCmd {
    /// Fetch one device in full (`devices::show`), then its deployment row.
    Show { generation: u64, key: DeviceKey },
    /// `syncDevice`, audited before and after.
    Sync { serial: String, key: DeviceKey },
    /// Retire or wipe through `devices::run_destructive`.
    Destructive(DestructiveRequest),
}

/// The detail view's data.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum DetailLoad {
    #[default]
    Idle,
    Loading {
        serial: String,
    },
    Ready {
        serial: String,
        detail: Box<DeviceDetail>,
        deployment: DeploymentLoad,
    },
    Failed {
        serial: String,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum DeploymentLoad {
    #[default]
    Loading,
    Ready(Option<crate::devices::show::DeviceDeployment>),
    Failed(String),
}

impl DetailLoad {
    /// The serial this load is for, if any.
    pub fn serial(&self) -> Option<&str> {
        match self {
            Self::Idle => None,
            Self::Loading { serial } | Self::Ready { serial, .. } | Self::Failed { serial, .. } => {
                Some(serial)
            }
        }
    }
}

/// A one-line outcome shown in the pane header (and the detail view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub bad: bool,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct DevicesState {
    /// `Some` when Graph said the signed-in identity holds the role: retire and wipe are offered.
    pub authority: Option<Authority>,
    pub detail: DetailLoad,
    /// Detail answers older than this are dropped.
    pub generation: u64,
    pub notice: Option<Notice>,
    pub modal: Option<ActionModal>,
}

impl DevicesState {
    /// The clock moved: an outcome notice shown for [`crate::app::NOTICE_SECS`] goes; one ending
    /// in '…' (a request in flight) stays until its answer replaces it.
    pub fn on_tick(&mut self, now: DateTime<Utc>) {
        if self.notice.as_ref().is_some_and(|n| {
            !n.text.ends_with('…')
                && now - n.at >= chrono::Duration::seconds(crate::app::NOTICE_SECS)
        }) {
            self.notice = None;
        }
    }

    /// Retire and wipe are offered (keys, help, hints) only with the role.
    pub fn may_destroy(&self) -> bool {
        self.authority.is_some()
    }

    /// Whether printable keys go to the modal.
    pub fn captures_keys(&self) -> bool {
        self.modal.is_some()
    }

    pub fn on_msg(&mut self, msg: DevicesMsg, now: DateTime<Utc>) {
        match msg {
            DevicesMsg::Authority(a) => self.authority = a.ok(),
            DevicesMsg::Detail { generation, result } if generation == self.generation => {
                let Some(serial) = self.detail.serial().map(String::from) else {
                    return;
                };
                self.detail = match result {
                    Ok(detail) => DetailLoad::Ready {
                        serial,
                        detail,
                        deployment: DeploymentLoad::Loading,
                    },
                    Err(reason) => DetailLoad::Failed { serial, reason },
                };
            }
            DevicesMsg::Deployment { generation, result } if generation == self.generation => {
                if let DetailLoad::Ready { deployment, .. } = &mut self.detail {
                    *deployment = match result {
                        Ok(d) => DeploymentLoad::Ready(d),
                        Err(e) => DeploymentLoad::Failed(e),
                    };
                }
            }
            DevicesMsg::Synced { serial, result } => {
                self.notice = Some(match result {
                    Ok(()) => Notice {
                        text: format!("{serial}: sync requested"),
                        bad: false,
                        at: now,
                    },
                    Err(e) => Notice {
                        text: format!("{serial}: sync failed: {e}"),
                        bad: true,
                        at: now,
                    },
                });
            }
            DevicesMsg::Acted { serial, result } => {
                let (ok, message) = match result {
                    Ok(o) => (
                        true,
                        format!(
                            "{} sent for {serial}; request-id {}",
                            o.action,
                            o.request_id.as_deref().unwrap_or("none")
                        ),
                    ),
                    Err(f) if f.refused => (false, format!("refused: {}", f.message)),
                    Err(f) => (false, format!("failed: {}", f.message)),
                };
                self.notice = Some(Notice {
                    text: format!("{serial}: {message}"),
                    bad: !ok,
                    at: now,
                });
                if let Some(m) = &mut self.modal
                    && m.serial == serial
                {
                    m.stage = ModalStage::Done { ok, message };
                }
            }
            // An answer for a detail view since closed or reopened.
            DevicesMsg::Detail { .. } | DevicesMsg::Deployment { .. } => {}
        }
    }

    /// Starts a fetch for `serial` (by managed device id when known); the previous one's answer
    /// will be dropped.
    pub fn fetch(&mut self, serial: &str, device_id: Option<&str>) -> DevicesCmd {
        self.generation += 1;
        self.detail = DetailLoad::Loading {
            serial: serial.to_string(),
        };
        let key = match device_id {
            Some(id) => DeviceKey::Id(id.to_string()),
            None => DeviceKey::Serial(serial.to_string()),
        };
        DevicesCmd::Show {
            generation: self.generation,
            key,
        }
    }

    /// Forgets the detail (the view closed); a late answer is dropped.
    pub fn close_detail(&mut self) {
        self.generation += 1;
        self.detail = DetailLoad::Idle;
    }
}

#[cfg(test)]
pub(crate) mod tests;
