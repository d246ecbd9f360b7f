//! Keys of the status pane that belong to device operations: the filter keys, Enter (which also
//! fetches the device), refresh of an open detail, sync, and retire/wipe with their modal. What
//! is not ours goes to the status pane's own `on_key`.

use crossterm::event::KeyEvent;

use super::modal::ModalKey;
use super::{ActionKind, ActionModal, DevicesCmd};
use crate::app::keymap::Action;
use crate::app::{App, Cmd};
use crate::devices::DeviceKey;

impl App {
    /// Every key of the status pane, after the global keys.
    pub(crate) fn on_status_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
        if let Some(modal) = &mut self.devices.modal {
            return match modal.on_key(&key) {
                ModalKey::Stay => Vec::new(),
                ModalKey::Close => {
                    self.devices.modal = None;
                    Vec::new()
                }
                ModalKey::Submit(req) => vec![Cmd::Devices(DevicesCmd::Destructive(req))],
            };
        }
        if self.status.facets.user.editing {
            if self.status.facets.on_user_key(&key) {
                self.status.refilter();
            }
            return Vec::new();
        }
        if self.status.filter.editing {
            return self.status.on_key(key, action);
        }
        match action {
            Some(Action::FilterUser) => self.status.facets.edit_user(),
            Some(Action::FilterStage) => {
                self.status.facets.cycle_stage();
                self.status.refilter();
            }
            Some(Action::FilterCompliance) => {
                self.status.facets.cycle_compliance();
                self.status.refilter();
            }
            Some(Action::ClearFilters) => {
                self.status.facets.clear();
                self.status.filter.text.clear();
                self.status.refilter();
            }
            Some(Action::SyncDevice) => return self.sync_selected(),
            Some(Action::Export) => {
                self.status.settle();
                return vec![Cmd::Export(crate::export::status_view(&self.status))];
            }
            Some(a @ (Action::Retire | Action::Wipe)) if self.devices.may_destroy() => {
                if let Some(row) = self.status.selected() {
                    let kind = if a == Action::Retire {
                        ActionKind::Retire
                    } else {
                        ActionKind::Wipe
                    };
                    self.devices.modal = Some(ActionModal::new(
                        kind,
                        &row.serial,
                        row.device_name.as_deref().map(String::from),
                    ));
                }
            }
            Some(Action::Retire | Action::Wipe) => {}
            Some(Action::Refresh) if self.status.detail => {
                let mut cmds = self.fetch_selected();
                cmds.extend(self.status.on_key(key, action));
                return cmds;
            }
            Some(Action::Back) if self.status.detail => {
                self.devices.close_detail();
                return self.status.on_key(key, action);
            }
            _ => {
                let was_open = self.status.detail;
                let before = self.status.list.selected_key().cloned();
                let mut cmds = self.status.on_key(key, action);
                let moved = before != self.status.list.selected_key().cloned();
                if self.status.detail && (!was_open || moved) {
                    cmds.extend(self.fetch_selected());
                } else if was_open && !self.status.detail {
                    self.devices.close_detail();
                }
                return cmds;
            }
        }
        Vec::new()
    }

    /// The detail of the selected row, fetched once (again on refresh).
    fn fetch_selected(&mut self) -> Vec<Cmd> {
        let Some(row) = self.status.selected() else {
            return Vec::new();
        };
        let cmd = self
            .devices
            .fetch(&row.serial, row.managed_device_id.as_deref());
        vec![Cmd::Devices(cmd)]
    }

    fn sync_selected(&mut self) -> Vec<Cmd> {
        let Some(row) = self.status.selected() else {
            return Vec::new();
        };
        let key = match &row.managed_device_id {
            Some(id) => DeviceKey::Id(id.to_string()),
            None => DeviceKey::Serial(row.serial.to_string()),
        };
        let serial = row.serial.to_string();
        self.devices.notice = Some(super::Notice {
            text: format!("{serial}: asking the device to sync…"),
            bad: false,
            at: self.now,
        });
        vec![Cmd::Devices(DevicesCmd::Sync { serial, key })]
    }
}
