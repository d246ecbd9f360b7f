//! One async task per pane. Each talks to Graph and reports to the app as plain `Msg`s; none of
//! them touches the app's state.

pub mod conn;
pub mod devices;
pub mod intake;
pub mod review;
pub mod status;
