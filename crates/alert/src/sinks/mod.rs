//! Delivery channels. Each module renders a [`Notification`](crate::Notification)
//! in its receiver's format and sends it.
