//! The detail view of one device: what it is waiting for, the device as Intune has it (fetched
//! once when the view opens: OS, sync, compliance, users, enrollment, pending actions, corporate
//! identifier, deployment), the stage changes this console observed, and the raw Graph fields
//! behind the row (report codes included, unmapped).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{short_duration, stage_cell, stage_style};
use crate::app::App;
use crate::app::devices::{DeploymentLoad, DetailLoad};
use crate::console::theme;
use crate::devices::DeviceDetail;
use crate::status::DeviceStatus;

/// Draws in place of the table (`area` is the pane's inner area).
pub fn draw(frame: &mut Frame, app: &App, row: &DeviceStatus, area: Rect, wide: bool) {
    let mut keys = String::from("   Esc closes · r refresh · y sync");
    if app.devices.may_destroy() {
        keys.push_str(" · R retire · W wipe");
    }
    let mut head = vec![
        Line::from(vec![
            Span::styled(row.serial.to_string(), theme::title()),
            Span::styled(
                row.device_name
                    .as_deref()
                    .map(|n| format!(" · {n}"))
                    .unwrap_or_default(),
                theme::dim(),
            ),
            Span::styled(keys, theme::dim()),
        ]),
        Line::from(
            [
                vec![Span::raw("Stage  ")],
                stage_cell(row.stage, row.flags, true).spans,
                vec![Span::styled(
                    format!("  for {}", short_duration(app.now - row.since)),
                    theme::dim(),
                )],
            ]
            .concat(),
        ),
        Line::raw(format!("Why    {}", row.message)),
    ];
    if let Some(code) = &row.code {
        head.push(Line::raw(format!("Code   {code}")));
        // A result code Microsoft documents: what it means and what to do, with the source.
        let number = code.split(' ').next().and_then(crate::status::codes::parse);
        if let Some(n) = number {
            for line in crate::status::codes::explain(n).into_iter().skip(1) {
                head.push(Line::raw(format!("       {line}")));
            }
        }
    }
    if let Some(phase) = &row.phase {
        head.push(Line::raw(format!("Phase  {phase}")));
    }
    if let Some(n) = app
        .devices
        .notice
        .as_ref()
        .filter(|n| n.text.starts_with(&format!("{}:", row.serial)))
    {
        let style = if n.bad {
            Style::new().fg(theme::BAD)
        } else {
            Style::new().fg(theme::OK)
        };
        head.push(Line::styled(n.text.clone(), style));
    }
    let head_height = head.len() as u16 + u16::from(wide);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(head_height), Constraint::Fill(1)]).areas(area);
    frame.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), top);

    let device = intune_lines(app, &row.serial);
    let timeline: Vec<Line> = std::iter::once(Line::styled("Timeline (observed)", theme::header()))
        .chain(row.timeline.iter().map(|c| {
            Line::from(vec![
                Span::styled(c.at.format("%m-%d %H:%M:%S ").to_string(), theme::dim()),
                Span::styled(c.stage.words(), stage_style(c.stage)),
            ])
        }))
        .collect();
    let raw: Vec<Line> = std::iter::once(Line::styled("Graph fields", theme::header()))
        .chain(row.raw.iter().map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k} "), theme::dim()),
                Span::raw(v.as_str()),
            ])
        }))
        .collect();
    if wide {
        let [left, middle, right] = Layout::horizontal([
            Constraint::Length(72),
            Constraint::Length(30),
            Constraint::Fill(1),
        ])
        .areas(bottom);
        frame.render_widget(Paragraph::new(device).wrap(Wrap { trim: false }), left);
        frame.render_widget(Paragraph::new(timeline), middle);
        frame.render_widget(Paragraph::new(raw).wrap(Wrap { trim: false }), right);
    } else {
        let d = device.len() as u16;
        let t = timeline.len() as u16;
        let [upper, mid, lower] = Layout::vertical([
            Constraint::Length(d),
            Constraint::Length(t),
            Constraint::Fill(1),
        ])
        .areas(bottom);
        frame.render_widget(Paragraph::new(device), upper);
        frame.render_widget(Paragraph::new(timeline), mid);
        frame.render_widget(Paragraph::new(raw).wrap(Wrap { trim: false }), lower);
    }
}

/// The "In Intune" section: loading, the Graph error (with its request-id), or the fields.
fn intune_lines(app: &App, serial: &str) -> Vec<Line<'static>> {
    let title = Line::styled("In Intune", theme::header());
    match &app.devices.detail {
        DetailLoad::Ready {
            serial: s,
            detail,
            deployment,
        } if s == serial => std::iter::once(title)
            .chain(fields(app, detail, deployment))
            .collect(),
        DetailLoad::Failed { serial: s, reason } if s == serial => vec![
            title,
            Line::styled(
                format!("could not read: {reason}"),
                Style::new().fg(theme::BAD),
            ),
        ],
        DetailLoad::Loading { serial: s } if s == serial => vec![
            title,
            Line::styled("loading…", Style::new().fg(theme::WARN)),
        ],
        _ => vec![title, Line::styled("not read (r reads it)", theme::dim())],
    }
}

fn fields(app: &App, d: &DeviceDetail, deployment: &DeploymentLoad) -> Vec<Line<'static>> {
    let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    let ago = |t: chrono::DateTime<chrono::Utc>| {
        format!(
            "{} ({} ago)",
            t.format("%Y-%m-%d %H:%M UTC"),
            short_duration(app.now - t)
        )
    };
    let actions = if d.pending_actions.is_empty() {
        "none".to_string()
    } else {
        d.pending_actions
            .iter()
            .map(|a| {
                let since = a
                    .started
                    .map(|t| format!(" {} ago", short_duration(app.now - t)))
                    .unwrap_or_default();
                format!("{} {}{since}", a.action, graph_name(&a.state))
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let identifier = d.corporate_identifier.as_ref().map_or_else(
        || "none registered".to_string(),
        |c| {
            format!(
                "{} ({})",
                c.identifier,
                c.enrollment_state
                    .map_or("?", crate::graph::models::EnrollmentState::as_graph)
            )
        },
    );
    let deployment = match deployment {
        DeploymentLoad::Loading => "loading… (report export)".to_string(),
        DeploymentLoad::Failed(e) => format!("could not read: {e}"),
        DeploymentLoad::Ready(None) => "no deployment row".to_string(),
        DeploymentLoad::Ready(Some(x)) => format!(
            "{} (status {}, phase {}, result {})",
            x.status, x.status_code, x.phase, x.result_code
        ),
    };
    [
        ("OS", format!("{} {}", d.operating_system, d.os_version)),
        ("Last sync", d.last_sync.map_or_else(|| "never".into(), ago)),
        (
            "Compliance",
            d.compliance
                .map_or("—", crate::graph::models::ComplianceState::as_graph)
                .into(),
        ),
        ("Primary user", o(&d.primary_user)),
        ("Enrolled by", o(&d.enrolled_by)),
        ("Enrollment profile", o(&d.enrollment_profile)),
        ("Join type", graph_name(&d.join_type)),
        ("Management state", graph_name(&d.management_state)),
        ("Actions", actions),
        ("Identifier", identifier),
        ("Deployment", deployment),
    ]
    .into_iter()
    .map(|(k, v)| {
        Line::from(vec![
            Span::styled(format!("{k:<19}"), theme::dim()),
            Span::raw(v),
        ])
    })
    .collect()
}

/// Graph's spelling of an enum value (`azureADJoined`), or "—".
fn graph_name<T: serde::Serialize>(v: &Option<T>) -> String {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "—".into())
}
