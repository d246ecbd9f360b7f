//! Status table columns and how each sorts.

use std::cmp::Ordering;

use crate::status::DeviceStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Serial,
    Device,
    Stage,
    InStage,
    EnrolledBy,
    PrimaryUser,
    LastSync,
    Compliance,
    Message,
}

impl Column {
    pub const ALL: [Column; 9] = [
        Column::Serial,
        Column::Device,
        Column::Stage,
        Column::InStage,
        Column::EnrolledBy,
        Column::PrimaryUser,
        Column::LastSync,
        Column::Compliance,
        Column::Message,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Serial => "Serial",
            Column::Device => "Device",
            Column::Stage => "Stage",
            Column::InStage => "In stage",
            Column::EnrolledBy => "Enrolled by",
            Column::PrimaryUser => "Primary user",
            Column::LastSync => "Last sync",
            Column::Compliance => "Compliance",
            Column::Message => "Message",
        }
    }

    pub fn next(self) -> Column {
        let i = Column::ALL.iter().position(|&c| c == self).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }
}

/// The table's sort: a column and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

impl Default for Sort {
    /// Pipeline order: the stage column, ascending.
    fn default() -> Self {
        Sort {
            column: Column::Stage,
            descending: false,
        }
    }
}

impl Sort {
    /// One key walks every column in both directions: ascending, then the same column
    /// descending, then the next column ascending.
    pub fn step(self) -> Sort {
        if self.descending {
            Sort {
                column: self.column.next(),
                descending: false,
            }
        } else {
            Sort {
                descending: true,
                ..self
            }
        }
    }

    /// Orders two rows; ties fall back to the serial so the order is total and stable.
    pub fn compare(&self, a: &DeviceStatus, b: &DeviceStatus) -> Ordering {
        let ord = by_column(self.column, a, b);
        let ord = if self.descending { ord.reverse() } else { ord };
        ord.then_with(|| a.serial.cmp(&b.serial))
    }
}

/// Absent values sort last in ascending order.
fn opt<T: Ord>(a: &Option<T>, b: &Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Case-insensitive order without allocating (sorting 10,000 rows compares ~140,000 times).
fn ci_str(a: &str, b: &str) -> Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

fn ci(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => ci_str(a, b),
        _ => opt(&a, &b),
    }
}

fn by_column(c: Column, a: &DeviceStatus, b: &DeviceStatus) -> Ordering {
    match c {
        Column::Serial => a.serial.cmp(&b.serial),
        Column::Device => ci(a.device_name.as_deref(), b.device_name.as_deref()),
        Column::Stage => a.stage.cmp(&b.stage),
        // Shortest time in stage first: the later `since`, the shorter.
        Column::InStage => b.since.cmp(&a.since),
        Column::EnrolledBy => ci(a.enrolled_by.as_deref(), b.enrolled_by.as_deref()),
        Column::PrimaryUser => ci(a.primary_user.as_deref(), b.primary_user.as_deref()),
        // Most recent sync first.
        Column::LastSync => match (a.last_sync, b.last_sync) {
            (Some(x), Some(y)) => y.cmp(&x),
            _ => opt(&a.last_sync, &b.last_sync),
        },
        Column::Compliance => ci(
            a.compliance
                .map(crate::graph::models::ComplianceState::as_graph),
            b.compliance
                .map(crate::graph::models::ComplianceState::as_graph),
        ),
        Column::Message => ci_str(&a.message, &b.message),
    }
}
